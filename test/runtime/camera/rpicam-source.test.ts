import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RpicamSource, type RpicamSourceOptions } from '../../../runtime/camera/rpicam-source.js';
import { i420FrameBytes, parseSceneScript, renderScene, rgbToI420, segmentAt } from '../../../runtime/camera/scenes.js';
import type { Frame } from '../../../runtime/types.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { defaultStride, knownStrides, pispStride } from '../../../runtime/camera/i420.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { DEFAULT_CAMERA_OPTIONS } from '../../helpers/camera-options.js';
import { isAlive, meanLuma, sameI420Pixels } from './frame-helpers.js';
import { makeTempDir } from '../../helpers/temp.js';

const FAKE = join(REPO_ROOT, 'test', 'fixtures', 'fake-rpicam-vid');
let tmp = '';

before(async () => {
  tmp = await makeTempDir('sidewalk-rpicam-');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function fakeCamera(env: Record<string, string>, options: Partial<RpicamSourceOptions> = {}): RpicamSource {
  return new RpicamSource({
    width: 128,
    height: 64,
    fps: 30,
    binary: FAKE,
    frameTimeoutMs: 3000,
    restartMinMs: 20,
    restartMaxMs: 200,
    env: { ...process.env, SIDEWALK_LOG: 'silent', ...env },
    ...options,
  });
}

async function nextFrame(source: RpicamSource): Promise<Frame> {
  const frame = await source.next();
  assert.ok(frame, 'live source ended');
  return frame;
}

async function readPid(file: string): Promise<number> {
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.trim()) return Number(text);
    await sleep(10);
  }
}

describe('RpicamSource with the fake rpicam-vid', () => {
  test('frames have the padded stride, the right size and the scripted content', async () => {
    const fps = 30;
    const script = 'side:0.5,street:0.5';
    const source = fakeCamera({ FAKE_RPICAM_SCRIPT: script, FAKE_RPICAM_SEED: '2' }, { width: 100, fps });
    await source.start();
    assert.equal(source.stride, 128);
    const frames: { seq: number; luma: number; data: Uint8Array; capturedAtNs: bigint }[] = [];
    for (let i = 0; i < 30; i++) {
      const f = await nextFrame(source);
      assert.equal(f.format, 'yuv420');
      assert.equal(f.width, 100);
      assert.equal(f.height, 64);
      assert.equal(f.stride, 128);
      assert.equal(f.data.length, i420FrameBytes(128, 64));
      frames.push({ seq: f.seq, luma: meanLuma(f), data: Uint8Array.from(f.data), capturedAtNs: f.capturedAtNs });
    }
    await source.stop();
    assert.equal(source.stats.restarts, 0);
    assert.equal(source.stats.frames, 30);
    // seq counts every frame the camera wrote (dropped ones included), so it names the fake's frame index.
    const parsed = parseSceneScript(script);
    const rgb = new Uint8Array(100 * 64 * 3);
    const expected = new Uint8Array(i420FrameBytes(128, 64));
    for (const f of [frames[0]!, frames[frames.length - 1]!]) {
      const tS = f.seq / fps;
      const { kind, index } = segmentAt(parsed, tS);
      renderScene(kind, { width: 100, height: 64, offsetM: (tS * 12) / 3.6, seed: 2 + index * 7919 }, rgb);
      rgbToI420(rgb, 100, 64, 128, expected);
      assert.ok(sameI420Pixels(f.data, expected, 100, 64, 128), `frame ${f.seq} is not the fake's ${kind} frame`);
    }
    const side = frames.filter((f) => segmentAt(parsed, f.seq / fps).kind === 'side').map((f) => f.luma);
    const street = frames.filter((f) => segmentAt(parsed, f.seq / fps).kind === 'street').map((f) => f.luma);
    assert.ok(side.length > 0 && street.length > 0);
    assert.ok(Math.min(...side) > Math.max(...street) + 20, `sidewalk Y ${Math.min(...side)} vs street Y ${Math.max(...street)}`);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.capturedAtNs > frames[i - 1]!.capturedAtNs);
  });

  test('a killed camera is restarted and frames resume', async () => {
    const pidFile = join(tmp, 'killed.pid');
    const source = fakeCamera({ FAKE_RPICAM_PIDFILE: pidFile });
    await source.start();
    for (let i = 0; i < 5; i++) await nextFrame(source);
    const firstPid = await readPid(pidFile);
    await rm(pidFile);
    process.kill(firstPid, 'SIGKILL');
    const seqBefore = (await nextFrame(source)).seq;
    let resumed = 0;
    while (resumed < 5) if ((await nextFrame(source)).seq > seqBefore) resumed++;
    assert.equal(source.stats.restarts, 1);
    const secondPid = await readPid(pidFile);
    assert.notEqual(secondPid, firstPid);
    await source.stop();
    assert.equal(isAlive(secondPid), false, 'stop() left the camera process running');
  });

  test('a camera that exits by itself is restarted each time', async () => {
    const source = fakeCamera({ FAKE_RPICAM_EXIT_AFTER_FRAMES: '4' });
    await source.start();
    for (let i = 0; i < 10; i++) await nextFrame(source);
    assert.ok(source.stats.restarts >= 2, `restarts ${source.stats.restarts}`);
    await source.stop();
  });

  test('a stalled camera is killed and restarted after frameTimeoutMs', async () => {
    const pidFile = join(tmp, 'stalled.pid');
    const source = fakeCamera({ FAKE_RPICAM_STALL_AFTER_FRAMES: '3', FAKE_RPICAM_PIDFILE: pidFile }, { frameTimeoutMs: 300 });
    await source.start();
    for (let i = 0; i < 3; i++) await nextFrame(source);
    const stalledPid = await readPid(pidFile);
    await rm(pidFile);
    for (let i = 0; i < 3; i++) await nextFrame(source);
    assert.ok(source.stats.restarts >= 1);
    const restartedPid = await readPid(pidFile);
    assert.notEqual(restartedPid, stalledPid);
    for (let i = 0; i < 50 && isAlive(stalledPid); i++) await sleep(20);
    assert.equal(isAlive(stalledPid), false, 'the stalled camera process was left running');
    await source.stop();
  });

  test('a slow consumer gets the newest frame; older ones are counted as dropped', async () => {
    const source = fakeCamera({}, { fps: 60 });
    await source.start();
    const first = await nextFrame(source);
    await sleep(300);
    const latest = await nextFrame(source);
    assert.ok(latest.seq - first.seq >= 2, `seq ${first.seq} -> ${latest.seq}`);
    assert.equal(source.stats.dropped, latest.seq - first.seq - 1);
    await sleep(100); // a newer frame is waiting; stop() must still end the stream
    await source.stop();
    assert.equal(await source.next(), null);
  });

  test("'probe' measures the stride from the camera's own output (a Pi 5 PiSP stride)", async () => {
    // 320 wide: a Pi 4 pads rows to 320, a Pi 5 to 2*align64(160) = 384.
    const source = fakeCamera({ FAKE_RPICAM_STRIDE: '384' }, { width: 320, stride: 'probe' });
    await source.start();
    assert.equal(source.stride, 384);
    const f = await nextFrame(source);
    assert.equal(f.stride, 384);
    assert.equal(f.data.length, i420FrameBytes(384, 64));
    await source.stop();
  });

  test("'probe' refuses a frame size that matches no ISP's stride", async () => {
    const source = fakeCamera({ FAKE_RPICAM_STRIDE: '352' }, { width: 320, stride: 'probe' });
    await assert.rejects(source.start(), (e: unknown) => isSidewalkError(e, 'CAMERA_STRIDE_UNKNOWN') && /320, 384/.test((e as Error).message));
    await source.stop();
  });

  test('the default stride follows the board in the device tree: bcm2712 (Pi 5) -> 128-byte rows', async () => {
    for (const [compatible, stride] of [
      ['raspberrypi,5-model-b\0brcm,bcm2712\0', 384],
      ['raspberrypi,4-model-b\0brcm,bcm2711\0', 320],
    ] as const) {
      const dtRoot = join(tmp, `dt-${stride}`);
      await mkdir(dtRoot, { recursive: true });
      await writeFile(join(dtRoot, 'compatible'), compatible);
      const source = fakeCamera({ FAKE_RPICAM_STRIDE: String(stride) }, { width: 320, dtRoot });
      await source.start();
      assert.equal(source.stride, stride, compatible);
      const f = await nextFrame(source);
      assert.equal(f.data.length, i420FrameBytes(stride, 64));
      await source.stop();
    }
  });

  test('libcamera-vid is used when rpicam-vid is not on PATH (old Bullseye images)', async () => {
    const bin = join(tmp, 'bin');
    await mkdir(bin, { recursive: true });
    await symlink(FAKE, join(bin, 'libcamera-vid'));
    const savedPath = process.env.PATH;
    process.env.PATH = bin;
    try {
      const source = new RpicamSource({ ...DEFAULT_CAMERA_OPTIONS.rpicam, width: 64, height: 32, fps: 30, env: { ...process.env, PATH: savedPath } });
      await source.start();
      assert.match(source.description, /libcamera-vid/);
      assert.equal((await nextFrame(source)).data.length, i420FrameBytes(64, 32));
      await source.stop();
      process.env.PATH = bin.replace('/bin', '/none');
      await assert.rejects(new RpicamSource({ ...DEFAULT_CAMERA_OPTIONS.rpicam, width: 64, height: 32, fps: 30 }).start(), (e: unknown) => isSidewalkError(e, 'CAMERA_BINARY_MISSING'));
    } finally {
      process.env.PATH = savedPath;
    }
  });

  test('a camera that never delivers is restarted with back-off while next() waits; stop() ends the wait', async () => {
    const source = fakeCamera({}, { binary: '/bin/false', restartMinMs: 10, restartMaxMs: 40 });
    await source.start();
    const pending = source.next();
    while (source.stats.restarts < 3) await sleep(20);
    await source.stop();
    assert.equal(await pending, null);
    assert.equal(source.stats.frames, 0);
  });

  test('the fake camera takes its scene script from a JSON file', async () => {
    const scriptFile = join(tmp, 'script.json');
    await writeFile(scriptFile, JSON.stringify([{ kind: 'bike_lane', durationS: 5 }]));
    const source = fakeCamera({ FAKE_RPICAM_SCRIPT: scriptFile, FAKE_RPICAM_SEED: '4' }, { width: 64, height: 48 });
    await source.start();
    const f = await nextFrame(source);
    const rgb = new Uint8Array(64 * 48 * 3);
    const expected = new Uint8Array(i420FrameBytes(64, 48));
    renderScene('bike_lane', { width: 64, height: 48, offsetM: ((f.seq / 30) * 12) / 3.6, seed: 4 }, rgb);
    rgbToI420(rgb, 64, 48, 64, expected);
    assert.ok(sameI420Pixels(f.data, expected, 64, 48, 64));
    await source.stop();
  });

  test('a missing binary is a clear error at start()', async () => {
    const source = new RpicamSource({ ...DEFAULT_CAMERA_OPTIONS.rpicam, width: 64, height: 64, fps: 10, binary: join(tmp, 'no-such-rpicam-vid') });
    await assert.rejects(source.start(), (e: unknown) => isSidewalkError(e, 'CAMERA_BINARY_MISSING') && e.message.includes('no-such-rpicam-vid'));
  });
});

test('ISP strides: Pi 4 pads Y rows to 64 bytes, Pi 5 PiSP to 2*align64(w/2)', () => {
  assert.deepEqual([128, 200, 256, 320, 640, 100].map(defaultStride), [128, 256, 256, 320, 640, 128]);
  assert.deepEqual([128, 200, 256, 320, 640, 100].map(pispStride), [128, 256, 256, 384, 640, 128]);
  assert.deepEqual(knownStrides(320), [320, 384]);
});
