/**
 * Staged rollouts end to end: 50 simulated device agents and 2 real on-device agents (real Updater,
 * real artifact reader) on a real TLS Mosquitto, the fleet controller with its SQLite store, artifacts
 * built by build/ with mender-artifact and served over HTTPS by nginx with the shipped config
 * (host-tools/fleet/nginx-artifacts.conf; Range resume is proven in artifact-host.test.ts).
 * The controller's clock is the test's (soak times pass without waiting); devices use real time.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { globalAgent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FleetController } from '../../../host-tools/fleet/controller.js';
import { publishArtifact } from '../../../host-tools/fleet/publish.js';
import type { RolloutPlan } from '../../../host-tools/fleet/store.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { SimDevice } from '../../ota/sim-device.js';
import { simAgent, startAgent, type SimAgent } from '../../../telemetry/fleet/sim/agents.js';
import { modelArtifacts, type Artifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';
import { startNginx, type NginxHost } from '../../../telemetry/fleet/sim/nginx.js';
import { realAgent } from './harness.js';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
const LA = ids('sc', 32);
const DENVER = ids('dn', 12);
const NIWOT = ids('nw', 6);
const BOULDER = ['rd-1', 'rd-2'];

let root: string;
let broker: SimBroker;
let host: NginxHost;
let artifacts: Artifacts;
let ctl: FleetController;
let template: string;
let clock = Date.now();
const sims = new Map<string, SimAgent>();
const reals: Awaited<ReturnType<typeof realAgent>>[] = [];

const plan = (o: Partial<RolloutPlan> = {}): RolloutPlan => ({
  steps: [10, 50, 100],
  min_finished: 2,
  soak_s: 60,
  max_failure_percent: 20,
  min_devices_before_decision: 3,
  in_progress_timeout_s: 3600,
  auto_advance: false,
  ...o,
});
const group = (list: string[]) => list.map((id) => sims.get(id)!);
const publish = (file: string, allowUnsigned = false) => publishArtifact(file, host.publishDir, host.base, { allowUnsigned });

before(async () => {
  root = await tempDir('sidewalk-fleet-rollout-');
  const devices = [
    ...LA.map((id) => ({ id, location: 'LA' })),
    ...DENVER.map((id) => ({ id, location: 'denver' })),
    ...NIWOT.map((id) => ({ id, location: 'niwot' })),
    ...BOULDER.map((id) => ({ id, location: 'boulder' })),
  ];
  broker = await startBroker(devices);
  host = await startNginx({ cert: await broker.pki.client('server'), ca: broker.pki.ca });
  // Devices trust the fleet CA for the artifact host (the image's system store).
  globalAgent.options.ca = await readFile(broker.pki.ca);
  artifacts = await modelArtifacts(root);
  template = SimDevice.template();
  ctl = await FleetController.open({ broker: { ...(await broker.tls(FLEET_TOOL_USER)), client_id: 'fleet-tool' }, persistent: true, dbPath: join(root, 'registry', 'fleet.db'), now: () => clock });
  await Promise.all(devices.filter((d) => d.location !== 'boulder').map(async (d) => sims.set(d.id, await simAgent(broker, join(root, 'devices'), d.id, d.location))));
  for (const id of BOULDER) reals.push(await realAgent(broker, template, id, 'boulder', artifacts.publicKeyPem));
  await waitFor('every device reported', () => ctl.store.devices().filter((d) => d.online && d.reported).length === devices.length);
});

after(async () => {
  await Promise.all([...sims.values(), ...reals].map((a) => a.agent.stop().catch(() => {})));
  for (const r of reals) r.dev.remove();
  await ctl?.close();
  await host?.close();
  if (broker) await removeBroker(broker);
  await rm(template, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('staged rollouts over the real broker', () => {
  test('a staged rollout advances step by step, only adding devices, after the soak time', async () => {
    const art = await publish(await artifacts.signed('1.2.0'));
    const r = await ctl.deploy({ location: 'LA', artifact: art, plan: plan() });
    const la = group(LA);
    for (const [i, percent] of [10, 50, 100].entries()) {
      const cohort = la.filter((a) => a.agent.cohort < percent);
      await waitFor(`${percent}% step finished`, () => {
        const s = ctl.status(r.id);
        return s.counts.targeted === cohort.length && s.counts.succeeded === cohort.length;
      });
      // Only the cohort installed; nobody outside it, nobody twice.
      for (const a of la) assert.deepEqual(a.backend.history, a.agent.cohort < percent ? ['install model 1.2.0'] : [], `${a.id} (cohort ${a.agent.cohort}) at ${percent}%`);
      if (i === 2) break;
      await assert.rejects(ctl.advance(r.id), (e) => isSidewalkError(e, 'FLEET_STEP_NOT_DONE') && /soaking/.test(e.message));
      clock += 61_000;
      assert.deepEqual(await ctl.tick(), [], 'no auto-advance unless the plan says so');
      assert.equal((await ctl.advance(r.id)).plan.steps[i + 1], [10, 50, 100][i + 1]);
    }
    await assert.rejects(ctl.advance(r.id), (e) => isSidewalkError(e, 'FLEET_LAST_STEP'));
    assert.deepEqual(await ctl.tick(), [`${r.id}: completed`]);
    assert.equal(ctl.store.rollout(r.id).state, 'completed');
    for (const a of la) assert.equal((await a.backend.versions()).model, '1.2.0');
    for (const a of group([...DENVER, ...NIWOT])) assert.deepEqual(a.backend.history, [], `${a.id} is not in LA`);
    // Every step of an install arrives as an event, in order, once.
    const events = ctl.store.events(la.find((a) => a.agent.cohort < 10)!.id);
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => events[0]!.seq + i),
    );
    const steps = events.filter((e) => e.rollout_id === r.id).map((e) => e.step);
    assert.deepEqual([...new Set(steps)], ['desired', 'download', 'downloaded', 'install', 'committed']);
    const served = (await host.accessLog()).filter((l) => l.startsWith(`GET /artifacts/${art.sha256}/`) && / 200 /.test(l));
    assert.equal(served.length, LA.length, 'every LA device downloaded the artifact from nginx, once');
    const reported = ctl.store.devices('LA')[0]!.reported!;
    assert.equal(reported.health?.reachable, true);
    assert.equal(reported.versions.model, '1.2.0');
  });

  test('a cohort that reports failures aborts by itself and its devices roll back', async () => {
    const dn = group(DENVER);
    const cohort = dn.filter((a) => a.agent.cohort < 50);
    cohort.forEach((a, i) => {
      if (i % 2 === 0) a.backend.unhealthy.add('model-1.3.0');
    });
    const art = await publish(await artifacts.signed('1.3.0'));
    const r = await ctl.deploy({ location: 'denver', artifact: art, plan: plan({ steps: [50, 100], min_devices_before_decision: cohort.length, auto_advance: true }) });
    let actions: string[] = [];
    await waitFor('the policy aborts the rollout', async () => {
      actions = await ctl.tick();
      return actions.length > 0;
    });
    assert.match(actions[0]!, /aborted \(failure rate 50\.0% \(3 failed, 0 rejected, 0 timed out of 6 finished\) is over 20%\)/);
    const aborted = ctl.store.rollout(r.id);
    assert.equal(aborted.state, 'aborted');
    assert.deepEqual({ mode: aborted.desired.mode, percent: aborted.desired.percent }, { mode: 'rollback', percent: 50 });
    await waitFor('every healthy cohort device rolled back', async () => {
      for (const a of cohort) if ((await a.backend.versions()).model !== '1.0.0' || a.agent.rollout?.mode !== 'rollback') return false;
      return true;
    });
    cohort.forEach((a, i) => {
      assert.deepEqual(a.backend.history, i % 2 === 0 ? ['install model 1.3.0'] : ['install model 1.3.0', 'rollback model'], a.id);
    });
    for (const a of dn.filter((x) => x.agent.cohort >= 50)) assert.deepEqual(a.backend.history, [], `${a.id} was never in the cohort`);
  });

  test('a device offline during a step catches up from retained desired state', async () => {
    const nw = group(NIWOT);
    const away = nw[0]!;
    await away.agent.stop({ graceful: false });
    await waitFor('the broker published its last will', () => ctl.store.devices('niwot').find((d) => d.id === away.id)?.online === false);
    const art = await publish(await artifacts.signed('1.2.0'));
    const r = await ctl.deploy({ location: 'niwot', artifact: art, plan: plan({ steps: [100], min_devices_before_decision: 10 }) });
    await waitFor('the online devices finished', () => ctl.status(r.id).counts.succeeded === nw.length - 1);
    assert.equal(ctl.status(r.id).outcomes[away.id], 'pending');
    assert.deepEqual(await ctl.tick(), []);
    const back = await startAgent(broker, away.dir, away.id, away.location, away.backend);
    sims.set(away.id, back);
    await waitFor('the returning device caught up', () => ctl.status(r.id).counts.succeeded === nw.length);
    assert.deepEqual(back.backend.history, ['install model 1.2.0']);
    assert.deepEqual(await ctl.tick(), [`${r.id}: completed`]);
    const row = ctl.store.devices('niwot').find((d) => d.id === away.id)!;
    assert.equal(row.online, true);
    assert.ok(row.session! > 1, 'a restarted agent does not reuse the session of its last will');
  });

  test('real devices refuse an unsigned and a foreign-signed artifact with the reason, and install a signed one when not moving', async () => {
    await assert.rejects(publish(await artifacts.unsigned('1.4.0')), (e) => isSidewalkError(e, 'FLEET_ARTIFACT_UNSIGNED'));
    for (const [file, code] of [
      [await artifacts.unsigned('1.4.0'), 'ARTIFACT_UNSIGNED'],
      [await artifacts.foreignSigned('1.4.0'), 'ARTIFACT_SIGNATURE_INVALID'],
    ] as const) {
      const r = await ctl.deploy({ location: 'boulder', artifact: await publish(file, true), plan: plan({ steps: [100] }) });
      await waitFor(`both devices refused (${code})`, () => ctl.status(r.id).counts.rejected === 2);
      for (const d of ctl.store.devices('boulder')) {
        assert.equal(d.reported!.rollout!.outcome, 'rejected');
        assert.equal(d.reported!.rollout!.code, code, d.id);
      }
      for (const a of reals) assert.equal(await a.dev.store((await import('../../../ota/fs.js')).nodeFs, 'model').current(), '1.0.0');
      await ctl.abort(r.id, 'refused by the devices');
    }
    // The update lock holds: the scooter that moves downloads but does not install until it stops.
    const [moving, still] = reals as [(typeof reals)[0], (typeof reals)[0]];
    moving.dev.moving = true;
    const r = await ctl.deploy({ location: 'boulder', artifact: await publish(await artifacts.signed('1.2.0')), plan: plan({ steps: [100] }) });
    await waitFor('the still scooter committed', () => ctl.status(r.id).outcomes[still.id] === 'succeeded');
    await waitFor('the moving scooter is waiting to install', () => moving.agent.rollout?.rollout_id === r.id && moving.agent.rollout.step === 'install');
    assert.equal(ctl.status(r.id).outcomes[moving.id], 'in_progress');
    assert.equal((await moving.backend.versions()).model, '1.0.0');
    moving.dev.moving = false;
    await waitFor('both devices committed the signed model', () => ctl.status(r.id).counts.succeeded === 2);
    assert.deepEqual(await ctl.tick(), [`${r.id}: completed`]);
    for (const a of reals) {
      assert.equal((await a.backend.versions()).model, '1.2.0');
      assert.equal(a.dev.provides()['rootfs-image.sidewalk-model.version'], '1.2.0');
      const steps = ctl.store
        .events(a.id)
        .filter((e) => e.rollout_id === r.id)
        .map((e) => e.step);
      assert.deepEqual([...new Set(steps)], ['desired', 'download', 'downloaded', 'install', 'committed']);
    }
    assert.equal(ctl.link.invalid.total, 0, 'no invalid message reached the fleet tool');
  });
});
