/**
 * The agent hosted by the real updater daemon (`sidewalk ota daemon --fleet`, a child process) on a
 * simulated Pi: it comes online with its versions, installs a signed model announced through desired
 * state (real download, signature check, store switch, health window on the stand-in runtime's status
 * file, commit), and says offline when stopped.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { FleetController } from '../../../host-tools/fleet/controller.js';
import { publishArtifact } from '../../../host-tools/fleet/publish.js';
import { makeSimImage } from '../../../ota/boot/sim-image.js';
import { SimulatedFirmware, simulatedLayout } from '../../../ota/boot/simulated.js';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { runProcess } from '../../../lib/run-process.js';
import { freePort } from '../../helpers/service-process.js';
import { spawnCli } from '../../helpers/cli.js';
import { modelBundle } from '../../ota/sim-device.js';
import { modelArtifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';
import { artifactHost } from '../../../telemetry/fleet/sim/node-host.js';

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
/** The value of one exposition line (`name{labels}` exactly as printed), null when absent. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}
async function promtoolCheckMetrics(text: string): Promise<void> {
  const r = await runProcess('promtool', ['check', 'metrics'], { input: text });
  assert.equal(r.code, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
}

let root: string;
let broker: SimBroker;
let host: Awaited<ReturnType<typeof artifactHost>>;
let ctl: FleetController;

before(async () => {
  root = await tempDir('sidewalk-fleet-daemon-');
  broker = await startBroker([{ id: 'pi-1', location: 'LA' }]);
  host = await artifactHost(join(root, 'www'));
  ctl = await FleetController.open({ broker: { ...(await broker.tls(FLEET_TOOL_USER)), client_id: 'fleet-tool' }, dbPath: join(root, 'fleet.db') });
});

after(async () => {
  await ctl?.close();
  await host?.close();
  if (broker) await removeBroker(broker);
  await rm(root, { recursive: true, force: true });
});

describe('sidewalk ota daemon --fleet', () => {
  test('the daemon hosts the agent: online, installs desired state through the updater, serves /metrics, offline on stop', async () => {
    const dir = join(root, 'pi');
    mkdirSync(join(dir, 'disk'), { recursive: true });
    SimulatedFirmware.createDisk(simulatedLayout(join(dir, 'disk')), {
      bootBytes: 64 * 1024,
      rootBytes: 256 * 1024,
      bootA: makeSimImage({ version: 'boot-1.0', bodyBytes: 1000 }),
      rootA: makeSimImage({ version: '1.0', bodyBytes: 50_000 }),
    });
    mkdirSync(join(dir, 'models', 'versions', '1.0.0'), { recursive: true });
    for (const f of modelBundle('1.0.0')) writeFileSync(join(dir, 'models', 'versions', '1.0.0', f.name), f.data);
    symlinkSync('versions/1.0.0', join(dir, 'models', 'current'));
    const artifacts = await modelArtifacts(root);
    const metricsPort = await freePort();
    writeFileSync(join(dir, 'key.pub.pem'), artifacts.publicKeyPem);
    // The stand-in runtime: on reload it reports the model `current` points at, ready unless it is a 3.x.
    const tick = `import { readFileSync, writeFileSync } from 'node:fs';
const m = JSON.parse(readFileSync(${JSON.stringify(join(dir, 'models', 'current', 'manifest.json'))}, 'utf8'));
writeFileSync(${JSON.stringify(join(dir, 'status.json'))}, JSON.stringify({ ready: !m.version.startsWith('3.'), model_version: m.version, last_decision_unix_ms: Date.now(), speed_kph: 0, started_unix_ms: 1 }));
`;
    writeFileSync(join(dir, 'tick.mjs'), tick);
    writeFileSync(
      join(dir, 'ota.yaml'),
      [
        'device_type: raspberrypi4',
        'state_dir: state',
        'stores: { model: models, app: app }',
        'keys: [key.pub.pem]',
        'factory_provides: { artifact_name: os-1.0, rootfs-image.version: "1.0" }',
        'boot: { backend: simulated, simulated_dir: disk }',
        `runtime: { source: status-file, status_file: status.json, reload_command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'tick.mjs'))}], restart_command: ["true"] }`,
        'health:',
        '  model: { ready_timeout_s: 2, window_s: 0.2, poll_s: 0.05, stale_after_s: 30 }',
        'lock: { poll_s: 0.05 }',
        'download: { retries: 3, backoff_s: 0.01 }',
        `metrics: { port: ${metricsPort} }`,
        '',
      ].join('\n'),
    );
    const tls = await broker.tls('pi-1');
    writeFileSync(join(dir, 'fleet-agent.yaml'), stringify({ device: { id: 'pi-1', location: 'LA' }, broker: { url: tls.url, ca: tls.ca, cert: tls.cert, key: tls.key }, state_dir: 'state/fleet' }));
    let stderr = '';
    const daemon = spawnCli(['ota', 'daemon', '-c', join(dir, 'ota.yaml'), '--fleet', join(dir, 'fleet-agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => daemon.on('exit', (code) => r(code)));
    try {
      await waitFor('the daemon reported the device', () => ctl.store.devices().find((d) => d.id === 'pi-1')?.reported?.versions.model === '1.0.0');
      const row = ctl.store.devices()[0]!;
      assert.equal(row.online, true);
      assert.deepEqual(row.reported!.versions, { os: '1.0', model: '1.0.0', app: null });
      assert.equal(row.reported!.ota.state, 'idle');
      const art = await publishArtifact(await artifacts.signed('1.2.0'), join(root, 'www'), host.base);
      const r = await ctl.deploy({
        location: 'LA',
        artifact: art,
        plan: { steps: [100], min_finished: 1, soak_s: 0, max_failure_percent: 0, min_devices_before_decision: 1, in_progress_timeout_s: 600, auto_advance: false },
      });
      await waitFor('the device committed the model', () => ctl.status(r.id).counts.succeeded === 1, 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${stderr}`);
      });
      assert.equal(readlinkSync(join(dir, 'models', 'current')), join('versions', '1.2.0'));
      assert.deepEqual([...new Set(ctl.store.events('pi-1').map((e) => e.step))], ['desired', 'download', 'downloaded', 'install', 'committed']);
      // The daemon's /metrics, where the device's metrics agent scrapes it.
      const committed = await scrape(metricsPort);
      assert.equal(sample(committed, 'sidewalk_ota_state{state="idle"}'), 1);
      assert.equal(sample(committed, 'sidewalk_ota_state{state="install"}'), 0);
      assert.equal(sample(committed, 'sidewalk_ota_download_bytes_total'), art.size);
      assert.equal(sample(committed, 'sidewalk_ota_updates_total{kind="model",result="success"}'), 1);
      assert.equal(sample(committed, 'sidewalk_ota_install_duration_seconds_count{kind="model",result="success"}'), 1);
      assert.match(committed, /^sidewalk_ota_last_result_info\{kind="model",result="success",artifact="[^"]+"\} 1$/m);
      assert.equal(sample(committed, 'sidewalk_ota_rollbacks_total{kind="model"}'), 0, 'no rollback yet');
      await promtoolCheckMetrics(committed);
      // A model that never gets ready: rolled back by the health window, and counted.
      assert.deepEqual(await ctl.tick(), [`${r.id}: completed`]);
      const bad = await publishArtifact(await artifacts.signed('3.0.0'), join(root, 'www'), host.base);
      const r3 = await ctl.deploy({
        location: 'LA',
        artifact: bad,
        plan: { steps: [100], min_finished: 1, soak_s: 0, max_failure_percent: 100, min_devices_before_decision: 1, in_progress_timeout_s: 600, auto_advance: false },
      });
      await waitFor('the device failed the bad model', () => ctl.status(r3.id).counts.failed === 1, 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${stderr}`);
      });
      const failed = await scrape(metricsPort);
      assert.equal(sample(failed, 'sidewalk_ota_rollbacks_total{kind="model"}'), 1);
      assert.equal(sample(failed, 'sidewalk_ota_updates_total{kind="model",result="failure"}'), 1);
      assert.equal(sample(failed, 'sidewalk_ota_download_bytes_total'), art.size + bad.size);
      assert.match(failed, /^sidewalk_ota_last_result_info\{kind="model",result="failure",artifact="[^"]+"\} 1$/m);
      assert.equal(readlinkSync(join(dir, 'models', 'current')), join('versions', '1.2.0'));
    } finally {
      daemon.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    await waitFor('the device said offline', () => ctl.store.devices()[0]!.online === false);
  });
});
