/**
 * End to end through the real CLI (`sidewalk ota ...` as child processes) with real signed artifacts
 * written by mender-artifact, the real artifact reader, the simulated boot backend, and a stand-in
 * runtime that writes the status file the health checks read: OS update with a trial boot and commit,
 * a model from an HTTP server that drops the connection, a bad model rolled back by itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serveLocal } from '../helpers/local-http.js';
import { runCli } from '../helpers/cli.js';
import { makeSimImage } from '../../ota/boot/sim-image.js';
import { SimulatedFirmware, simulatedLayout } from '../../ota/boot/simulated.js';
import { modelBundle } from './sim-device.js';
import { makeTempDirSync } from '../helpers/temp.js';

/** `ota status --json`, read field by field in the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: the tests walk arbitrary nested fields of the printed JSON.
type StatusJson = Record<string, any>;

describe('sidewalk ota (CLI, end to end)', () => {
  let dir: string;
  let config: string;
  let server: Awaited<ReturnType<typeof serveLocal>>;
  let base = '';
  let dropNext = true;
  const files = new Map<string, Buffer>();

  /** Runs the CLI without blocking this process (the test's HTTP server must keep answering). */
  const sidewalk = async (...args: string[]) => {
    const r = await runCli(args, { timeoutMs: 300_000 });
    return { status: r.code, stdout: r.stdout, stderr: r.stderr };
  };
  /** The stand-in runtime: reports the model `current` points at; version 3.x never gets ready. */
  const runtimeTick = () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'models', 'current', 'manifest.json'), 'utf8')) as { version: string };
    writeFileSync(
      join(dir, 'status.json'),
      JSON.stringify({ ready: !manifest.version.startsWith('3.'), model_version: manifest.version, last_decision_unix_ms: Date.now(), speed_kph: 0, started_unix_ms: 1 }),
    );
  };
  const mender = (args: string[]) => execFileSync('mender-artifact', args, { cwd: dir, encoding: 'utf8' });

  before(async () => {
    dir = makeTempDirSync('sidewalk-ota-cli-');
    const layout = simulatedLayout(join(dir, 'disk'));
    mkdirSync(join(dir, 'disk'));
    SimulatedFirmware.createDisk(layout, {
      bootBytes: 64 * 1024,
      rootBytes: 256 * 1024,
      bootA: makeSimImage({ version: 'boot-1.0', bodyBytes: 1000 }),
      rootA: makeSimImage({ version: '1.0', bodyBytes: 100_000 }),
    });
    // Factory model 1.0.0 in the store.
    mkdirSync(join(dir, 'models', 'versions', '1.0.0'), { recursive: true });
    for (const f of modelBundle('1.0.0')) writeFileSync(join(dir, 'models', 'versions', '1.0.0', f.name), f.data);
    execFileSync('ln', ['-s', 'versions/1.0.0', join(dir, 'models', 'current')]);
    execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', join(dir, 'key.pem')]);
    execFileSync('openssl', ['ec', '-in', join(dir, 'key.pem'), '-pubout', '-out', join(dir, 'key.pub.pem')], { stdio: 'ignore' });
    config = join(dir, 'ota.yaml');
    writeFileSync(
      config,
      [
        'device_type: raspberrypi4',
        'state_dir: state',
        'stores: { model: models, app: app }',
        'keys: [key.pub.pem]',
        'factory_provides: { artifact_name: os-1.0, rootfs-image.version: "1.0", rootfs-image.sidewalk-app.version: 1.0.0 }',
        'boot: { backend: simulated, simulated_dir: disk }',
        `runtime: { source: status-file, status_file: status.json, reload_command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'tick.mjs'))}], restart_command: ["true"] }`,
        'health:',
        '  os: { ready_timeout_s: 2, window_s: 0.2, poll_s: 0.05, stale_after_s: 30 }',
        '  model: { ready_timeout_s: 0.5, window_s: 0.2, poll_s: 0.05, stale_after_s: 30 }',
        'lock: { poll_s: 0.05 }',
        'download: { retries: 3, backoff_s: 0.01 }',
        '',
      ].join('\n'),
    );
    // The reload command: what the runtime does on SIGHUP, as far as the status file is concerned.
    writeFileSync(
      join(dir, 'tick.mjs'),
      `import { readFileSync, writeFileSync } from 'node:fs';
const m = JSON.parse(readFileSync(${JSON.stringify(join(dir, 'models', 'current', 'manifest.json'))}, 'utf8'));
writeFileSync(${JSON.stringify(join(dir, 'status.json'))}, JSON.stringify({ ready: !m.version.startsWith('3.'), model_version: m.version, last_decision_unix_ms: Date.now(), speed_kph: 0, started_unix_ms: 1 }));
`,
    );
    // Artifacts, written and signed by the real tool.
    writeFileSync(join(dir, 'boot.vfat'), makeSimImage({ version: 'boot-2.0', bodyBytes: 1000 }));
    writeFileSync(join(dir, 'root.ext4'), makeSimImage({ version: '2.0', bodyBytes: 120_000 }));
    mender([
      'write',
      'module-image',
      '-T',
      'rootfs-tryboot',
      '-t',
      'raspberrypi4',
      '-n',
      'os-2.0',
      '--no-default-software-version',
      '--no-default-clears-provides',
      '-p',
      'rootfs-image.version:2.0',
      '--clears-provides',
      'rootfs-image.*',
      '-f',
      'boot.vfat',
      '-f',
      'root.ext4',
      '-k',
      'key.pem',
      '-o',
      'os-2.0.mender',
    ]);
    for (const v of ['2.0.0', '2.1.0', '3.0.0']) {
      mkdirSync(join(dir, `m${v}`));
      const args = [
        'write',
        'module-image',
        '-T',
        'sidewalk-model',
        '-t',
        'raspberrypi4',
        '-n',
        `model-${v}`,
        '--software-name',
        'sidewalk-model',
        '--software-version',
        v,
        '-k',
        'key.pem',
        '-o',
        `model-${v}.mender`,
      ];
      for (const f of modelBundle(v)) {
        writeFileSync(join(dir, `m${v}`, f.name), f.data);
        args.push('-f', join(`m${v}`, f.name));
      }
      mender(args);
      files.set(`/model-${v}.mender`, readFileSync(join(dir, `model-${v}.mender`)));
    }
    server = await serveLocal((req, res) => {
      const body = files.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end();
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = m ? Number(m[1]) : 0;
      res.writeHead(start ? 206 : 200, { 'content-length': String(body.length - start), ...(start ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      if (dropNext) {
        dropNext = false;
        res.write(body.subarray(start, start + 2000), () => res.destroy());
      } else res.end(body.subarray(start));
    });
    base = server.base;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  });

  test('every ota command has help', async () => {
    const r = await sidewalk('ota', '--help');
    assert.equal(r.status, 0);
    for (const c of ['install', 'status', 'commit', 'rollback', 'daemon']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
    assert.match((await sidewalk('ota', 'install', '--help')).stdout, /file or an http\(s\) URL/);
  });

  test('a config violation is reported as path: message', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'device_type: 4\nlock: { max_speed_kph: -1, speed: 3 }\nboot: { backend: floppy }\n');
    const r = await sidewalk('ota', 'status', '-c', bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /CONFIG_INVALID/);
    assert.match(r.stderr, /device_type: must be string/);
    assert.match(r.stderr, /lock\.max_speed_kph: must be >= 0/);
    assert.match(r.stderr, /lock\.speed: unknown field/);
    assert.match(r.stderr, /boot\.backend: must be one of real, simulated, none/);
  });

  test('an OS update: install, trial boot, verify and commit by the daemon', async () => {
    assert.match((await sidewalk('ota', 'sim-boot', '-c', config)).stdout, /booted slot A .*OS 1\.0/);
    runtimeTick();
    const install = await sidewalk('ota', 'install', join(dir, 'os-2.0.mender'), '-c', config);
    assert.equal(install.status, 0, install.stderr);
    assert.match(install.stdout, /rebooting/);
    assert.match(install.stderr, /install 100%/);
    assert.match((await sidewalk('ota', 'sim-boot', '-c', config)).stdout, /booted slot B \(partition 3, tryboot\), OS 2\.0/);
    runtimeTick();
    const d = await sidewalk('ota', 'daemon', '--once', '-c', config);
    assert.equal(d.status, 0, d.stderr);
    const s = JSON.parse((await sidewalk('ota', 'status', '--json', '-c', config)).stdout) as StatusJson;
    assert.equal(s.state, 'idle');
    assert.equal(s.last.result, 'success', JSON.stringify(s.last));
    assert.equal(s.autoboot.defaultPartition, 3);
    assert.equal(s.provides['rootfs-image.version'], '2.0');
    assert.equal(s.provides['rootfs-image.sidewalk-app.version'], '1.0.0', 'the app lives on the data partition: an OS update keeps its version');
    assert.match((await sidewalk('ota', 'sim-boot', '-c', config, '--power-cut')).stdout, /booted slot B \(partition 3\), OS 2\.0/);
  });

  test('a model from a URL whose connection drops, then a bad model that rolls itself back', async () => {
    runtimeTick();
    const good = await sidewalk('ota', 'install', `${base}/model-2.0.0.mender`, '-c', config);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /done/);
    assert.equal(readlinkSync(join(dir, 'models', 'current')), 'versions/2.0.0');
    const bad = await sidewalk('ota', 'install', `${base}/model-3.0.0.mender`, '-c', config);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /OTA_UPDATE_FAILED: .*health check failed: not ready/);
    assert.equal(readlinkSync(join(dir, 'models', 'current')), 'versions/2.0.0');
    const s = JSON.parse((await sidewalk('ota', 'status', '--json', '-c', config)).stdout) as StatusJson;
    assert.deepEqual(s.stores.model, { current: '2.0.0', previous: '1.0.0' });
    assert.equal(s.provides['rootfs-image.sidewalk-model.version'], '2.0.0');
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    assert.equal(sha(join(dir, 'models', 'current', 'model.tflite')), sha(join(dir, 'm2.0.0', 'model.tflite')));
  });

  test('a tampered artifact is refused before anything is written', async () => {
    const tampered = Buffer.from(readFileSync(join(dir, 'model-2.0.0.mender')));
    const at = tampered.indexOf(Buffer.from('model-2.0.0'));
    tampered[at + 6] = '9'.charCodeAt(0);
    writeFileSync(join(dir, 'tampered.mender'), tampered);
    const r = await sidewalk('ota', 'install', join(dir, 'tampered.mender'), '-c', config);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ARTIFACT_/);
    assert.equal(readlinkSync(join(dir, 'models', 'current')), 'versions/2.0.0');
  });

  test('the daemon installs what is dropped in its inbox', async () => {
    runtimeTick();
    mkdirSync(join(dir, 'state', 'inbox'), { recursive: true });
    writeFileSync(join(dir, 'state', 'inbox', 'next.url'), `${base}/model-2.1.0.mender\n`);
    const d = await sidewalk('ota', 'daemon', '--once', '-c', config);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(readlinkSync(join(dir, 'models', 'current')), 'versions/2.1.0');
    const s = JSON.parse((await sidewalk('ota', 'status', '--json', '-c', config)).stdout) as StatusJson;
    assert.equal(s.last.artifactName, 'model-2.1.0');
    assert.deepEqual(s.stores.model, { current: '2.1.0', previous: '2.0.0' });
    const rb = await sidewalk('ota', 'rollback', '--kind', 'model', '-c', config);
    assert.equal(rb.status, 0, rb.stderr);
    assert.equal(readlinkSync(join(dir, 'models', 'current')), 'versions/2.0.0');
  });
});
