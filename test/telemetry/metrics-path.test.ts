import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DASHBOARD_DIR } from '../../telemetry/grafana/generate.js';
import { dashboardTargets, substitute, type DashboardJson } from './dashboard-queries.js';
import { query, waitUntil } from './prometheus-process.js';
import { startSimulatedFleet, type SimulatedFleet, type SimDeviceSpec } from './simulated-fleet.js';

export const FLEET: SimDeviceSpec[] = [
  { id: 'scooter-la-1', location: 'LA', appVersion: '1.2.0', model: 'LA-7', inferenceSeconds: 0.02 },
  { id: 'scooter-la-2', location: 'LA', appVersion: '1.3.0', model: 'LA-8', inferenceSeconds: 0.03, cameraRestarts: true },
  { id: 'scooter-den-1', location: 'Denver', appVersion: '1.2.0', model: 'LA-7', inferenceSeconds: 0.2, failSafe: true, updaterDown: true },
];

describe('metrics path: device agents remote_write to the fleet Prometheus', () => {
  let fleet: SimulatedFleet;
  before(async () => {
    fleet = await startSimulatedFleet(FLEET);
  });
  after(async () => {
    await fleet?.stop();
  });

  test('every device series arrives with its device and location labels', async () => {
    const up = await waitUntil('runtime scrapes from every device', 30000, async () => {
      const r = await query(fleet.server.url, 'up{job="sidewalk-runtime"} == 1');
      return r.length === FLEET.length ? r : null;
    });
    assert.deepEqual(up.map((s) => [s.metric.device, s.metric.location]).sort(), FLEET.map((d) => [d.id, d.location]).sort());
    // The agent's external labels are on the runtime's own series, and the values are the device's.
    const frames = await waitUntil('frame counters', 20000, async () => {
      const r = await query(fleet.server.url, 'sidewalk_frames_total');
      return r.length === FLEET.length ? r : null;
    });
    for (const s of frames) assert.ok(Number(s.value[1]) > 0, JSON.stringify(s));
    const failSafe = await query(fleet.server.url, 'sidewalk_fail_safe_active == 1');
    assert.deepEqual(
      failSafe.map((s) => s.metric.device),
      ['scooter-den-1'],
    );
    const apps = await query(fleet.server.url, 'sidewalk_app_info{version="1.3.0"}');
    assert.deepEqual(
      apps.map((s) => [s.metric.device, s.metric.location]),
      [['scooter-la-2', 'LA']],
    );
    // A Denver scooter trying an LA model: the device's location stays Denver, the model's is kept apart.
    const models = await query(fleet.server.url, 'sidewalk_model_info{device="scooter-den-1"}');
    assert.deepEqual([models.length, models[0]?.metric.location, models[0]?.metric.model_location], [1, 'Denver', 'LA']);
    // The updater daemon's metrics arrive from the devices that serve them; a down updater is reported too.
    const updaterUp = async (v: number) => (await query(fleet.server.url, `up{job="sidewalk-updater"} == ${v}`)).map((s) => s.metric.device).sort();
    await waitUntil('updater scrapes from every device', 20000, async () => (await updaterUp(1)).length + (await updaterUp(0)).length === FLEET.length);
    assert.deepEqual(await updaterUp(1), ['scooter-la-1', 'scooter-la-2']);
    assert.deepEqual(await updaterUp(0), ['scooter-den-1']);
    const ota = await waitUntil('OTA state series', 20000, async () => {
      const r = await query(fleet.server.url, 'sidewalk_ota_state{state="idle"} == 1');
      return r.length === 2 ? r : null;
    });
    assert.deepEqual(ota.map((s) => [s.metric.device, s.metric.location, s.metric.job]).sort(), [
      ['scooter-la-1', 'LA', 'sidewalk-updater'],
      ['scooter-la-2', 'LA', 'sidewalk-updater'],
    ]);
    // The fleet server evaluates the shipped recording rules over the remote-written data.
    const online = await waitUntil('recording rule location:sidewalk_devices_online:count', 20000, async () => {
      const r = await query(fleet.server.url, 'location:sidewalk_devices_online:count');
      return r.length === 2 ? r : null;
    });
    assert.deepEqual(Object.fromEntries(online.map((s) => [s.metric.location, Number(s.value[1])])), { LA: 2, Denver: 1 });
  });

  test('every dashboard panel query returns series from the remote-written fleet data', async () => {
    const load = async (file: string) => JSON.parse(await readFile(join(DASHBOARD_DIR, file), 'utf8')) as DashboardJson;
    const fleetBoard = await load('sidewalk-fleet.json');
    const deviceBoard = await load('sidewalk-device.json');
    // The variables' own queries (label_values) list what the fleet holds.
    const labelValues = async (label: string, match: string) => {
      const res = await fetch(`${fleet.server.url}/api/v1/label/${label}/values?${new URLSearchParams({ 'match[]': match })}`);
      return ((await res.json()) as { data: string[] }).data.sort();
    };
    assert.deepEqual(await labelValues('location', 'sidewalk_fleet_device_info'), ['Denver', 'LA']);
    assert.deepEqual(await labelValues('device', 'up{job="sidewalk-runtime"}'), FLEET.map((d) => d.id).sort());
    // The updater panels (sidewalk_ota_* series) have data only where an updater is up: Denver's one
    // scooter has its updater down, so there they must show nothing rather than something wrong.
    const updaterUp = (location: string, device?: string) => FLEET.some((d) => !d.updaterDown && (device ? d.id === device : new RegExp(`^(${location})$`).test(d.location)));
    const cases = [
      ...['.+', 'LA', 'Denver'].flatMap((location) =>
        dashboardTargets(fleetBoard).map((t) => ({ ...t, expr: substitute(t.expr, { location }), expectData: !t.expr.includes('sidewalk_ota_') || updaterUp(location) })),
      ),
      ...FLEET.flatMap((d) => dashboardTargets(deviceBoard).map((t) => ({ ...t, expr: substitute(t.expr, { device: d.id }), expectData: !t.expr.includes('sidewalk_ota_') || updaterUp('', d.id) }))),
    ];
    assert.ok(cases.length > 50, `${cases.length} queries`);
    assert.ok(cases.filter((c) => !c.expectData).length >= 6, 'the updater panels of the Denver scooter and location');
    let wrong: string[] = [];
    await waitUntil('every panel query to return series (none for a down updater)', 30000, async () => {
      wrong = [];
      for (const c of cases)
        if ((await query(fleet.server.url, c.expr)).length > 0 !== c.expectData) wrong.push(`${c.panel} (${c.expectData ? 'no series' : 'series from a down updater'}): ${c.expr}`);
      return wrong.length === 0;
    }).catch(() => assert.fail(`panel queries:\n${wrong.join('\n')}`));
    // Values, not just presence: the per-device model panel shows the device's own model.
    const model = dashboardTargets(deviceBoard).find((t) => t.panel === 'Model')!;
    const r = await query(fleet.server.url, substitute(model.expr, { device: 'scooter-la-2' }));
    assert.equal(r[0]!.metric.name, 'LA-8');
    const offline = dashboardTargets(fleetBoard).find((t) => t.panel === 'Offline')!;
    assert.equal((await query(fleet.server.url, substitute(offline.expr, { location: '.+' })))[0]!.value[1], '0');
  });

  test("while the fleet is unreachable the agent's WAL keeps the samples and sends them afterwards", async () => {
    const device = fleet.devices[0]!;
    await fleet.stopServer();
    // A value that exists only while the server is down: it can reach the server only from the WAL.
    device.metrics.speedKph.set(77.5);
    const scrapesBefore = Date.now();
    await waitUntil('the agent to scrape during the outage', 10000, async () => Date.now() - scrapesBefore > 3000);
    device.metrics.speedKph.set(12);
    await fleet.restartServer();
    const seen = await waitUntil('the outage sample to arrive', 30000, async () => {
      const r = await query(fleet.server.url, `max_over_time(sidewalk_speed_kph{device="${device.spec.id}"}[5m])`);
      return r.length === 1 && Number(r[0]!.value[1]) === 77.5 ? r : null;
    });
    assert.equal(seen[0]!.metric.location, 'LA');
  });
});
