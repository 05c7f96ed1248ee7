/**
 * Bad inputs to `sidewalk run`: each is a clear error naming the thing at fault, a non-zero exit,
 * and the limiter left in its safe state (or, for a bad config, never touched at all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../helpers/paths.js';
import { runCliSync } from '../../helpers/cli.js';
import { makeTempDir } from '../../helpers/temp.js';

const FLOAT_MODEL = join(REPO_ROOT, 'test/fixtures/models/float');

async function runWith(prepare: (dir: string) => Promise<Record<string, unknown>>) {
  const dir = await makeTempDir('bad-');
  try {
    const limiterLog = join(dir, 'limiter.jsonl');
    const config = {
      mode: 'limit',
      camera: { source: 'synthetic', width: 64, height: 64, fps: 10 },
      limiter: { kind: 'simulated', simulated: { log_file: limiterLog } },
      metrics: { enabled: false },
      ...(await prepare(dir)),
    };
    await writeFile(join(dir, 'runtime.yaml'), stringify(config));
    const r = runCliSync(['run', '--config', join(dir, 'runtime.yaml')], { timeoutMs: 60000 });
    const commands = existsSync(limiterLog)
      ? (await readFile(limiterLog, 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { limitKph: number; safe?: true })
      : null;
    return { status: r.code, stderr: r.stderr, commands, dir };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function assertSafe(commands: { limitKph: number; safe?: true }[] | null) {
  assert.ok(commands && commands.length > 0, 'the limiter was driven');
  assert.ok(
    commands.every((c) => c.safe === true && c.limitKph === 6),
    'only safe-state commands',
  );
}

test('missing model: MODEL_FILE_MISSING naming the bundle, limiter safe', async () => {
  const r = await runWith(async (dir) => ({ model: { bundle: join(dir, 'nope') } }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /MODEL_FILE_MISSING/);
  assert.match(r.stderr, /nope/);
  assertSafe(r.commands);
});

test('corrupt model bytes: refused before the interpreter, limiter safe', async () => {
  const r = await runWith(async (dir) => {
    await cp(FLOAT_MODEL, join(dir, 'm'), { recursive: true });
    const path = join(dir, 'm/model.tflite');
    const bytes = await readFile(path);
    bytes.fill(0x41, 0, 64);
    await writeFile(path, bytes);
    return { model: { bundle: join(dir, 'm') } };
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /MODEL_(SHA_MISMATCH|CORRUPT)/);
  assert.match(r.stderr, /model\.tflite/);
  assertSafe(r.commands);
});

test('manifest hash mismatch names file, expected and actual', async () => {
  const r = await runWith(async (dir) => {
    await cp(FLOAT_MODEL, join(dir, 'm'), { recursive: true });
    const manifest = JSON.parse(await readFile(join(dir, 'm/manifest.json'), 'utf8'));
    manifest.files['model.tflite'].sha256 = 'f'.repeat(64);
    await writeFile(join(dir, 'm/manifest.json'), JSON.stringify(manifest));
    return { model: { bundle: join(dir, 'm') } };
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /MODEL_SHA_MISMATCH/);
  assert.match(r.stderr, /f{64}/);
  assertSafe(r.commands);
});

test('a model needing a newer TFLite runtime is refused', async () => {
  const r = await runWith(async () => ({ model: { bundle: join(REPO_ROOT, 'test/fixtures/models/too-new') } }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /MODEL_RUNTIME_TOO_OLD/);
  assert.match(r.stderr, /2\.17/);
  assertSafe(r.commands);
});

test('bad config fields: every one reported, hardware never touched', async () => {
  const r = await runWith(async () => ({ model: { bundle: FLOAT_MODEL, delegate: 'gpu' }, decision: { window_frames: 0 }, camera: { fps: -1 } }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /CONFIG_INVALID/);
  assert.match(r.stderr, /model\.delegate: must be one of xnnpack, cpu, edgetpu/);
  assert.match(r.stderr, /decision\.window_frames: must be >= 1/);
  assert.match(r.stderr, /camera\.fps: must be > 0/);
  assert.equal(r.commands, null, 'the limiter was never opened');
});

test('a replay input that is not a video: CAMERA_NOT_A_VIDEO naming it, limiter safe', async () => {
  const r = await runWith(async (dir) => {
    await writeFile(join(dir, 'ride.mp4'), 'this is not a video\n');
    return { model: { bundle: FLOAT_MODEL }, mode: 'replay', camera: { source: 'replay', width: 64, height: 64, fps: 10, replay: { input: join(dir, 'ride.mp4') } } };
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /CAMERA_NOT_A_VIDEO/);
  assert.match(r.stderr, /ride\.mp4/);
  assertSafe(r.commands);
});
