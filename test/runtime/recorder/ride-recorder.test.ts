import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame } from '../../../runtime/types.js';
import { readRide, readRideMetaIfPresent } from '../../../runtime/recorder/ride-format.js';
import { RideRecorder, packFrame } from '../../../runtime/recorder/ride-recorder.js';
import { tempDir } from '../../helpers/temp.js';

function yuvFrame(seq: number, width: number, height: number, stride: number): Frame {
  const data = new Uint8Array(stride * height + 2 * (stride / 2) * (height / 2));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * stride + x] = (x * 4 + seq * 10) & 0xff;
  data.fill(128, stride * height);
  return { seq, capturedAtNs: BigInt(seq) * 100_000_000n + 5n, width, height, stride, format: 'yuv420', data };
}

describe('RideRecorder', () => {
  test('packFrame drops ISP row padding', () => {
    const f = yuvFrame(1, 4, 2, 8);
    const packed = packFrame(f);
    assert.equal(packed.length, 4 * 2 + 2 * 2 * 1);
    assert.deepEqual([...packed.subarray(0, 4)], [10, 14, 18, 22]);
  });

  test('records JPEGs via one ffmpeg, a sensor log, and finalises ride.json', async (t) => {
    const dir = await tempDir(t, 'ride-rec-');
    const rideDir = join(dir, 'ride1');
    const rec = await RideRecorder.open({ dir: rideDir, device: 'pi-7', location: 'LA', model: { name: 'la', version: '1.0.0' }, labels: ['bike_lane', 'crosswalk', 'side', 'street'] });
    const during = await readRideMetaIfPresent(rideDir);
    assert.equal(during?.status, 'recording');
    await assert.rejects(readRide(rideDir), /DATA_RIDE_INCOMPLETE|not closed/);
    for (let i = 0; i < 5; i++) {
      await rec.addFrame(yuvFrame(i, 64, 48, 128), { lat: 34 + i * 1e-5, lon: -118, speed_kph: 12, rider_label: 1, scores: [0.1, 0.1, 0.7, 0.1] });
      if (i === 2) await rec.addSample({ t_ms: 250, lat: 34.00002, lon: -118 });
    }
    const meta = await rec.close();
    assert.equal(meta.status, 'complete');
    assert.equal(meta.frames.count, 5);
    const files = (await readdir(join(rideDir, 'frames'))).sort();
    assert.deepEqual(files, ['000000.jpg', '000001.jpg', '000002.jpg', '000003.jpg', '000004.jpg']);
    const jpeg = await readFile(join(rideDir, 'frames', '000004.jpg'));
    assert.equal(jpeg[0], 0xff);
    assert.equal(jpeg[1], 0xd8);
    const ride = await readRide(rideDir);
    assert.equal(ride.records.length, 6);
    assert.equal(ride.records.filter((r) => r.frame !== undefined).length, 5);
    assert.equal(ride.records[4]!.frame, 3);
    assert.equal(ride.records[4]!.t_ms, 300);
    assert.equal(ride.meta.frames.width, 64);
  });

  test('a ride that is never closed stays recognisably incomplete', async (t) => {
    const dir = await tempDir(t, 'ride-rec-');
    const rec = await RideRecorder.open({ dir, device: 'pi-7', location: 'LA' });
    await rec.addFrame(yuvFrame(0, 32, 16, 32));
    await rec.abort();
    assert.equal((await readRideMetaIfPresent(dir))?.status, 'recording');
    await assert.rejects(readRide(dir), (err: Error & { code?: string }) => err.code === 'DATA_RIDE_INCOMPLETE');
  });

  test('a frame of another size is refused', async (t) => {
    const dir = await tempDir(t, 'ride-rec-');
    const rec = await RideRecorder.open({ dir, device: 'pi-7', location: 'LA' });
    await rec.addFrame(yuvFrame(0, 32, 16, 32));
    await assert.rejects(rec.addFrame(yuvFrame(1, 64, 16, 64)), /DATA_RECORDER_FRAME_SIZE|ride is 32x16/);
    await rec.close();
  });
});
