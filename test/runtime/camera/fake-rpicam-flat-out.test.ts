import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { i420FrameBytes, parseSceneScript, renderScene, rgbToI420, segmentAt } from '../../../runtime/camera/scenes.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const FAKE = join(REPO_ROOT, 'test', 'fixtures', 'fake-rpicam-vid');

// The flat-out mode bench:runtime drives: unpaced, one still per script segment, scene time still at --framerate.
test('fake rpicam-vid flat out writes exactly --frames frames, one rendered still per script segment', async () => {
  const [width, height, stride, fps, frames] = [128, 64, 128, 10, 40];
  const script = 'street:2,side:2';
  const { stdout } = await promisify(execFile)(FAKE, ['--codec', 'yuv420', '-o', '-', '--width', String(width), '--height', String(height), '--framerate', String(fps), '--frames', String(frames)], {
    encoding: 'buffer',
    maxBuffer: 1 << 24,
    env: { ...process.env, FAKE_RPICAM_FLAT_OUT: '1', FAKE_RPICAM_SCRIPT: script },
  });
  const size = i420FrameBytes(stride, height);
  assert.equal(stdout.length, frames * size);
  const frame = (n: number) => stdout.subarray(n * size, (n + 1) * size);
  const expected = (tS: number) => {
    const { kind, index } = segmentAt(parseSceneScript(script), tS);
    const rgb = new Uint8Array(width * height * 3);
    renderScene(kind, { width, height, offsetM: (tS * 12) / 3.6, seed: 1 + index * 7919 }, rgb);
    const yuv = new Uint8Array(size);
    rgbToI420(rgb, width, height, stride, yuv);
    return Buffer.from(yuv);
  };
  // 2 s at 10 fps per segment: frames 0-19 street, 20-39 side, each the segment's first frame.
  assert.ok(frame(0).equals(expected(0)));
  assert.ok(frame(19).equals(frame(0)));
  assert.ok(frame(20).equals(expected(2)));
  assert.ok(frame(39).equals(frame(20)));
  assert.ok(!frame(0).equals(frame(20)));
});
