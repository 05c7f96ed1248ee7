import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReplaySource, legacyMediaTimes } from '../../../runtime/camera/replay-source.js';
import { createFrameSource } from '../../../runtime/camera/factory.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { DASHCAM_VIDEO } from '../../helpers/paths.js';
import { cameraOptions } from '../../helpers/camera-options.js';
import { manualClock } from '../../helpers/manual-clock.js';
import { meanLuma } from './frame-helpers.js';
import { writeLegacyTexts } from '../../helpers/legacy-writer.js';
import { makeTempDir } from '../../helpers/temp.js';

const VIDEO = DASHCAM_VIDEO;
let tmp = '';

before(async () => {
  tmp = await makeTempDir('sidewalk-replay-');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes a solid-grey JPEG of the given size with ffmpeg. */
function writeGreyJpeg(path: string, grey: number, width = 64, height = 48): void {
  const rgb = Buffer.alloc(width * height * 3, grey);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-i', '-', '-frames:v', '1', '-q:v', '2', path], { input: rgb });
}

describe('ReplaySource: video file', () => {
  test('delivers all 221 frames of the real dashcam video as fast as possible, in media-time order', async () => {
    const source = createFrameSource(cameraOptions({ source: 'replay', width: 192, height: 108, fps: 15, replay: { input: VIDEO, realtime: false } }));
    await source.start();
    const times: number[] = [];
    for (let f = await source.next(); f; f = await source.next()) {
      assert.equal(f.format, 'rgb24');
      assert.equal(f.width, 192);
      assert.equal(f.height, 108);
      assert.equal(f.stride, 192 * 3);
      assert.equal(f.data.length, 192 * 108 * 3);
      assert.equal(f.seq, times.length);
      times.push(f.mediaTimeMs!);
    }
    assert.equal(times.length, 221);
    assert.equal(times[0], 0);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!, `mediaTimeMs not increasing at frame ${i}`);
    assert.equal(times[220], 220 * 40); // 25 fps
    assert.deepEqual(source.stats, { frames: 221, dropped: 0, restarts: 0 });
    assert.match(source.description, /dashcam-solidWhiteRight\.mp4 192x108@25/);
    await source.stop();
  });

  test('real time: a slow consumer skips the frames whose time has passed; as fast as possible does not', async () => {
    for (const realtime of [true, false]) {
      const clock = manualClock();
      const source = new ReplaySource({ input: VIDEO, width: 96, height: 54, realtime, clock });
      await source.start();
      const first = await source.next();
      assert.equal(first?.mediaTimeMs, 0);
      clock.advance(400);
      const later = await source.next();
      assert.ok(later);
      if (realtime) {
        // 400 ms passed: frames 1..9 (40..360 ms) were overtaken by their successors; frame 10 is current.
        assert.equal(later.mediaTimeMs, 400);
        assert.equal(source.stats.dropped, 9);
        assert.equal(later.seq, 10);
        // The next frame waits for its media time, and no longer.
        const next = await source.next();
        assert.equal(next!.mediaTimeMs, 440);
        assert.equal(Number(next!.capturedAtNs - first!.capturedAtNs) / 1e6, 440);
      } else {
        assert.equal(later.mediaTimeMs, 40);
        assert.equal(source.stats.dropped, 0);
        assert.equal(clock.elapsedMs, 400, 'as fast as possible never waits');
      }
      await source.stop();
      assert.equal(await source.next(), null);
    }
  });

  test('the native size is used when no size is asked for', async () => {
    const source = new ReplaySource({ input: VIDEO, realtime: false });
    await source.start();
    const f = await source.next();
    assert.equal(f?.width, 960);
    assert.equal(f?.height, 540);
    assert.ok(meanLuma(f!) > 20);
    await source.stop();
  });

  test('a file that is not a video is CAMERA_NOT_A_VIDEO naming it; a missing one CAMERA_INPUT_MISSING', async () => {
    const text = join(tmp, 'notes.txt');
    await writeFile(text, 'this is not a video\n'.repeat(50));
    await assert.rejects(new ReplaySource({ input: text }).start(), (e: unknown) => isSidewalkError(e, 'CAMERA_NOT_A_VIDEO') && e.message.includes(text));
    const jpeg = join(tmp, 'still.jpg');
    writeGreyJpeg(jpeg, 100);
    await assert.rejects(new ReplaySource({ input: jpeg }).start(), (e: unknown) => isSidewalkError(e, 'CAMERA_NOT_A_VIDEO') && e.message.includes('still.jpg'));
    await assert.rejects(new ReplaySource({ input: join(tmp, 'nope.mp4') }).start(), (e: unknown) => isSidewalkError(e, 'CAMERA_INPUT_MISSING'));
  });
});

describe('ReplaySource: folders', () => {
  test('a JPEG folder replays in natural order (frame2 before frame10), any image size, at the configured fps', async () => {
    const dir = join(tmp, 'jpegs');
    await mkdir(dir);
    // Natural order 1, 2, 9, 10, 11 gets increasing brightness; plain string order would be 1, 10, 11, 2, 9.
    const names = ['frame1.jpg', 'frame2.jpg', 'frame9.jpg', 'frame10.JPG', 'frame11.jpeg'];
    names.forEach((name, i) => {
      writeGreyJpeg(join(dir, name), 30 + 40 * i, i === 3 ? 80 : 64, i === 3 ? 60 : 48);
    });
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const source = createFrameSource(cameraOptions({ source: 'replay', width: 32, height: 24, fps: 15, replay: { input: dir, realtime: false, fps: 5 } }));
    await source.start();
    const seen: { luma: number; mediaTimeMs: number }[] = [];
    for (let f = await source.next(); f; f = await source.next()) seen.push({ luma: meanLuma(f), mediaTimeMs: f.mediaTimeMs! });
    assert.equal(seen.length, names.length);
    assert.deepEqual(
      seen.map((s) => s.mediaTimeMs),
      [0, 200, 400, 600, 800],
    );
    seen.forEach((s, i) => {
      assert.ok(Math.abs(s.luma - (30 + 40 * i)) < 6, `frame ${i} luma ${s.luma}`);
    });
    assert.match(source.description, /jpeg-folder jpegs 32x24@5/);
    await source.stop();
  });

  test('an empty folder is CAMERA_INPUT_EMPTY', async () => {
    const dir = join(tmp, 'empty');
    await mkdir(dir);
    await assert.rejects(new ReplaySource({ input: dir }).start(), (e: unknown) => isSidewalkError(e, 'CAMERA_INPUT_EMPTY') && e.message.includes(dir));
  });

  test('a legacy run folder replays img_NNNNN.jpg in frame order with media time from the log', async () => {
    const dir = join(tmp, 'run3');
    await mkdir(dir);
    const times = [0, 0.25, 0.6, 1.0]; // seconds since the run started, as scooter.py logged them
    writeLegacyTexts(
      dir,
      times.map((time, i) => ({ frame: i + 1, time, lat: 40, lon: -105.2, alt: 1600, speed: 12.5, joystick: 1 })),
      null,
    );
    for (let i = 0; i < times.length; i++) writeGreyJpeg(join(dir, `img_${String(i + 1).padStart(5, '0')}.jpg`), 40 + 50 * i);
    const source = new ReplaySource({ input: dir, width: 32, height: 24, realtime: false, fps: 10 });
    await source.start();
    assert.equal(source.inputKind, 'legacy-run');
    const seen: { luma: number; mediaTimeMs: number }[] = [];
    for (let f = await source.next(); f; f = await source.next()) seen.push({ luma: meanLuma(f), mediaTimeMs: f.mediaTimeMs! });
    assert.deepEqual(
      seen.map((s) => Math.round(s.mediaTimeMs)),
      [0, 250, 600, 1000],
    );
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.luma > seen[i - 1]!.luma + 30);
    await source.stop();
  });

  test('legacy media times fall back to +1/fps where the log has no usable time', () => {
    const times = legacyMediaTimes(
      [1, 2, 3, 4],
      new Map([
        [1, 10],
        [2, 10.5],
        [4, 10.4],
      ]),
      10,
    );
    assert.deepEqual(
      times.map((t) => Math.round(t)),
      [0, 500, 600, 700],
    );
  });
});
