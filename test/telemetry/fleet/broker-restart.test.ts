/**
 * A broker restart in the middle of a rollout step: 60 simulated device agents on a real TLS Mosquitto
 * with persistence, a 100 % rollout whose downloads are held until the broker is down, so every device
 * downloads, installs and commits while offline and spools its events on disk. After the restart every
 * device finishes; the fleet tool (persistent session) stores every event exactly once, in order with no
 * gap, and its rollout counts every device once.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FleetController } from '../../../host-tools/fleet/controller.js';
import { publishArtifact } from '../../../host-tools/fleet/publish.js';
import type { RolloutPlan } from '../../../host-tools/fleet/store.js';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { simAgent, type SimAgent } from '../../../telemetry/fleet/sim/agents.js';
import { modelArtifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';
import { artifactHost, type NodeArtifactHost } from '../../../telemetry/fleet/sim/node-host.js';

const DEVICES = Array.from({ length: 60 }, (_, i) => ({ id: `br-${String(i).padStart(2, '0')}`, location: 'oslo' }));
const PLAN: RolloutPlan = { steps: [100], min_finished: 1, soak_s: 0, max_failure_percent: 10, min_devices_before_decision: 60, in_progress_timeout_s: 3600, auto_advance: false };
const STEPS = ['desired', 'download', 'downloaded', 'install', 'committed'];

let root: string;
let broker: SimBroker;
let host: NodeArtifactHost;
let ctl: FleetController;
const agents: SimAgent[] = [];

before(async () => {
  root = await tempDir('sidewalk-fleet-restart-');
  broker = await startBroker(DEVICES, { persistence: true });
  host = await artifactHost(join(root, 'www'));
  ctl = await FleetController.open({ broker: { ...(await broker.tls(FLEET_TOOL_USER)), client_id: 'fleet-tool' }, persistent: true, dbPath: join(root, 'fleet.db') });
  agents.push(...(await Promise.all(DEVICES.map((d) => simAgent(broker, join(root, 'devices'), d.id, d.location)))));
  await waitFor('every device reported', () => ctl.store.devices('oslo').filter((d) => d.online && d.reported).length === DEVICES.length);
});

after(async () => {
  await Promise.all(agents.map((a) => a.agent.stop().catch(() => {})));
  await ctl?.close();
  await host?.close();
  if (broker) await removeBroker(broker);
  await rm(root, { recursive: true, force: true });
});

describe('broker restart during a rollout step', () => {
  test('every device finishes; spooled events arrive once, in order, with no gap; counts are exact', async () => {
    const artifacts = await modelArtifacts(root);
    const art = await publishArtifact(await artifacts.signed('2.0.0'), join(root, 'www'), host.base);
    let release!: () => void;
    host.gate = new Promise<void>((r) => (release = r));
    const r = await ctl.deploy({ location: 'oslo', artifact: art, plan: PLAN });
    await waitFor('every device asked for the artifact', () => host.requests.length === DEVICES.length);
    const storedBefore = new Map(agents.map((a) => [a.id, ctl.store.events(a.id).length]));

    await broker.stop();
    await waitFor('every agent saw the broker go', () => agents.every((a) => !a.agent.link.connected));
    release();
    host.gate = null;
    await waitFor('every device committed offline', () => agents.every((a) => a.agent.rollout?.rollout_id === r.id && a.agent.rollout.outcome === 'succeeded'));
    for (const a of agents) assert.ok(a.spool.queued >= 3, `${a.id}: ${a.spool.queued} events spooled (downloaded, install, committed at least)`);
    assert.equal(ctl.status(r.id).counts.succeeded, 0, 'nothing reached the fleet tool while the broker was down');

    await broker.restart();
    await waitFor('the fleet tool counts every device succeeded', () => ctl.status(r.id).counts.succeeded === DEVICES.length, 60_000);
    await waitFor('every spool drained', () => agents.every((a) => a.spool.queued === 0));
    // A drained spool means the broker has the events; the fleet tool may still be storing them.
    await waitFor('the fleet tool stored every committed event', () => agents.every((a) => ctl.store.events(a.id).some((e) => e.rollout_id === r.id && e.step === 'committed')));
    await waitFor('every device online again', () => ctl.store.devices('oslo').every((d) => d.online));

    const s = ctl.status(r.id);
    assert.deepEqual(
      { targeted: s.counts.targeted, succeeded: s.counts.succeeded, failed: s.counts.failed, rejected: s.counts.rejected, in_progress: s.counts.in_progress },
      { targeted: DEVICES.length, succeeded: DEVICES.length, failed: 0, rejected: 0, in_progress: 0 },
    );
    for (const a of agents) {
      const events = ctl.store.events(a.id);
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
        `${a.id}: every event once, in order, from 1`,
      );
      assert.ok(events.length > storedBefore.get(a.id)!, `${a.id}: events arrived after the restart`);
      const steps = events.filter((e) => e.rollout_id === r.id).map((e) => e.step);
      assert.deepEqual([...new Set(steps)], STEPS, a.id);
      assert.equal(steps.filter((x) => x === 'committed').length, 1, `${a.id}: one committed event`);
      assert.equal(a.spool.dropped, 0, `${a.id}: the spool dropped nothing`);
      assert.deepEqual(a.backend.history, ['install model 2.0.0'], `${a.id}: installed once`);
    }
    assert.equal(ctl.link.invalid.total, 0);
    assert.deepEqual(await ctl.tick(), [`${r.id}: completed`]);
  });
});
