/**
 * `sidewalk fleet …` as an operator runs it: each command a new process against a real TLS Mosquitto
 * with simulated device agents, so rollout state must survive in fleet.db between commands; bad input
 * ends in one coded line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { FleetController } from '../../../host-tools/fleet/controller.js';
import { loadFleetConfig } from '../../../host-tools/fleet/config.js';
import { checkGates, DEFAULT_GATES } from '../../../host-tools/registry/gates.js';
import { Registry } from '../../../host-tools/registry/registry.js';
import { fixtureBundle, report } from '../registry/fixtures.js';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { loadAgentConfig } from '../../../telemetry/fleet/device/host.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { SIDEWALK_BIN, freePort } from '../../helpers/service-process.js';
import { expectCleanFailure, runSidewalk } from '../../helpers/cli-guard.js';
import { simAgent, type SimAgent } from '../../../telemetry/fleet/sim/agents.js';
import { modelArtifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';
import { artifactHost } from '../../../telemetry/fleet/sim/node-host.js';

let root: string;
let broker: SimBroker;
let host: Awaited<ReturnType<typeof artifactHost>>;
let config: string;
let signed: string;
let signingKey: string;
let unsigned: string;
const agents: SimAgent[] = [];
const DEVICES = ['cl-1', 'cl-2', 'cl-3', 'cl-4'];

async function sidewalk(...args: string[]): Promise<string> {
  const r = await runSidewalk([...args, '--config', config], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `sidewalk ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const statusOf = async (id: string) =>
  JSON.parse(await sidewalk('fleet', 'status', id, '--json')) as {
    state: string;
    step: number;
    percent: number;
    counts: { targeted: number; finished: number; succeeded: number };
    reason: string | null;
  };

before(async () => {
  root = await tempDir('sidewalk-fleet-cli-');
  broker = await startBroker(DEVICES.map((id) => ({ id, location: 'LA' })));
  host = await artifactHost(join(root, 'www'));
  const artifacts = await modelArtifacts(root);
  signed = await artifacts.signed('1.2.0');
  signingKey = artifacts.signingKeyPath;
  unsigned = await artifacts.unsigned('1.2.1');
  const tls = await broker.tls(FLEET_TOOL_USER);
  config = join(root, 'fleet.yaml');
  await writeFile(
    config,
    stringify({ broker: { url: tls.url, ca: tls.ca, cert: tls.cert, key: tls.key }, state_dir: join(root, 'registry'), artifacts: { publish_dir: join(root, 'www'), base_url: host.base } }),
  );
  for (const id of DEVICES) agents.push(await simAgent(broker, join(root, 'devices'), id, 'LA'));
  const probe = await FleetController.open({ broker: { ...tls, client_id: 'probe' }, dbPath: join(root, 'probe.db') });
  await waitFor('all devices reported', () => probe.store.devices().filter((d) => d.reported).length === DEVICES.length);
  await probe.close();
});

after(async () => {
  await Promise.all(agents.map((a) => a.agent.stop().catch(() => {})));
  await host?.close();
  if (broker) await removeBroker(broker);
  await rm(root, { recursive: true, force: true });
});

describe('sidewalk fleet', () => {
  test('devices, deploy with a plan, status, advance, pause, resume and abort, state kept between processes', async () => {
    const devices = JSON.parse(await sidewalk('fleet', 'devices', '--json')) as { id: string; online: boolean; location: string; versions: { model: string } }[];
    assert.deepEqual(
      devices.map((d) => [d.id, d.online, d.location, d.versions.model]),
      DEVICES.map((id) => [id, true, 'LA', '1.0.0']),
    );
    assert.match(await sidewalk('fleet', 'devices'), /^cl-1 +online +LA +1\.0 +1\.0\.0 +1\.0\.0 +idle/m);

    const plan = join(root, 'plan.yaml');
    await writeFile(plan, stringify({ steps: [50, 100], min_finished: 1, soak_s: 0, max_failure_percent: 50, min_devices_before_decision: 2 }));
    const out = await sidewalk('fleet', 'deploy', signed, '--location', 'LA', '--plan', plan);
    const id = /^(\S+): model 1\.2\.0 to 50% of LA \(http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{64}\/model-1\.2\.0-signed\.mender\)$/m.exec(out)?.[1];
    assert.ok(id, out);
    const cohort = agents.filter((a) => a.agent.cohort < 50);
    // Wait on the devices in this process (polling the CLI costs a process per look), then ask the CLI.
    const settled = async (list: SimAgent[]) => {
      await waitFor('devices committed', () => list.every((a) => a.agent.rollout?.rollout_id === id && a.agent.rollout.outcome === 'succeeded'), 60_000);
      await Promise.all(list.map((a) => a.agent.idle()));
    };
    await settled(cohort);
    assert.match(await sidewalk('fleet', 'status'), /step 1 \(50%\): targeted \d+, succeeded \d+, failed 0, rejected 0, in progress 0, timed out 0, pending 0\n {2}next: advance/);
    assert.equal(await sidewalk('fleet', 'pause', id), `${id}: paused\n`);
    assert.equal((await statusOf(id)).state, 'paused');
    await expectCleanFailure({ name: 'advance a paused rollout', args: ['fleet', 'advance', id, '--config', config], code: 'FLEET_ROLLOUT_STATE', timeoutMs: 30_000 });
    assert.equal(await sidewalk('fleet', 'resume', id), `${id}: active\n`);
    assert.equal(await sidewalk('fleet', 'advance', id), `${id}: active\n`);
    assert.deepEqual(await statusOf(id).then((s) => [s.step, s.percent]), [2, 100]);
    await settled(agents);
    assert.equal((await statusOf(id)).counts.succeeded, DEVICES.length);
    assert.equal(await sidewalk('fleet', 'abort', id, '--reason', 'operator test'), `${id}: aborted\n`);
    const s = await statusOf(id);
    assert.deepEqual([s.state, s.reason], ['aborted', 'operator test']);
    await waitFor('every device rolled back', async () => {
      for (const a of agents) if ((await a.backend.versions()).model !== '1.0.0') return false;
      return true;
    });
  });

  test('watch serves the rollout metrics on the configured port; a second watch on that port fails cleanly', async () => {
    const watchConfig = join(root, 'fleet-watch.yaml');
    const port = await freePort();
    await writeFile(watchConfig, (await readFile(config, 'utf8')) + stringify({ metrics: { port } }));
    const child = spawn(process.execPath, [SIDEWALK_BIN, 'fleet', 'watch', '--interval', '0.2', '--config', watchConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor('watch serving', () => out.includes(`serving rollout metrics on http://127.0.0.1:${port}/metrics`), 30_000);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const id of DEVICES) assert.match(text, new RegExp(`^sidewalk_fleet_device_info\\{device="${id}",location="LA"\\} 1$`, 'm'));
      // The rollout the first test aborted, with its step and counts.
      assert.match(text, /^sidewalk_rollout_info\{rollout="[^"]+",location="LA",artifact="[^"]+",status="aborted"\} 1$/m);
      assert.match(text, /^sidewalk_rollout_step_percent\{rollout="[^"]+",location="LA"\} 100$/m);
      assert.match(text, /^sidewalk_rollout_devices\{rollout="[^"]+",location="LA",state="targeted"\} 4$/m);
      await expectCleanFailure({ name: 'metrics port in use', args: ['fleet', 'watch', '--config', watchConfig], code: 'FLEET_METRICS_LISTEN', timeoutMs: 30_000 });
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
  });

  test("deploy --model builds and signs the registry's production model and rolls it out", async () => {
    const registry = Registry.open(join(root, 'registry'));
    try {
      const b = await fixtureBundle(join(root, 'registry-bundle'), 'LA', '2.0.0');
      const candidate = report('2.0.0', { accuracy: 0.95, sidewalkRecall: 0.99, roadFalseLimit: 0.01 }, { sha256: b.modelSha, location: 'LA' });
      await registry.register({ bundleDir: b.dir, report: candidate, gates: checkGates('LA', candidate, null, DEFAULT_GATES) });
      registry.promote('LA', '2.0.0', 'canary');
      registry.promote('LA', '2.0.0', 'production');
    } finally {
      registry.close();
    }
    const withKey = join(root, 'fleet-build.yaml');
    await writeFile(withKey, (await readFile(config, 'utf8')) + stringify({ build: { signing_key: signingKey, device_types: ['raspberrypi4'] } }));
    const r = await runSidewalk(['fleet', 'deploy', '--model', 'LA@production', '--location', 'LA', '--percent', '100', '--config', withKey], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const id = /^(\S+): model 2\.0\.0 to 100% of LA/m.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    await waitFor(
      'every device runs the production model',
      async () => {
        for (const a of agents) if ((await a.backend.versions()).model !== '2.0.0') return false;
        return true;
      },
      60_000,
    );
    await expectCleanFailure({
      name: 'no signing key for --model',
      args: ['fleet', 'deploy', '--model', 'LA@production', '--location', 'LA', '--percent', '5', '--config', config],
      code: 'FLEET_NO_SIGNING_KEY',
      timeoutMs: 30_000,
    });
    await expectCleanFailure({
      name: 'no canary model',
      args: ['fleet', 'deploy', '--model', 'LA@canary', '--location', 'LA', '--percent', '5', '--config', withKey],
      code: 'FLEET_MODEL_UNKNOWN',
      timeoutMs: 30_000,
    });
  });

  test('acl prints the broker ACL for an inventory; the example configs load', async () => {
    const inventory = join(root, 'inventory.yaml');
    await writeFile(inventory, stringify([{ id: 'sc-0042', location: 'LA' }]));
    const r = await runSidewalk(['fleet', 'acl', inventory]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^user sc-0042\ntopic read fleet\/v1\/desired\/location\/LA$/m);
    assert.equal(loadFleetConfig(join(REPO_ROOT, 'host-tools/fleet/fleet.example.yaml')).policy.steps.join(','), '5,25,100');
    assert.equal(loadAgentConfig(join(REPO_ROOT, 'telemetry/fleet/fleet-agent.example.yaml')).device.id, 'sc-0042');
  });

  test('bad input ends in one coded line', async () => {
    const badInventory = join(root, 'bad-inventory.yaml');
    await writeFile(badInventory, stringify([{ id: 'sc/1', location: 'LA' }]));
    const badPlan = join(root, 'bad-plan.yaml');
    await writeFile(badPlan, stringify({ steps: [50, 20] }));
    const typoPlan = join(root, 'typo-plan.yaml');
    await writeFile(typoPlan, stringify({ step: [5] }));
    const badHealth = join(root, 'bad-health-plan.yaml');
    await writeFile(badHealth, stringify({ health: { window_s: 1 } }));
    const badConfig = join(root, 'bad-fleet.yaml');
    await writeFile(badConfig, stringify({ broker: { url: 'mqtt://insecure:1883', ca: 'a', cert: 'b', key: 'c' }, artifacts: { publish_dir: 'x', base_url: 'http://h' } }));
    const cases = [
      { name: 'device id that breaks topic levels', args: ['fleet', 'acl', badInventory], code: 'FLEET_DEVICE_ID_INVALID' },
      { name: 'missing config', args: ['fleet', 'devices', '--config', join(root, 'none.yaml')], code: 'FLEET_CONFIG_UNREADABLE' },
      { name: 'plain-text broker url', args: ['fleet', 'devices', '--config', badConfig], code: 'FLEET_CONFIG_INVALID' },
      { name: 'unknown rollout', args: ['fleet', 'status', 'no-such-rollout', '--config', config], code: 'FLEET_ROLLOUT_UNKNOWN' },
      { name: 'unsigned artifact', args: ['fleet', 'deploy', unsigned, '--location', 'LA', '--percent', '5', '--config', config], code: 'FLEET_ARTIFACT_UNSIGNED' },
      { name: 'missing artifact', args: ['fleet', 'deploy', join(root, 'nope.mender'), '--location', 'LA', '--percent', '5', '--config', config], code: 'FLEET_ARTIFACT_UNREADABLE' },
      { name: 'percent out of range', args: ['fleet', 'deploy', signed, '--location', 'LA', '--percent', '0', '--config', config], code: 'FLEET_PLAN_INVALID' },
      { name: 'descending steps', args: ['fleet', 'deploy', signed, '--location', 'LA', '--plan', badPlan, '--config', config], code: 'FLEET_PLAN_INVALID' },
      { name: 'health window too short', args: ['fleet', 'deploy', signed, '--location', 'LA', '--plan', badHealth, '--config', config], code: 'FLEET_PLAN_INVALID' },
      { name: 'unknown plan field', args: ['fleet', 'deploy', signed, '--location', 'LA', '--plan', typoPlan, '--config', config], code: 'FLEET_PLAN_INVALID' },
    ];
    for (const c of cases) await expectCleanFailure({ ...c, timeoutMs: 30_000 });
    assert.ok(!existsSync(join(root, 'www', 'nope.mender')));
  });
});
