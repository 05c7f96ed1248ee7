/**
 * Rollouts judged on health metrics: simulated device agents on a real TLS Mosquitto install through
 * desired state; each device's runtime metrics (the runtime's real metrics module) follow the model
 * it runs and are remote-written by a real Prometheus agent to a real fleet Prometheus (the shipped
 * fleet.yml), which the fleet controller queries over its HTTP API. The fleet Prometheus also scrapes
 * the fleet tool's own /metrics (what `sidewalk fleet watch` serves).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FleetController } from '../../../host-tools/fleet/controller.js';
import { DEFAULT_HEALTH_POLICY } from '../../../host-tools/fleet/health.js';
import { FleetToolMetrics } from '../../../host-tools/fleet/metrics.js';
import { PrometheusClient, type PrometheusApi } from '../../../host-tools/fleet/prometheus.js';
import { publishArtifact } from '../../../host-tools/fleet/publish.js';
import type { RolloutPlan } from '../../../host-tools/fleet/store.js';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { cohortOf } from '../../../telemetry/fleet/cohort.js';
import { createRuntimeMetrics, serveMetrics, type MetricsServer, type RuntimeMetrics } from '../../../telemetry/runtime-metrics.js';
import { freePort } from '../../helpers/service-process.js';
import { query, removePrometheusFiles, startPrometheus, waitUntil, type PrometheusProcess } from '../prometheus-process.js';
import { serverConfig } from '../simulated-fleet.js';
import { simAgent, type SimAgent } from '../../../telemetry/fleet/sim/agents.js';
import { modelArtifacts, type Artifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';
import { artifactHost } from '../../../telemetry/fleet/sim/node-host.js';

/** Four devices inside a 50 % step and four outside it, by their stable cohorts. */
function pickDevices(prefix: string): string[] {
  const inside: string[] = [];
  const outside: string[] = [];
  for (let i = 0; inside.length < 4 || outside.length < 4; i++) {
    const id = `${prefix}-${i}`;
    const list = cohortOf(id) < 50 ? inside : outside;
    if (list.length < 4) list.push(id);
  }
  return [...inside, ...outside];
}
const LA = pickDevices('hl');
const DENVER = pickDevices('hd');
/** A location rolled out to at once (a single 100 % step): no rest to compare with. */
const NIWOT = ['hn-0', 'hn-1', 'hn-2', 'hn-3'];
/** The model version whose devices keep falling into the fail-safe. */
const BAD_MODEL = '1.3.0';

interface Device {
  agent: SimAgent;
  metrics: RuntimeMetrics;
  server: MetricsServer;
}

let root: string;
let broker: SimBroker;
let host: Awaited<ReturnType<typeof artifactHost>>;
let artifacts: Artifacts;
let fleetServer: PrometheusProcess;
let deviceAgent: PrometheusProcess;
let fleetToolServer: MetricsServer;
const fleetTool = new FleetToolMetrics();
let ctl: FleetController;
/** The controller's view of Prometheus; `down` points it at a port where nothing listens. */
const prom = { down: false, real: null as PrometheusClient | null, dead: null as PrometheusClient | null };
const devices = new Map<string, Device>();
let ticker: NodeJS.Timeout;

/** What the runtime records per frame; a device running the bad model falls into the fail-safe every frame. */
function frame(d: Device): void {
  const m = d.metrics;
  m.framesTotal.inc();
  m.inferenceSeconds.observe(0.02);
  m.classConfidence.set({ class: 'side' }, 0.9);
  m.classConfidence.set({ class: 'road' }, 0.1);
  if (d.agent.backend.installed.model === BAD_MODEL) m.failSafeActivationsTotal.inc();
}

/** One agent process scraping every simulated device, each target labelled as its own agent would (external labels). */
function agentConfig(remoteWrite: string): string {
  const targets = [...devices.entries()].map(([id, d]) => ({ id, location: d.agent.location, target: new URL(d.server.url).host }));
  return [
    'global: { scrape_interval: 1s, scrape_timeout: 1s }',
    'scrape_configs:',
    '  - job_name: sidewalk-runtime',
    '    static_configs:',
    ...targets.map((t) => `      - { targets: ["${t.target}"], labels: { device: "${t.id}", location: "${t.location}" } }`),
    'remote_write:',
    `  - url: "${remoteWrite}"`,
    '    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s }',
    '',
  ].join('\n');
}

const plan = (o: Partial<RolloutPlan>): RolloutPlan => ({
  steps: [50, 100],
  min_finished: 4,
  soak_s: 3600,
  max_failure_percent: 20,
  min_devices_before_decision: 4,
  in_progress_timeout_s: 3600,
  auto_advance: true,
  health: { ...DEFAULT_HEALTH_POLICY, window_s: 20, min_devices: 3 },
  ...o,
});

before(async () => {
  root = await tempDir('sidewalk-fleet-health-');
  const all = [...LA.map((id) => ({ id, location: 'LA' })), ...DENVER.map((id) => ({ id, location: 'denver' })), ...NIWOT.map((id) => ({ id, location: 'niwot' }))];
  broker = await startBroker(all);
  host = await artifactHost(join(root, 'www'));
  artifacts = await modelArtifacts(root);
  fleetToolServer = await serveMetrics(fleetTool.metrics.registry, { host: '127.0.0.1', port: 0 });
  fleetServer = await startPrometheus({ config: await serverConfig(new URL(fleetToolServer.url).host), agent: false });
  for (const d of all) {
    const metrics = createRuntimeMetrics({ defaultMetrics: false });
    devices.set(d.id, { agent: await simAgent(broker, join(root, 'devices'), d.id, d.location), metrics, server: await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 }) });
  }
  ticker = setInterval(() => {
    for (const d of devices.values()) frame(d);
  }, 100);
  deviceAgent = await startPrometheus({ config: agentConfig(`${fleetServer.url}/api/v1/write`), agent: true });
  prom.real = new PrometheusClient(fleetServer.url);
  prom.dead = new PrometheusClient(`http://127.0.0.1:${await freePort()}`, { timeoutMs: 2000 });
  const api: PrometheusApi = { url: fleetServer.url, instant: (q) => (prom.down ? prom.dead! : prom.real!).instant(q) };
  ctl = await FleetController.open({ broker: { ...(await broker.tls(FLEET_TOOL_USER)), client_id: 'fleet-tool' }, dbPath: join(root, 'fleet.db'), prometheus: api });
  await waitFor('every device reported', () => ctl.store.devices().filter((d) => d.online && d.reported).length === all.length);
  await waitUntil('every device remote-written', 30_000, async () => (await query(fleetServer.url, 'sidewalk_frames_total')).length === all.length);
});

after(async () => {
  clearInterval(ticker);
  await Promise.all(
    [...devices.values()].map(async (d) => {
      await d.agent.agent.stop().catch(() => {});
      await d.server.close();
    }),
  );
  await ctl?.close();
  for (const p of [deviceAgent, fleetServer]) {
    if (!p) continue;
    await p.stop();
    await removePrometheusFiles(p);
  }
  await fleetToolServer?.close();
  await host?.close();
  if (broker) await removeBroker(broker);
  await rm(root, { recursive: true, force: true });
});

describe('rollouts judged on health metrics from the fleet Prometheus', () => {
  test('a cohort whose fail-safe rate rises aborts, its devices roll back, and the fleet tool exports the abort', async () => {
    const la = LA.map((id) => devices.get(id)!);
    const cohort = la.filter((d) => d.agent.agent.cohort < 50);
    // Only the fail-safe check judges this cohort: a p95 from a few histogram samples can swing under load.
    const r = await ctl.deploy({
      location: 'LA',
      artifact: await publishArtifact(await artifacts.signed(BAD_MODEL), join(root, 'www'), host.base),
      plan: plan({ health: { ...DEFAULT_HEALTH_POLICY, window_s: 20, min_devices: 3, max_inference_p95_increase_ms: null, max_confidence_drop: null, max_restart_increase_per_hour: null } }),
    });
    // Every install succeeds (no failure rate to abort on): only the metrics tell.
    await waitFor('the cohort installed', () => ctl.status(r.id).counts.succeeded === cohort.length);
    const actions = await waitUntil('the policy to abort on health', 60_000, async () => {
      const done = await ctl.tick();
      return done.length > 0 ? done : null;
    });
    assert.equal(actions.length, 1);
    // A device whose last scrapes are still on their way has no value in the window yet: 3 of 4 is enough (min_devices 3).
    assert.match(actions[0]!, /aborted \(health: fail-safe activations \S+\/h in the cohort \([34] devices\) vs 0\/h in the rest \([34]\): over by more than 1\/h\)/);
    const aborted = ctl.store.rollout(r.id);
    assert.deepEqual([aborted.state, aborted.desired.mode, aborted.step], ['aborted', 'rollback', 0]);
    await waitFor('the cohort rolled back', () => cohort.every((d) => d.agent.backend.installed.model === '1.0.0'));
    for (const d of la) assert.deepEqual(d.agent.backend.history, cohort.includes(d) ? [`install model ${BAD_MODEL}`, 'rollback model'] : [], d.agent.id);
    await waitFor('the fleet tool heard of the rollbacks', () => ctl.status(r.id).counts.succeeded === 0);
    // The fleet tool's /metrics, scraped by the fleet Prometheus with the shipped fleet.yml.
    fleetTool.refresh(ctl.store, Date.now());
    const info = await waitUntil('the aborted rollout in the fleet Prometheus', 20_000, async () => {
      const s = await query(fleetServer.url, 'sidewalk_rollout_info{job="sidewalk-fleet"}');
      return s.length === 1 ? s : null;
    });
    assert.deepEqual([info[0]!.metric.rollout, info[0]!.metric.location, info[0]!.metric.status], [r.id, 'LA', 'aborted']);
    const succeeded = await query(fleetServer.url, `sidewalk_rollout_devices{rollout="${r.id}",state="succeeded"}`);
    assert.equal(Number(succeeded[0]!.value[1]), 0, 'rolled back devices no longer count as succeeded');
    const inventory = await query(fleetServer.url, 'count by (location) (sidewalk_fleet_device_info)');
    assert.deepEqual(Object.fromEntries(inventory.map((s) => [s.metric.location, Number(s.value[1])])), { LA: 8, denver: 8, niwot: 4 });
  });

  test('equal metrics do not abort; while Prometheus is unreachable the step neither aborts nor advances', async () => {
    const dn = DENVER.map((id) => devices.get(id)!);
    const cohort = dn.filter((d) => d.agent.agent.cohort < 50);
    prom.down = true;
    const r = await ctl.deploy({ location: 'denver', artifact: await publishArtifact(await artifacts.signed('1.2.0'), join(root, 'www'), host.base), plan: plan({ soak_s: 0 }) });
    await waitFor('the cohort installed', () => ctl.status(r.id).counts.succeeded === cohort.length);
    assert.equal(ctl.status(r.id).decision.action, 'advance', 'failure rates and soak allow the next step');
    assert.deepEqual(await ctl.tick(), [], 'no abort and no advance without health data');
    const unknown = (await ctl.health(r.id))!;
    assert.equal(unknown.state, 'unknown');
    assert.match(unknown.reason, /FLEET_PROMETHEUS_UNREACHABLE/);
    assert.deepEqual([ctl.store.rollout(r.id).state, ctl.store.rollout(r.id).step], ['active', 0]);
    prom.down = false;
    const ok = await waitUntil('health known', 30_000, async () => {
      const h = (await ctl.health(r.id))!;
      return h.state !== 'unknown' ? h : null;
    });
    assert.equal(ok.state, 'ok', ok.reason);
    assert.deepEqual(
      ok.checks.map((c) => [c.check, c.cohort!.devices, c.rest!.devices]),
      [
        ['fail-safe activations', 4, 4],
        ['inference p95', 4, 4],
        ['mean confidence', 4, 4],
        ['restarts', 4, 4],
      ],
    );
    assert.deepEqual(await ctl.tick(), [`${r.id}: advanced to 100%`]);
    await waitFor('every device installed', () => dn.every((d) => d.agent.backend.installed.model === '1.2.0'));
  });

  test('a single 100 % step is judged against its own devices before the step, and aborts on a rising fail-safe rate', async () => {
    const nw = NIWOT.map((id) => devices.get(id)!);
    const policy = { ...DEFAULT_HEALTH_POLICY, window_s: 20, min_devices: 3, max_inference_p95_increase_ms: null, max_confidence_drop: null, max_restart_increase_per_hour: null };
    const r = await ctl.deploy({ location: 'niwot', artifact: await publishArtifact(await artifacts.signed(BAD_MODEL), join(root, 'www'), host.base), plan: plan({ steps: [100], health: policy }) });
    await waitFor('every device installed', () => ctl.status(r.id).counts.succeeded === NIWOT.length);
    const decision = ctl.status(r.id).decision;
    assert.equal(decision.action, 'wait', 'the last step does not complete while its health is watched');
    assert.match(decision.action === 'wait' ? decision.reason : '', /soaking for another \d+ s under health checks/);
    const actions = await waitUntil('the policy to abort on health', 60_000, async () => {
      // Denver's rollout from the test before completes on the first tick; only this one counts here.
      const done = (await ctl.tick()).filter((a) => a.startsWith(r.id));
      return done.length > 0 ? done : null;
    });
    assert.match(actions[0]!, /aborted \(health: fail-safe activations \S+\/h in the cohort \([34] devices\) vs 0\/h in the same devices before the step \([34]\): over by more than 1\/h\)/);
    await waitFor('the devices rolled back', () => nw.every((d) => d.agent.backend.installed.model === '1.0.0'));
  });
});
