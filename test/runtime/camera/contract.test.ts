/**
 * The FrameSource contract (runtime/types.ts), run once against every implementation: the simulated
 * camera (fake rpicam-vid), a recording and the synthetic source.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createFrameSource, type CameraOptions } from '../../../runtime/camera/factory.js';
import { i420FrameBytes } from '../../../runtime/camera/scenes.js';
import type { Frame } from '../../../runtime/types.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { REPO_ROOT, DASHCAM_VIDEO } from '../../helpers/paths.js';
import { cameraOptions } from '../../helpers/camera-options.js';

function assertLayout(frame: Frame, width: number, height: number): void {
  assert.equal(frame.width, width);
  assert.equal(frame.height, height);
  if (frame.format === 'rgb24') {
    assert.ok(frame.stride >= width * 3);
    assert.ok(frame.data.length >= frame.stride * (height - 1) + width * 3);
  } else {
    assert.equal(frame.format, 'yuv420');
    assert.ok(frame.stride >= width && frame.stride % 2 === 0);
    assert.ok(frame.data.length >= i420FrameBytes(frame.stride, height));
  }
  assert.equal(typeof frame.capturedAtNs, 'bigint');
}

function describeFrameSourceContract(name: string, options: CameraOptions): void {
  describe(`FrameSource contract: ${name}`, () => {
    test('start, frames with a valid layout and increasing seq/capture time, counted stats, stop', async () => {
      const source = createFrameSource(options);
      assert.ok(source.description.length > 0);
      await source.start();
      let previous: Frame | null = null;
      for (let i = 0; i < 5; i++) {
        const frame = await source.next();
        assert.ok(frame, `frame ${i} missing`);
        assertLayout(frame, options.width, options.height);
        if (previous) {
          assert.ok(frame.seq > previous.seq);
          assert.ok(frame.capturedAtNs > previous.capturedAtNs);
        }
        previous = { ...frame };
      }
      assert.equal(source.stats.frames, 5);
      await source.stop();
      assert.equal(await source.next(), null);
    });
  });
}

describeFrameSourceContract(
  'rpicam (fake rpicam-vid)',
  cameraOptions({
    source: 'rpicam',
    width: 128,
    height: 96,
    fps: 30,
    rpicam: { binary: join(REPO_ROOT, 'test', 'fixtures', 'fake-rpicam-vid'), env: { ...process.env, FAKE_RPICAM_SCRIPT: 'crosswalk:1,bike_lane:1' } },
  }),
);
describeFrameSourceContract(
  'replay (video)',
  cameraOptions({
    source: 'replay',
    width: 160,
    height: 90,
    fps: 15,
    replay: { input: DASHCAM_VIDEO, realtime: false },
  }),
);
describeFrameSourceContract(
  'synthetic (yuv420, real time)',
  cameraOptions({
    source: 'synthetic',
    width: 100,
    height: 50,
    fps: 50,
    synthetic: { script: 'side:1', format: 'yuv420', realtime: true },
  }),
);

test('createFrameSource refuses a replay without input and an unknown source', () => {
  assert.throws(
    () => createFrameSource(cameraOptions({ source: 'replay', width: 64, height: 64, fps: 10, replay: { input: null } })),
    (e: unknown) => isSidewalkError(e, 'CAMERA_OPTIONS_INVALID'),
  );
  assert.throws(
    () => createFrameSource(cameraOptions({ source: 'usb' as 'rpicam', width: 64, height: 64, fps: 10 })),
    (e: unknown) => isSidewalkError(e, 'CAMERA_OPTIONS_INVALID'),
  );
});
