/**
 * One device agent against a real TLS Mosquitto (with persistence, so it can be restarted): invalid
 * desired state is counted and never acted on; OTA events produced while the broker is down are
 * spooled on disk and delivered after it comes back, none lost, none stored twice; commands answer
 * with their request id; a late last will from an older session cannot leave the device offline.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { FleetController } from '../../../host-tools/fleet/controller.js';
import { publishArtifact } from '../../../host-tools/fleet/publish.js';
import type { RolloutPlan } from '../../../host-tools/fleet/store.js';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { topics } from '../../../telemetry/fleet/protocol/topics.js';
import { simAgent, type SimAgent } from '../../../telemetry/fleet/sim/agents.js';
import { modelArtifacts, type Artifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';
import { artifactHost } from '../../../telemetry/fleet/sim/node-host.js';

let root: string;
let broker: SimBroker;
let host: Awaited<ReturnType<typeof artifactHost>>;
let artifacts: Artifacts;
let ctl: FleetController;
let dev: SimAgent;
const plan: RolloutPlan = { steps: [100], min_finished: 1, soak_s: 0, max_failure_percent: 50, min_devices_before_decision: 1, in_progress_timeout_s: 3600, auto_advance: false };

before(async () => {
  root = await tempDir('sidewalk-fleet-agent-');
  broker = await startBroker([{ id: 'sp-1', location: 'X' }], { persistence: true });
  host = await artifactHost(join(root, 'www'));
  artifacts = await modelArtifacts(root);
  ctl = await FleetController.open({ broker: { ...(await broker.tls(FLEET_TOOL_USER)), client_id: 'fleet-tool' }, persistent: true, dbPath: join(root, 'fleet.db') });
  dev = await simAgent(broker, root, 'sp-1', 'X');
  await waitFor('the device reported', () => ctl.store.devices().some((d) => d.online && d.reported));
});

after(async () => {
  await dev?.agent.stop().catch(() => {});
  await ctl?.close();
  await host?.close();
  if (broker) await removeBroker(broker);
  await rm(root, { recursive: true, force: true });
});

describe('device agent', () => {
  test('invalid desired state is counted and logged, never acted on', async () => {
    const tls = await broker.tls(FLEET_TOOL_USER);
    const raw = await connectAsync(tls.url, { protocolVersion: 5, clientId: 'tool-raw', ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), reconnectPeriod: 0 });
    const before = dev.agent.link.invalid.total;
    for (const body of [
      'not json',
      JSON.stringify({ generation: 'one', rollout_id: 'r', percent: 100, mode: 'install' }),
      JSON.stringify({ generation: 9, rollout_id: 'r', percent: 100, mode: 'install', artifact: { kind: 'model', name: 'm', version: '9', url: 'ftp://x', size: 1, sha256: 'a'.repeat(64) } }),
    ]) {
      await raw.publishAsync(topics.desiredLocation('X'), body, { qos: 1, retain: true });
    }
    await waitFor('three invalid messages counted', () => dev.agent.link.invalid.total === before + 3);
    assert.equal(dev.agent.actions, 0);
    assert.deepEqual(dev.backend.history, []);
    await raw.publishAsync(topics.desiredLocation('X'), '', { qos: 1, retain: true });
    await raw.endAsync();
  });

  test('events made while the broker is down are spooled and delivered after it restarts: none lost, none twice', async () => {
    let release!: () => void;
    host.gate = new Promise<void>((r) => (release = r));
    const art = await publishArtifact(await artifacts.signed('1.2.0'), join(root, 'www'), host.base);
    const r = await ctl.deploy({ location: 'X', artifact: art, plan });
    await waitFor('the download started', () => host.requests.length > 0);
    await broker.stop();
    await waitFor('the agent saw the broker go', () => !dev.agent.link.connected);
    release();
    host.gate = null;
    await waitFor('the install finished offline', () => dev.agent.rollout?.outcome === 'succeeded');
    assert.ok(dev.spool.queued >= 3, `${dev.spool.queued} events spooled`);
    await broker.restart();
    await waitFor('the committed event reached the fleet tool', () => ctl.store.events('sp-1').some((e) => e.step === 'committed'), 15_000).catch((err: Error) => {
      throw new Error(
        `${err.message}; stored ${JSON.stringify(ctl.store.events('sp-1').map((e) => [e.seq, e.step]))}, spooled ${dev.spool.queued}, agent connected ${dev.agent.link.connected}, tool connected ${ctl.link.connected}\n${broker.log().slice(-3000)}`,
      );
    });
    await waitFor('the spool drained', () => dev.spool.queued === 0);
    const seqs = ctl.store.events('sp-1').map((e) => e.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'every event once, in order, from 1',
    );
    const steps = ctl.store.events('sp-1').map((e) => e.step);
    assert.deepEqual([...new Set(steps)], ['desired', 'download', 'downloaded', 'install', 'committed']);
    await waitFor('the rollout counts the device', () => ctl.status(r.id).counts.succeeded === 1);
  });

  test('commands are answered with their request id', async () => {
    const report = await ctl.command('sp-1', 'report');
    assert.equal(report.ok, true);
    assert.deepEqual(report.result, { versions: { os: '1.0', model: '1.2.0', app: '1.0.0' } });
    const bad = await ctl.command('sp-1', 'rollback', { kind: 'firmware' });
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.code, 'FLEET_COMMAND_FAILED');
    const back = await ctl.command('sp-1', 'rollback', { kind: 'model' });
    assert.equal(back.ok, true, JSON.stringify(back));
    assert.equal((await dev.backend.versions()).model, '1.0.0');
  });

  test('a late last will of an older session does not leave the device offline', async () => {
    await waitFor('online', () => ctl.store.devices().find((d) => d.id === 'sp-1')?.online === true);
    const current = ctl.store.devices().find((d) => d.id === 'sp-1')!;
    const tls = await broker.tls(FLEET_TOOL_USER);
    const raw = await connectAsync(tls.url, { protocolVersion: 5, clientId: 'tool-raw-2', ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), reconnectPeriod: 0 });
    const seen: string[] = [];
    raw.on('message', (_t, p) => seen.push(p.toString()));
    await raw.subscribeAsync(topics.status('sp-1'), { qos: 1 });
    await raw.publishAsync(topics.status('sp-1'), JSON.stringify({ state: 'offline', boot_id: 'an-older-boot', session: 1 }), { qos: 1, retain: true });
    await waitFor('the device answered with online again', () => seen.some((s) => JSON.parse(s).state === 'online' && JSON.parse(s).session === current.session) && seen.length >= 3);
    assert.equal(ctl.store.devices().find((d) => d.id === 'sp-1')!.online, true, 'the fleet tool ignored the stale will');
    await raw.endAsync();
  });
});
