import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SyntheticSource } from '../../../runtime/camera/synthetic-source.js';
import { i420FrameBytes, parseSceneScript, renderScene, rgbToI420, sceneAt } from '../../../runtime/camera/scenes.js';
import type { Frame } from '../../../runtime/types.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { meanLuma } from './frame-helpers.js';
import { manualClock } from '../../helpers/manual-clock.js';

async function drain(source: { next(): Promise<Frame | null> }): Promise<{ seq: number; mediaTimeMs: number; luma: number }[]> {
  const out = [];
  for (let f = await source.next(); f; f = await source.next()) out.push({ seq: f.seq, mediaTimeMs: f.mediaTimeMs!, luma: meanLuma(f) });
  return out;
}

describe('SyntheticSource', () => {
  test('as fast as possible: every frame of the script once, then null; content follows the script', async () => {
    const script = 'side:0.5,street:0.5';
    const source = new SyntheticSource({ script, width: 64, height: 48, fps: 20, realtime: false, seed: 2 });
    await source.start();
    const first = await source.next();
    assert.ok(first);
    assert.equal(first.format, 'rgb24');
    assert.equal(first.stride, 64 * 3);
    // Frame 0 is the side scene of segment 0, rendered exactly as scenes.ts renders it.
    const expected = new Uint8Array(64 * 48 * 3);
    renderScene('side', { width: 64, height: 48, offsetM: 0, seed: 2 }, expected);
    assert.deepEqual(first.data.subarray(0, expected.length), expected);
    const rest = await drain(source);
    assert.equal(rest.length, 19);
    assert.deepEqual(
      rest.map((f) => f.mediaTimeMs),
      Array.from({ length: 19 }, (_, i) => (i + 1) * 50),
    );
    const parsed = parseSceneScript(script);
    const side = rest.filter((f) => sceneAt(parsed, f.mediaTimeMs / 1000) === 'side').map((f) => f.luma);
    const street = rest.filter((f) => sceneAt(parsed, f.mediaTimeMs / 1000) === 'street').map((f) => f.luma);
    assert.ok(Math.min(...side) > Math.max(...street), `side ${Math.min(...side)} vs street ${Math.max(...street)}`);
    assert.deepEqual(source.stats, { frames: 20, dropped: 0, restarts: 0 });
    assert.equal(await source.next(), null);
    await source.stop();
  });

  test('yuv420 frames are laid out like rpicam-vid (padded stride)', async () => {
    const source = new SyntheticSource({ script: 'crosswalk:1', width: 100, height: 60, fps: 10, realtime: false, format: 'yuv420', seed: 4 });
    await source.start();
    const frame = await source.next();
    assert.ok(frame);
    assert.equal(frame.stride, 128);
    assert.equal(frame.data.length, i420FrameBytes(128, 60));
    const rgb = new Uint8Array(100 * 60 * 3);
    renderScene('crosswalk', { width: 100, height: 60, offsetM: 0, seed: 4 }, rgb);
    const yuv = new Uint8Array(i420FrameBytes(128, 60));
    rgbToI420(rgb, 100, 60, 128, yuv);
    assert.deepEqual(frame.data, yuv);
    await source.stop();
  });

  test('real time: a slow consumer gets the current frame and the skipped ones are counted', async () => {
    const clock = manualClock();
    const source = new SyntheticSource({ script: 'street:10', seed: 1, width: 32, height: 24, fps: 50, realtime: true, clock });
    await source.start();
    const first = await source.next();
    assert.equal(first?.mediaTimeMs, 0);
    clock.advance(300);
    const later = await source.next();
    assert.ok(later);
    // 300 ms have passed: frame 15 (300 ms) is current, frames 1..14 were skipped.
    assert.equal(later.mediaTimeMs, 300);
    assert.equal(source.stats.dropped, 14);
    assert.equal(later.seq, 15);
    // Never ahead of the clock: the next frame waits exactly until its media time.
    const next = await source.next();
    assert.equal(next!.mediaTimeMs, 320);
    assert.equal(Number(next!.capturedAtNs - first!.capturedAtNs) / 1e6, 320);
    await source.stop();
    assert.equal(await source.next(), null);
  });

  test('stop() ends a pending real-time wait with null', async () => {
    const source = new SyntheticSource({ script: 'side:100', width: 16, height: 16, fps: 0.5, seed: 1 });
    await source.start();
    assert.ok(await source.next());
    const pending = source.next();
    await source.stop();
    assert.equal(await pending, null);
  });

  test('invalid options are refused', () => {
    assert.throws(
      () => new SyntheticSource({ script: 'side:1', width: 0, height: 16, fps: 10, seed: 1 }),
      (e: unknown) => isSidewalkError(e, 'CAMERA_OPTIONS_INVALID'),
    );
    assert.throws(
      () => new SyntheticSource({ script: 'sidewalk:1', width: 16, height: 16, fps: 10, seed: 1 }),
      (e: unknown) => isSidewalkError(e, 'CAMERA_SCENE_SCRIPT'),
    );
  });
});
