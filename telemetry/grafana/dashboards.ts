/**
 * Grafana dashboards as code (@grafana/grafana-foundation-sdk builders, checked by tsc): the fleet
 * overview and the per-device dashboard. `npm run dashboards` (telemetry/grafana/generate.ts) writes
 * them as JSON to telemetry/grafana/dashboards/, which Grafana loads through
 * telemetry/grafana/provisioning/. Queries use the series the device agents remote_write (labels
 * device, location) and the fleet tool's (telemetry/fleet-metrics.ts), and the recording rules of
 * telemetry/prometheus/sidewalk.rules.yml.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';

/** Every panel and query uses the dashboard's datasource variable, so one file fits any Prometheus. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, substituted by Grafana.
const DS = { type: 'prometheus', uid: '${datasource}' };
const LOC = 'location=~"$location"';

function target(expr: string, legend: string, refId = 'A'): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().datasource(DS).expr(expr).legendFormat(legend).refId(refId);
}

function graph(title: string, description: string, unit: string, targets: prometheus.DataqueryBuilder[], span = 12): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder().title(title).description(description).unit(unit).datasource(DS).height(8).span(span);
  for (const t of targets) p.withTarget(t);
  return p;
}

function single(title: string, description: string, unit: string, t: prometheus.DataqueryBuilder, span = 4): stat.PanelBuilder {
  return new stat.PanelBuilder().title(title).description(description).unit(unit).datasource(DS).height(4).span(span).withTarget(t);
}

/** A stat that shows its series' legend (a label such as the updater state) instead of the value. */
function label(title: string, description: string, t: prometheus.DataqueryBuilder, span = 4): stat.PanelBuilder {
  return single(title, description, 'none', t, span).textMode(common.BigValueTextMode.Name);
}

function instantTable(title: string, description: string, t: prometheus.DataqueryBuilder, span = 12): table.PanelBuilder {
  return new table.PanelBuilder().title(title).description(description).unit('none').datasource(DS).height(8).span(span).withTarget(t.instant().format(prometheus.PromQueryFormat.Table));
}

function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus');
}

function labelVariable(name: string, query: string, multi: boolean): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder(name).label(name).datasource(DS).query(query).refresh(dashboard.VariableRefresh.OnTimeRangeChanged).sort(dashboard.VariableSort.AlphabeticalAsc);
  return multi ? v.multi(true).includeAll(true).allValue('.+') : v;
}

function base(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title).uid(uid).description(description).tags(['sidewalk']).editable().time({ from: 'now-6h', to: 'now' }).refresh('1m').timezone('browser');
}

export function fleetOverview(): dashboard.DashboardBuilder {
  const rate = (metric: string) => `60 * sum by (location) (rate(${metric}{${LOC}}[$__rate_interval]))`;
  return base('sidewalk-fleet', 'Sidewalk Guard: fleet', 'Every scooter by location: online, versions, rollouts, fail-safe and limit activity, latency.')
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('location', 'label_values(sidewalk_fleet_device_info, location)', true))
    .withRow(new dashboard.RowBuilder('Devices'))
    .withPanel(single('Online', 'Devices whose agent delivered samples in the last 5 minutes.', 'none', target(`sum(location:sidewalk_devices_online:count{${LOC}})`, 'online')))
    .withPanel(
      single(
        'Offline',
        'Devices in the fleet inventory with no fresh samples (offline by absence).',
        'none',
        target(`count(group by (device) (sidewalk_fleet_device_info{${LOC}}) unless on (device) group by (device) (up{job="sidewalk-runtime"})) or vector(0)`, 'offline'),
      ),
    )
    .withPanel(single('In fail-safe now', 'Devices whose limiter holds the fail-safe limit.', 'none', target(`sum(sidewalk_fail_safe_active{${LOC}})`, 'fail-safe')))
    .withPanel(single('Runtime down', 'Devices whose agent reports but cannot scrape the runtime.', 'none', target(`count(up{job="sidewalk-runtime",${LOC}} == 0) or vector(0)`, 'down')))
    .withPanel(graph('Online by location', 'Devices with fresh samples, per location.', 'none', [target(`location:sidewalk_devices_online:count{${LOC}}`, '{{location}}')], 8))
    .withPanel(instantTable('App versions', 'Devices per running app version.', target(`count by (location, version) (sidewalk_app_info{${LOC}})`, '{{location}} {{version}}')))
    .withPanel(instantTable('Model versions', 'Devices per loaded model.', target(`count by (location, name, version) (sidewalk_model_info{${LOC}})`, '{{location}} {{name}} {{version}}')))
    .withRow(new dashboard.RowBuilder('Rollouts'))
    .withPanel(
      new bargauge.PanelBuilder()
        .title('Rollout devices by state')
        .description("Per rollout: the step's cohort and how many devices succeeded, failed, are in progress or timed out.")
        .unit('none')
        .datasource(DS)
        .height(8)
        .span(12)
        .withTarget(target(`sum by (rollout, location, state) (sidewalk_rollout_devices{${LOC}})`, '{{rollout}} {{state}}')),
    )
    .withPanel(
      instantTable(
        'Rollouts',
        'Every rollout with its artifact, status and current step (%).',
        target(`sidewalk_rollout_step_percent{${LOC}} * on (rollout, location) group_left (artifact, status) sidewalk_rollout_info{${LOC}}`, '{{rollout}}'),
      ),
    )
    .withRow(new dashboard.RowBuilder('Safety'))
    .withPanel(graph('Fail-safe activations', 'Fail-safe engagements per minute, per location.', 'none', [target(rate('sidewalk_fail_safe_activations_total'), '{{location}}')], 8))
    .withPanel(graph('Limit engagements', 'Sidewalk limit engagements per minute, per location.', 'none', [target(rate('sidewalk_limit_activations_total'), '{{location}}')], 8))
    .withPanel(graph('Limiter errors', 'Failed speed limiter commands per minute, per location.', 'none', [target(rate('sidewalk_limiter_errors_total'), '{{location}}')], 8))
    .withRow(new dashboard.RowBuilder('Updates'))
    .withPanel(
      graph(
        'Updates by result',
        "Updates the scooters' updaters finished per minute, per location and result.",
        'none',
        [target(`60 * sum by (location, result) (rate(sidewalk_ota_updates_total{${LOC}}[$__rate_interval]))`, '{{location}} {{result}}')],
        8,
      ),
    )
    .withPanel(
      graph('Rollbacks', 'Updates rolled back per minute (install, health window, trial boot or command), per location.', 'none', [target(rate('sidewalk_ota_rollbacks_total'), '{{location}}')], 8),
    )
    .withPanel(
      instantTable('Updater states', 'Devices per updater journal state (idle between updates).', target(`count by (location, state) (sidewalk_ota_state{${LOC}} == 1)`, '{{location}} {{state}}'), 8),
    )
    .withRow(new dashboard.RowBuilder('Latency'))
    .withPanel(
      graph('Inference p95', 'TFLite invoke time, 95th percentile over 5 minutes, per location.', 's', [target(`location:sidewalk_inference_duration_seconds:p95_5m{${LOC}}`, '{{location}}')]),
    )
    .withPanel(
      graph('Frame to actuation p95', 'From frame capture to the limiter command it caused, 95th percentile.', 's', [
        target(`histogram_quantile(0.95, sum by (location, le) (rate(sidewalk_frame_to_actuation_seconds_bucket{${LOC}}[$__rate_interval])))`, '{{location}}'),
      ]),
    );
}

export function deviceDashboard(): dashboard.DashboardBuilder {
  const DEV = 'device="$device"';
  const quantile = (q: number, metric: string) => `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket{${DEV}}[$__rate_interval])))`;
  return base('sidewalk-device', 'Sidewalk Guard: device', 'One scooter: health, versions, decisions, latency, camera and limiter.')
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('device', 'label_values(up{job="sidewalk-runtime"}, device)', false))
    .withRow(new dashboard.RowBuilder('State'))
    .withPanel(single('Runtime up', 'Whether the agent could scrape the runtime (no value: the device is offline).', 'bool', target(`max(up{job="sidewalk-runtime",${DEV}})`, 'runtime')))
    .withPanel(single('Updater up', "Whether the agent could scrape the updater's /metrics.", 'bool', target(`max(up{job="sidewalk-updater",${DEV}})`, 'updater')))
    .withPanel(single('App version', 'The running app.', 'none', target(`sidewalk_app_info{${DEV}}`, '{{version}}')))
    .withPanel(single('Model', 'The loaded model.', 'none', target(`sidewalk_model_info{${DEV}}`, '{{name}} {{version}} ({{backend}})')))
    .withPanel(single('Fail-safe', '1 while the limiter holds the fail-safe limit.', 'bool', target(`sidewalk_fail_safe_active{${DEV}}`, 'fail-safe')))
    .withPanel(single('Frames per second', 'Classified frames per second.', 'none', target(`sidewalk_frames_per_second{${DEV}}`, 'fps')))
    .withRow(new dashboard.RowBuilder('Decisions'))
    .withPanel(
      graph('Speed and limit', 'Measured speed, commanded limit and the limit the decision asks for.', 'velocitykmh', [
        target(`sidewalk_speed_kph{${DEV}}`, 'speed'),
        target(`sidewalk_speed_limit_kph{${DEV}}`, 'limit', 'B'),
        target(`sidewalk_target_speed_limit_kph{${DEV}}`, 'target limit', 'C'),
      ]),
    )
    .withPanel(graph('Class confidence', 'Latest model probability per class.', 'percentunit', [target(`sidewalk_class_confidence_ratio{${DEV}}`, '{{class}}')]))
    .withPanel(
      graph('Activations', 'Limit and fail-safe engagements per minute.', 'none', [
        target(`60 * rate(sidewalk_limit_activations_total{${DEV}}[$__rate_interval])`, 'limit'),
        target(`60 * rate(sidewalk_fail_safe_activations_total{${DEV}}[$__rate_interval])`, 'fail-safe', 'B'),
      ]),
    )
    .withPanel(
      graph('Errors and restarts', 'Inference errors, limiter errors, camera restarts and dropped frames per interval.', 'none', [
        target(`increase(sidewalk_inference_errors_total{${DEV}}[$__rate_interval])`, 'inference errors'),
        target(`increase(sidewalk_limiter_errors_total{${DEV}}[$__rate_interval])`, 'limiter errors', 'B'),
        target(`increase(sidewalk_camera_restarts_total{${DEV}}[$__rate_interval])`, 'camera restarts', 'C'),
        target(`increase(sidewalk_dropped_frames_total{${DEV}}[$__rate_interval])`, 'dropped frames', 'D'),
      ]),
    )
    .withRow(new dashboard.RowBuilder('Latency'))
    .withPanel(
      graph('Inference', 'TFLite invoke time per frame: median and 95th percentile.', 's', [
        target(quantile(0.5, 'sidewalk_inference_duration_seconds'), 'p50'),
        target(quantile(0.95, 'sidewalk_inference_duration_seconds'), 'p95', 'B'),
      ]),
    )
    .withPanel(
      graph('Preprocess and frame to actuation', 'Preprocessing p95 and capture-to-limiter p95.', 's', [
        target(quantile(0.95, 'sidewalk_preprocess_duration_seconds'), 'preprocess p95'),
        target(quantile(0.95, 'sidewalk_frame_to_actuation_seconds'), 'frame to actuation p95', 'B'),
      ]),
    )
    .withRow(new dashboard.RowBuilder('Updates'))
    .withPanel(label('Updater state', "The updater journal's current state (idle between updates).", target(`sidewalk_ota_state{${DEV}} == 1`, '{{state}}')))
    .withPanel(label('Last update', 'The last finished update: kind, artifact and result.', target(`sidewalk_ota_last_result_info{${DEV}}`, '{{kind}} {{artifact}}: {{result}}'), 8))
    .withPanel(
      graph('Updates and rollbacks', 'Updates finished per interval by result, and rollbacks.', 'none', [
        target(`sum by (result) (increase(sidewalk_ota_updates_total{${DEV}}[$__rate_interval]))`, '{{result}}'),
        target(`sum(increase(sidewalk_ota_rollbacks_total{${DEV}}[$__rate_interval]))`, 'rollbacks', 'B'),
      ]),
    )
    .withPanel(graph('Update downloads', 'Artifact bytes downloaded per second.', 'Bps', [target(`rate(sidewalk_ota_download_bytes_total{${DEV}}[$__rate_interval])`, 'download')]))
    .withRow(new dashboard.RowBuilder('Runtime process'))
    .withPanel(
      graph('Runtime CPU', "The runtime process's CPU use (1 = one core).", 'percentunit', [target(`rate(process_cpu_seconds_total{job="sidewalk-runtime",${DEV}}[$__rate_interval])`, 'cpu')]),
    )
    .withPanel(
      graph('Runtime memory', "The runtime process's resident memory and V8 heap.", 'bytes', [
        target(`process_resident_memory_bytes{job="sidewalk-runtime",${DEV}}`, 'resident'),
        target(`sum(nodejs_heap_size_used_bytes{job="sidewalk-runtime",${DEV}})`, 'heap used', 'B'),
      ]),
    );
}

/** File name (under telemetry/grafana/dashboards/) -> dashboard. */
export const DASHBOARDS: Record<string, () => cog.Builder<dashboard.Dashboard>> = {
  'sidewalk-fleet.json': fleetOverview,
  'sidewalk-device.json': deviceDashboard,
};
