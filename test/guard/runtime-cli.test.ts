/**
 * The bad-input guard for the runtime's commands (`run`, `run --check`, `replay`, `config check`) and
 * `artifact verify|model|app`: every bad input ends the way every command must fail (one coded
 * `sidewalk: CODE: message` line, non-zero exit, no stack trace, within seconds, nothing written where
 * the output would have gone; test/helpers/cli-guard.ts). The runtime's own start-up failures are in
 * the table too, each component failing in turn (limiter, model, recorder, metrics port, speed source,
 * camera), and the limiter is left in its safe state; so is SIGTERM during start-up and while running.
 * We run as root: "unreadable" paths are ones that fail for root too (under a file, /proc, /sys).
 * New commands of these areas join the table when they are added.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { cp, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { expectCleanFailure, type BadInputCase } from '../helpers/cli-guard.js';
import { spawnCli } from '../helpers/cli.js';
import { DASHCAM_VIDEO, FIXTURES, MENDER_REAL_DIR, REPO_ROOT } from '../helpers/paths.js';
import { legacyRows, writeLegacyRun } from '../helpers/legacy-writer.js';
import { makeTempDirSync } from '../helpers/temp.js';

const DIR = makeTempDirSync('guard-runtime-');
const at = (...p: string[]) => join(DIR, ...p);
const MODEL = join(FIXTURES, 'models/float');
const DEMO_MODEL = join(REPO_ROOT, 'demo/model');
const ARTIFACT = join(MENDER_REAL_DIR, 'simpledummy_1.0.mender');
/** A file that exists, for "a path under a file" (fails with ENOTDIR, also for root). */
const A_FILE = at('plain.txt');
const LIMITER_LOG = at('limiter.jsonl');
/** Fails for root too: creating anything in /proc or /sys is refused by the kernel. */
const UNDER_PROC = '/proc/nope/x.jsonl';
const READ_ONLY_FOLDER_FILE = '/sys/x.jsonl';

let busyPort: Server;

/** A runtime config with a synthetic camera and a simulated limiter logging to LIMITER_LOG, plus overrides. */
function runtimeConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: 'limit',
    model: { bundle: MODEL },
    camera: { source: 'synthetic', width: 64, height: 64, fps: 10 },
    limiter: { kind: 'simulated', simulated: { log_file: LIMITER_LOG } },
    metrics: { enabled: false },
    ...overrides,
  };
}

async function writeConfig(name: string, config: unknown): Promise<string> {
  await writeFile(at(name), typeof config === 'string' ? config : stringify(config));
  return at(name);
}

before(async () => {
  await writeFile(A_FILE, 'not a folder\n');
  await writeFile(at('empty'), '');
  await writeFile(at('text.mp4'), 'this is not a video\n');
  await mkdir(at('empty-folder'));
  await mkdir(at('out-folder'));
  // The first 100 KB of a real clip: ffmpeg decodes a few frames and reports errors, with exit code 0.
  await writeFile(at('truncated.mp4'), (await readFile(DASHCAM_VIDEO)).subarray(0, 100_000));
  await writeFile(at('truncated.mender'), (await readFile(ARTIFACT)).subarray(0, 3000));
  // Legacy run folders: a non-numeric field, a short row, extra columns, raw_data.txt as a folder.
  const rows = legacyRows(3);
  await writeLegacyRun(at('run-nonnumeric'), { raw: rows.raw });
  const good = (await readFile(at('run-nonnumeric/raw_data.txt'), 'utf8')).split('\n');
  for (const name of ['run-short', 'run-extra', 'run-raw-folder']) await cp(at('run-nonnumeric'), at(name), { recursive: true });
  await writeFile(at('run-nonnumeric/raw_data.txt'), `${good[0]!.replace(/^(\d+),[^,]+/, '$1,abc')}\n`);
  await writeFile(at('run-short/raw_data.txt'), `${good[0]!.split(',').slice(0, 5).join(',')}\n`);
  await writeFile(at('run-extra/raw_data.txt'), `${good[0]},1,2\n`);
  await rm(at('run-raw-folder/raw_data.txt'));
  await mkdir(at('run-raw-folder/raw_data.txt'));
  await mkdir(at('ride-bad-json'));
  await writeFile(at('ride-bad-json/ride.json'), '{"format": "sidewalk-ride/1", "ride_id": ');
  await mkdir(at('ride-recording'));
  await writeFile(
    at('ride-recording/ride.json'),
    JSON.stringify({
      format: 'sidewalk-ride/1',
      ride_id: 'r1',
      device: 'd',
      location: 'x',
      model: null,
      started_at: '2026-01-01T00:00:00Z',
      ended_at: null,
      status: 'recording',
      frames: { kind: 'jpeg', dir: 'frames', count: 0 },
    }),
  );
  // A model bundle whose model file was cut short.
  await cp(MODEL, at('model-truncated'), { recursive: true });
  await truncate(at('model-truncated/model.tflite'), 100);
  // A FIFO nobody reads, as the limiter's log: opening it must fail, not wait forever.
  execFileSync('mkfifo', [at('fifo')]);

  await writeConfig('unknown-key.yaml', { ...runtimeConfig(), speedd: { full_kph: 20 } });
  await writeConfig('wrong-type.yaml', runtimeConfig({ camera: { source: 'synthetic', width: 'wide' } }));
  await writeConfig('sidewalk-above-full.yaml', runtimeConfig({ speed: { full_kph: 10, sidewalk_kph: 12, fail_safe_kph: 6 } }));
  await writeConfig('fail-safe-above-sidewalk.yaml', runtimeConfig({ speed: { full_kph: 25, sidewalk_kph: 6, fail_safe_kph: 20 } }));
  await writeConfig('truncated.yaml', 'mode: limit\nmodel:\n  bundle: [unclosed\n');
  await writeConfig('model-missing.yaml', runtimeConfig({ model: { bundle: at('no-such-model') } }));
  await writeConfig('model-is-file.yaml', runtimeConfig({ model: { bundle: A_FILE } }));
  await writeConfig('model-truncated.yaml', runtimeConfig({ model: { bundle: at('model-truncated') } }));
  await writeConfig('record-under-file.yaml', runtimeConfig({ mode: 'record', recording: { dir: join(A_FILE, 'rides') } }));
  await writeConfig('record-under-proc.yaml', runtimeConfig({ mode: 'record', recording: { dir: '/proc/nope/rides' } }));
  await writeConfig('camera-missing.yaml', runtimeConfig({ camera: { source: 'rpicam', rpicam: { binary: at('no-such-rpicam-vid') } } }));
  await writeConfig('camera-not-video.yaml', runtimeConfig({ mode: 'replay', camera: { source: 'replay', replay: { input: at('text.mp4') } } }));
  const limiterLog = (file: string) => runtimeConfig({ limiter: { kind: 'simulated', simulated: { log_file: file } } });
  await writeConfig('limiter-under-file.yaml', limiterLog(join(A_FILE, 'limiter.jsonl')));
  await writeConfig('limiter-under-proc.yaml', limiterLog(UNDER_PROC));
  await writeConfig('limiter-full.yaml', limiterLog('/dev/full'));
  await writeConfig('limiter-fifo.yaml', limiterLog(at('fifo')));
  await writeConfig('limiter-gpio.yaml', runtimeConfig({ limiter: { kind: 'gpio', gpio: { line: 'NO_SUCH_LINE' } } }));
  await writeConfig('limiter-serial.yaml', runtimeConfig({ limiter: { kind: 'serial', serial: { device: at('no-such-tty') } } }));
  await writeConfig('sigterm-startup.yaml', runtimeConfig());
  await writeConfig('gps-missing.yaml', runtimeConfig({ speed_source: { kind: 'nmea', nmea: { device: at('no-such-gps') } } }));
  busyPort = createServer();
  await new Promise<void>((r) => busyPort.listen(0, '127.0.0.1', () => r()));
  const port = (busyPort.address() as { port: number }).port;
  await writeConfig('metrics-busy.yaml', runtimeConfig({ metrics: { enabled: true, host: '127.0.0.1', port } }));
});

after(async () => {
  await new Promise<void>((r) => busyPort.close(() => r()));
  await rm(DIR, { recursive: true, force: true });
});

const STILL_RUNNING = /still running .* after/;

/** The contract, plus: the process ended by itself (no leaked handle forced the exit). */
async function guard(c: BadInputCase): Promise<string> {
  const run = await expectCleanFailure(c);
  assert.doesNotMatch(run.stderr, STILL_RUNNING, `something was not released:\n${run.stderr}`);
  return run.stderr;
}

/** Commands of the simulated limiter's log: after a failed start-up, only its safe state. */
async function assertLimiterOnlySafe(): Promise<void> {
  const lines = (await readFile(LIMITER_LOG, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { limitKph: number; safe?: true });
  assert.ok(lines.length > 0, 'the limiter was opened (into its safe state)');
  assert.ok(
    lines.every((c) => c.safe === true && c.limitKph === 6),
    `only safe-state commands: ${JSON.stringify(lines)}`,
  );
}

describe('config check', { concurrency: 2 }, () => {
  const cases: [string, string, string][] = [
    ['missing file', at('no-such.yaml'), 'CONFIG_UNREADABLE'],
    ['empty file', at('empty'), 'CONFIG_INVALID'],
    ['a folder', at('empty-folder'), 'CONFIG_UNREADABLE'],
    ['a path under a file', join(A_FILE, 'runtime.yaml'), 'CONFIG_UNREADABLE'],
    ['wrong kind of file (a video)', at('truncated.mp4'), 'CONFIG_INVALID'],
    ['truncated YAML', at('truncated.yaml'), 'CONFIG_INVALID'],
    ['unknown key', at('unknown-key.yaml'), 'CONFIG_INVALID'],
    ['wrong key type', at('wrong-type.yaml'), 'CONFIG_INVALID'],
    ['speed.sidewalk_kph above speed.full_kph', at('sidewalk-above-full.yaml'), 'CONFIG_INVALID'],
    ['speed.fail_safe_kph above speed.sidewalk_kph', at('fail-safe-above-sidewalk.yaml'), 'CONFIG_INVALID'],
  ];
  for (const [name, file, code] of cases) {
    test(name, async () => {
      await guard({ name, args: ['config', 'check', file], code });
    });
  }
  test('the cross-field violations name both fields', async () => {
    assert.match(
      await guard({ name: 'sidewalk above full', args: ['config', 'check', at('sidewalk-above-full.yaml')], code: 'CONFIG_INVALID' }),
      /speed\.sidewalk_kph: 12 must be below speed\.full_kph \(10\)/,
    );
    assert.match(
      await guard({ name: 'fail-safe above sidewalk', args: ['config', 'check', at('fail-safe-above-sidewalk.yaml')], code: 'CONFIG_INVALID' }),
      /speed\.fail_safe_kph: 20 must not exceed speed\.sidewalk_kph \(6\)/,
    );
  });
});

describe('run --check', { concurrency: 2 }, () => {
  const cases: [string, string, string | RegExp][] = [
    ['missing config', at('no-such.yaml'), 'CONFIG_UNREADABLE'],
    ['invalid config', at('sidewalk-above-full.yaml'), 'CONFIG_INVALID'],
    ['unknown key', at('unknown-key.yaml'), 'CONFIG_INVALID'],
    ['model bundle missing', at('model-missing.yaml'), 'MODEL_FILE_MISSING'],
    ['model bundle is a file', at('model-is-file.yaml'), /^MODEL_/],
    ['model file truncated', at('model-truncated.yaml'), /^MODEL_/],
    ['record mode, recording.dir under a file', at('record-under-file.yaml'), 'CONFIG_PATH_UNWRITABLE'],
    ['record mode, recording.dir under /proc', at('record-under-proc.yaml'), 'CONFIG_PATH_UNWRITABLE'],
  ];
  for (const [name, file, code] of cases) {
    test(name, async () => {
      await guard({ name, args: ['run', '--check', '--config', file], code, mustNotExist: [join(A_FILE, 'rides')] });
    });
  }
});

describe('run: each component failing at start-up in turn', () => {
  const cases: [string, string, string | RegExp][] = [
    ['model missing', 'model-missing.yaml', 'MODEL_FILE_MISSING'],
    ['model truncated', 'model-truncated.yaml', /^MODEL_/],
    ['camera program missing', 'camera-missing.yaml', 'CAMERA_BINARY_MISSING'],
    ['camera input not a video', 'camera-not-video.yaml', 'CAMERA_NOT_A_VIDEO'],
    ['recorder: recording.dir under a file', 'record-under-file.yaml', 'RECORDER_OPEN_FAILED'],
    ['recorder: recording.dir under /proc', 'record-under-proc.yaml', 'RECORDER_OPEN_FAILED'],
    ['metrics port already in use', 'metrics-busy.yaml', 'METRICS_PORT_UNAVAILABLE'],
    ['GPS speed source whose device does not exist', 'gps-missing.yaml', 'SERIAL_OPEN_FAILED'],
  ];
  for (const [name, file, code] of cases) {
    test(`${name}: coded exit, limiter left safe`, async () => {
      await rm(LIMITER_LOG, { force: true });
      await guard({ name, args: ['run', '--config', at(file)], code });
      await assertLimiterOnlySafe();
    });
  }
  const limiterCases: [string, string, string | RegExp][] = [
    ['limiter log under a file', 'limiter-under-file.yaml', 'LIMITER_OPEN_FAILED'],
    ["limiter log under /proc (Node's recursive mkdir would spin there)", 'limiter-under-proc.yaml', 'LIMITER_OPEN_FAILED'],
    ['limiter log that cannot be written (/dev/full)', 'limiter-full.yaml', 'LIMITER_WRITE_FAILED'],
    ['limiter log a FIFO nobody reads', 'limiter-fifo.yaml', 'LIMITER_OPEN_FAILED'],
    ['GPIO limiter whose line does not exist', 'limiter-gpio.yaml', /^LIMITER_GPIO_/],
    ['serial limiter whose device does not exist', 'limiter-serial.yaml', 'SERIAL_OPEN_FAILED'],
  ];
  for (const [name, file, code] of limiterCases) {
    test(`${name}: fails fast with a coded error`, async () => {
      await guard({ name, args: ['run', '--config', at(file)], code });
    });
  }
});

/**
 * Starts `run`, waits until `ready` holds, sends SIGTERM and returns how it ended. The limiter is the
 * first thing start-up opens, so "its log exists" means start-up is under way (the model still loading).
 */
async function terminateWhen(config: string, logFile: string, ready: (log: string) => boolean): Promise<{ code: number | null; signal: string | null; stderr: string; log: string }> {
  await rm(logFile, { force: true });
  const child = spawnCli(['run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { SIDEWALK_LOG: 'info' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    for (;;) {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      if (ready(text)) break;
      if (child.exitCode !== null) assert.fail(`exited before SIGTERM:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGTERM');
    const end = await exited;
    return { ...end, stderr, log: await readFile(logFile, 'utf8') };
  } finally {
    clearTimeout(killer);
  }
}

describe('run: SIGTERM ends the process with the limiter safe', () => {
  const commands = (text: string) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { limitKph: number; safe?: true });
  test('during start-up (the model still loading): exit 0, nothing left running', async () => {
    const r = await terminateWhen(at('sigterm-startup.yaml'), LIMITER_LOG, (text) => text.length > 0);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, STILL_RUNNING);
    assert.doesNotMatch(r.stderr, /first frame classified/, 'the signal came during start-up');
    assert.ok(
      commands(r.log).every((c) => c.safe === true),
      r.log,
    );
  });
  test('while running: exit 0, the last command is the safe state', async () => {
    const r = await terminateWhen(at('sigterm-startup.yaml'), LIMITER_LOG, (text) => commands(text).some((c) => c.safe !== true));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, STILL_RUNNING);
    const all = commands(r.log);
    assert.equal(all.at(-1)!.safe, true);
    assert.equal(all.at(-1)!.limitKph, 6);
  });
});

test('run: a limiter that stops accepting commands while running ends the run with a coded error (systemd restarts it)', async () => {
  // The simulated limiter's log is a FIFO we read for a while, then close: its writes then fail (EPIPE).
  const fifo = at('fifo-closing');
  execFileSync('mkfifo', [fifo]);
  const config = await writeConfig('limiter-closing.yaml', runtimeConfig({ limiter: { kind: 'simulated', simulated: { log_file: fifo } } }));
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  let seen = '';
  let finished = false;
  const stopReading = (async () => {
    const buf = Buffer.alloc(65536);
    // Until a command other than the safe state has arrived: the service is running and actuating.
    while (!finished && !/"limitKph":(?!6,)/.test(seen)) {
      try {
        const n = readSync(reader, buf);
        seen += buf.subarray(0, n).toString();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    closeSync(reader);
  })();
  const stderr = await guard({ name: 'limiter stops accepting', args: ['run', '--config', config], code: 'LIMITER_WRITE_FAILED', timeoutMs: 60_000 }).finally(() => (finished = true));
  await stopReading;
  assert.match(seen, /"limitKph":(?!6,)/, 'the service was running when its limiter failed');
  assert.match(stderr, /EPIPE/);
});

describe('replay', { concurrency: 2 }, () => {
  const replay = (input: string, ...more: string[]) => ['replay', input, '--model', DEMO_MODEL, ...more];
  const out = (name: string) => at(`${name}.jsonl`);
  const cases: BadInputCase[] = [
    { name: 'missing input', args: replay(at('no-such.mp4'), '--out', out('missing')), code: 'CAMERA_INPUT_MISSING', mustNotExist: [out('missing')] },
    { name: 'empty file', args: replay(at('empty')), code: 'CAMERA_NOT_A_VIDEO' },
    { name: 'wrong kind of file (text)', args: replay(at('text.mp4'), '--out', out('text')), code: 'CAMERA_NOT_A_VIDEO', mustNotExist: [out('text')] },
    { name: 'folder without images', args: replay(at('empty-folder')), code: 'CAMERA_INPUT_EMPTY' },
    { name: 'ride folder whose ride.json is not JSON', args: replay(at('ride-bad-json')), code: 'DATA_RIDE_MALFORMED' },
    { name: 'ride folder still recording', args: replay(at('ride-recording')), code: 'DATA_RIDE_INCOMPLETE' },
    { name: 'truncated video with --strict', args: replay(at('truncated.mp4'), '--strict', '--out', out('trunc')), code: 'CAMERA_DECODE_ERRORS', mustNotExist: [out('trunc')], timeoutMs: 30_000 },
    { name: 'legacy run: non-numeric field', args: replay(at('run-nonnumeric'), '--out', out('nonnum')), code: 'DATA_LEGACY_MALFORMED', mustNotExist: [out('nonnum')] },
    { name: 'legacy run: short row, --json', args: replay(at('run-short'), '--json'), code: 'DATA_LEGACY_MALFORMED' },
    { name: 'legacy run: extra columns', args: replay(at('run-extra')), code: 'DATA_LEGACY_MALFORMED' },
    { name: 'legacy run: raw_data.txt is a folder', args: replay(at('run-raw-folder')), code: 'DATA_LEGACY_MALFORMED' },
    { name: 'model missing', args: ['replay', DASHCAM_VIDEO, '--model', at('no-such-model')], code: 'MODEL_FILE_MISSING' },
    { name: 'invalid --config', args: replay(DASHCAM_VIDEO, '--config', at('sidewalk-above-full.yaml')), code: 'CONFIG_INVALID' },
    { name: '--out under /proc', args: replay(DASHCAM_VIDEO, '--out', UNDER_PROC), code: 'OUTPUT_UNWRITABLE' },
    { name: '--out in a read-only folder (/sys)', args: replay(DASHCAM_VIDEO, '--out', READ_ONLY_FOLDER_FILE), code: 'OUTPUT_UNWRITABLE', mustNotExist: [READ_ONLY_FOLDER_FILE] },
    { name: '--out under a file', args: replay(DASHCAM_VIDEO, '--out', join(A_FILE, 'x.jsonl')), code: 'OUTPUT_UNWRITABLE' },
    { name: '--out onto a folder', args: replay(DASHCAM_VIDEO, '--out', at('out-folder')), code: 'OUTPUT_IS_FOLDER' },
    { name: '--limiter-log under /proc', args: replay(DASHCAM_VIDEO, '--limiter-log', UNDER_PROC), code: 'LIMITER_OPEN_FAILED' },
    { name: '--metrics-port abc', args: replay(DASHCAM_VIDEO, '--metrics-port', 'abc'), code: 'CLI_USAGE' },
    { name: '--metrics-port 70000', args: replay(DASHCAM_VIDEO, '--metrics-port', '70000'), code: 'CLI_USAGE' },
    { name: '--fps 0', args: replay(at('run-extra'), '--fps', '0'), code: 'CLI_USAGE' },
    { name: '--fps -5', args: replay(at('run-extra'), '--fps', '-5'), code: 'CLI_USAGE' },
    { name: '--fps abc', args: replay(at('run-extra'), '--fps', 'abc'), code: 'CLI_USAGE' },
    { name: 'no --model', args: ['replay', DASHCAM_VIDEO], code: 'REPLAY_MODEL_REQUIRED' },
    { name: 'two inputs', args: ['replay', DASHCAM_VIDEO, DASHCAM_VIDEO, '--model', DEMO_MODEL], code: 'CLI_USAGE' },
    { name: '`config` without a subcommand', args: ['config'], code: 'CLI_USAGE' },
    { name: '`artifact` without a subcommand', args: ['artifact'], code: 'CLI_USAGE' },
  ];
  for (const c of cases) test(c.name, async () => void (await guard(c)));
});

describe('artifact', { concurrency: 2 }, () => {
  const out = (name: string) => at(`${name}.mender`);
  const cases: BadInputCase[] = [
    { name: 'verify: missing file', args: ['artifact', 'verify', at('no-such.mender')], code: 'ARTIFACT_READ_FAILED' },
    { name: 'verify: empty file', args: ['artifact', 'verify', at('empty')], code: 'ARTIFACT_TRUNCATED' },
    { name: 'verify: a folder', args: ['artifact', 'verify', at('empty-folder')], code: 'ARTIFACT_READ_FAILED' },
    { name: 'verify: wrong kind of file', args: ['artifact', 'verify', at('text.mp4')], code: /^ARTIFACT_/ },
    { name: 'verify: truncated artifact', args: ['artifact', 'verify', at('truncated.mender'), '--allow-unsigned'], code: /^ARTIFACT_/ },
    { name: 'verify: missing key file', args: ['artifact', 'verify', ARTIFACT, '-k', at('no-such.pem')], code: 'ARTIFACT_KEY_INVALID' },
    { name: 'model: missing bundle', args: ['artifact', 'model', at('no-such-model'), '--unsigned', '-t', 'pi4', '-o', out('m1')], code: 'BUILD_BUNDLE_INVALID', mustNotExist: [out('m1')] },
    { name: 'model: bundle is a file', args: ['artifact', 'model', A_FILE, '--unsigned', '-t', 'pi4', '-o', out('m2')], code: /^BUILD_/, mustNotExist: [out('m2')] },
    { name: 'model: missing signing key', args: ['artifact', 'model', MODEL, '-k', at('no-such.pem'), '-t', 'pi4', '-o', out('m3')], code: 'BUILD_INVALID_OPTION', mustNotExist: [out('m3')] },
    { name: 'model: --out is a folder', args: ['artifact', 'model', MODEL, '--unsigned', '-t', 'pi4', '-o', at('out-folder')], code: 'BUILD_INVALID_OPTION' },
    { name: 'model: --out under /proc', args: ['artifact', 'model', MODEL, '--unsigned', '-t', 'pi4', '-o', '/proc/nope/m.mender'], code: 'BUILD_INVALID_OPTION' },
    { name: 'app: neither --key nor --unsigned', args: ['artifact', 'app', '-t', 'pi4', '-o', out('a1')], code: 'BUILD_INVALID_OPTION', mustNotExist: [out('a1')] },
    { name: 'app: missing signing key', args: ['artifact', 'app', '-k', at('no-such.pem'), '-t', 'pi4', '-o', out('a2')], code: 'BUILD_INVALID_OPTION', mustNotExist: [out('a2')] },
    { name: 'keygen: --out under /proc', args: ['artifact', 'keygen', '--type', 'ec', '--out', '/proc/nope/keys'], code: 'BUILD_KEY_UNWRITABLE' },
    { name: 'keygen: --out under a file', args: ['artifact', 'keygen', '--type', 'ec', '--out', join(A_FILE, 'keys')], code: 'BUILD_KEY_UNWRITABLE' },
    { name: 'keygen: unknown --type', args: ['artifact', 'keygen', '--type', 'dsa', '--out', at('keys')], code: 'BUILD_INVALID_OPTION', mustNotExist: [at('keys')] },
    { name: 'app: --out under a file', args: ['artifact', 'app', '--unsigned', '-t', 'pi4', '-o', join(A_FILE, 'a.mender')], code: 'BUILD_INVALID_OPTION' },
  ];
  for (const c of cases) test(c.name, async () => void (await guard(c)));
});
