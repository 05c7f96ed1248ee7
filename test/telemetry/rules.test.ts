import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { createRuntimeMetrics } from '../../telemetry/runtime-metrics.js';
import { createFleetMetrics, setRollout } from '../../telemetry/fleet-metrics.js';
import { OtaMetrics } from '../../ota/metrics.js';
import { makeTempDir } from '../helpers/temp.js';

const RULES_DIR = join(REPO_ROOT, 'telemetry/prometheus');
const RULES = join(RULES_DIR, 'sidewalk.rules.yml');
const RULES_TEST = join(RULES_DIR, 'sidewalk.rules.test.yml');

function promtool(args: string[], cwd = RULES_DIR): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('promtool check rules accepts the rules file', () => {
  const r = promtool(['check', 'rules', RULES]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS: 17 rules found/);
});

test('promtool check config accepts the fleet Prometheus config and the rules it loads', () => {
  const r = promtool(['check', 'config', join(RULES_DIR, 'fleet.yml')]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS: 17 rules found/);
});

test('promtool test rules: every alert fires for the misbehaving device or rollout and not for the healthy one', () => {
  const r = promtool(['test', 'rules', RULES_TEST]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS/);
  // Every alert of the rules file is exercised by the unit tests.
  return readFile(RULES, 'utf8').then(async (rules) => {
    const tests = await readFile(RULES_TEST, 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    assert.equal(alerts.length, 10);
    for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n[\\s\\S]*?exp_labels`), `${a} is never expected to fire`);
  });
});

test('an offline rule written as up == 0 fails the unit tests (absence is what they check)', async () => {
  const dir = await makeTempDir('rules-');
  try {
    const rules = await readFile(RULES, 'utf8');
    const naive = rules.replace(/(- alert: SidewalkDeviceOffline\n\s+expr: )\|[\s\S]*?(\n\s+for: 5m)/, '$1max by (device, location) (up{job="sidewalk-runtime"}) == 0$2');
    assert.notEqual(naive, rules);
    await writeFile(join(dir, 'sidewalk.rules.yml'), naive);
    await copyFile(RULES_TEST, join(dir, 'sidewalk.rules.test.yml'));
    const r = promtool(['test', 'rules', 'sidewalk.rules.test.yml'], dir);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /alertname: SidewalkDeviceOffline/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every sidewalk_* metric the rules use is exported by the runtime, the updater or the fleet tool, and those pass promtool check metrics', async () => {
  const runtime = createRuntimeMetrics({ defaultMetrics: false });
  const updater = new OtaMetrics(async () => ({ state: 'idle', last: { id: '1000', kind: 'model', artifactName: 'model-2', result: 'failure', error: 'verify: health check failed', atMs: 61_000 } }));
  const fleet = createFleetMetrics();
  fleet.deviceInfo.set({ device: 'scooter-1', location: 'LA' }, 1);
  setRollout(fleet, { rollout: 'r1', location: 'LA', artifact: 'app-1.2.0', status: 'paused', stepPercent: 25, devices: { targeted: 4, failed: 1 } });
  setRollout(fleet, { rollout: 'r1', location: 'LA', artifact: 'app-1.2.0', status: 'aborted', stepPercent: 25, devices: { targeted: 4, failed: 2 } });
  const fleetText = await fleet.registry.metrics();
  assert.match(fleetText, /sidewalk_rollout_info\{rollout="r1",location="LA",artifact="app-1.2.0",status="aborted"\} 1/);
  assert.doesNotMatch(fleetText, /status="paused"/);
  assert.match(fleetText, /sidewalk_rollout_devices\{rollout="r1",location="LA",state="timed_out"\} 0/);
  for (const text of [fleetText, await runtime.registry.metrics(), await updater.registry.metrics()]) {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  }
  const exported = new Set([...(await runtime.registry.getMetricsAsJSON()), ...(await fleet.registry.getMetricsAsJSON()), ...(await updater.registry.getMetricsAsJSON())].map((m) => m.name));
  const used = new Set([...(await readFile(RULES, 'utf8')).matchAll(/(?<![:\w])(sidewalk_[a-z_]+)/g)].map((m) => m[1]!.replace(/_bucket$/, '')));
  assert.ok(used.size >= 9);
  for (const name of used) assert.ok(exported.has(name), `rules use ${name}, which nothing exports`);
});
