import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, truncate, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { ingestPaths, ingestOne } from '../../../host-tools/data/ingest.js';
import { sampledForReview } from '../../../host-tools/data/labels.js';
import { RideRecorder } from '../../../runtime/recorder/ride-recorder.js';
import type { Frame } from '../../../runtime/types.js';
import { DASHCAM_VIDEO } from '../../helpers/paths.js';
import { encodeTestJpegs, legacyRows, texturedImage, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { snapshot, workspace, type Workspace } from './workspace.js';

describe('data ingest', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
  });
  after(async () => {
    await ws.close();
  });

  test('legacy run folders land with speeds, positions, labels and low-speed flags; re-ingest adds nothing', async () => {
    const { raw, out } = legacyRows(6, { speed: (i) => (i < 2 ? 4 : 12.5), joystick: (i) => [1, 1, 0, 2, 2, 7][i]! });
    const run = await writeLegacyRun(join(ws.dir, 'in', 'run1'), { raw, out });
    const results = await ingestPaths([join(ws.dir, 'in')], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
    assert.deepEqual(
      results.map((r) => [r.status, r.frames]),
      [['added', 6]],
    );
    const frames = ws.db.prepare('SELECT * FROM frames ORDER BY idx').all() as Record<string, unknown>[];
    assert.deepEqual(
      frames.map((f) => f.speed_raw),
      [4, 4, 12.5, 12.5, 12.5, 12.5],
    );
    assert.ok(Math.abs((frames[3]!.lat as number) - 34.05003) < 1e-9);
    assert.equal(frames[3]!.lon, -118.25);
    assert.ok(Math.abs((frames[5]!.time_ms as number) - 1000) < 1e-3);
    assert.deepEqual(
      frames.map((f) => f.label),
      ['side', 'side', 'crosswalk', 'street', 'street', null],
    );
    assert.deepEqual(
      frames.map((f) => f.review_state),
      [null, null, null, null, null, 'queued'],
    );
    assert.equal(frames[0]!.label_source, 'rider');
    assert.deepEqual(JSON.parse(frames[0]!.legacy_json as string).out, { layout: 'live', joystick: 1, scores: [0.1, 0.1, 0.7, 0.1], sidewalk: 1 });
    const lowSpeed = ws.db.prepare("SELECT f.idx FROM frame_flags ff JOIN frames f ON f.id = ff.frame_id WHERE flag = 'low_speed' ORDER BY f.idx").all();
    assert.deepEqual(lowSpeed, [{ idx: 0 }, { idx: 1 }]);
    const stored = await readFile(ws.store.abs(frames[2]!.path as string));
    assert.deepEqual(stored, await readFile(join(run, 'img_00002.jpg')));
    const before = await snapshot(ws);
    const again = await ingestPaths([run], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
    assert.equal(again[0]!.status, 'skipped');
    assert.deepEqual(await snapshot(ws), before);
  });

  test('a corrupt image is named and leaves the database and store as they were', async () => {
    const { raw, out } = legacyRows(4, { startFrame: 100 });
    const run = await writeLegacyRun(join(ws.dir, 'bad', 'run2'), { raw, out });
    const img = join(run, 'img_00102.jpg');
    const bytes = await readFile(img);
    await writeFile(img, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const before = await snapshot(ws);
    await assert.rejects(ingestOne(run, 'legacy', { db: ws.db, store: ws.store, config: ws.config, location: 'LA' }), (err) => {
      assert.ok(isSidewalkError(err, 'DATA_IMAGE_CORRUPT'));
      assert.match(err.message, /img_00102\.jpg/);
      return true;
    });
    assert.deepEqual(await snapshot(ws), before);
    // Valid markers but garbage entropy data: caught by the decoder, still named.
    const good = await readFile(join(run, 'img_00101.jpg'));
    const garbled = Buffer.from(good);
    for (let i = garbled.length - 200; i < garbled.length - 2; i++) garbled[i] = 0xff;
    garbled[garbled.length - 2] = 0xff;
    garbled[garbled.length - 1] = 0xd9;
    await writeFile(img, bytes);
    await writeFile(join(run, 'img_00103.jpg'), Buffer.concat([good.subarray(0, 200), Buffer.from([0xff, 0xd9])]));
    await assert.rejects(ingestOne(run, 'legacy', { db: ws.db, store: ws.store, config: ws.config, location: 'LA' }), /img_00103\.jpg/);
    assert.deepEqual(await snapshot(ws), before);
  });

  test('a truncated sensor log or a missing column is reported with file and line, nothing lands', async () => {
    const { raw, out } = legacyRows(5, { startFrame: 200 });
    const run = await writeLegacyRun(join(ws.dir, 'trunc', 'run3'), { raw, out });
    const rawFile = join(run, 'raw_data.txt');
    const full = await readFile(rawFile, 'utf8');
    await truncate(rawFile, full.length - 30);
    const before = await snapshot(ws);
    await assert.rejects(ingestOne(run, 'legacy', { db: ws.db, store: ws.store, config: ws.config, location: 'LA' }), (err) => {
      assert.ok(isSidewalkError(err, 'DATA_LEGACY_MALFORMED'));
      assert.match(err.message, /raw_data\.txt line 5/);
      return true;
    });
    // Truncated exactly at a line end: frame 204's image has no row.
    await writeFile(rawFile, `${full.split('\n').slice(0, 4).join('\n')}\n`);
    await assert.rejects(ingestOne(run, 'legacy', { db: ws.db, store: ws.store, config: ws.config, location: 'LA' }), /raw_data\.txt line 5: no row for frame 204/);
    const lines = full.split('\n');
    lines[2] = lines[2]!
      .split(',')
      .filter((_, i) => i !== 5)
      .join(',');
    await writeFile(rawFile, lines.join('\n'));
    await assert.rejects(ingestOne(run, 'legacy', { db: ws.db, store: ws.store, config: ws.config, location: 'LA' }), /raw_data\.txt line 3: expected 19 comma-separated fields, got 18/);
    assert.deepEqual(await snapshot(ws), before);
  });

  test('blur, darkness and near-duplicates are flagged from the real pixels', async () => {
    const flat = { width: 64, height: 48, rgb: new Uint8Array(64 * 48 * 3).fill(128) };
    const dark = texturedImage(64, 48, 3, 0.2);
    const a = texturedImage(64, 48, 1);
    const b = texturedImage(64, 48, 2);
    const jpegs = await encodeTestJpegs([a, a, flat, dark, b]);
    const { raw, out } = legacyRows(5, { startFrame: 300 });
    const images = new Map(raw.map((r, i) => [r.frame, jpegs[i]!]));
    const run = await writeLegacyRun(join(ws.dir, 'q', 'run4'), { raw, out, images });
    const config = { ...ws.config, filters: { ...ws.config.filters, blurMinVariance: 10, darkMaxLuma: 40 } };
    // A location of its own: frames like these in LA's earlier rides would add duplicate_of_other_ride.
    const r = await ingestOne(run, 'legacy', { db: ws.db, store: ws.store, config, location: 'Boulder' });
    const rows = ws.db
      .prepare('SELECT f.idx, group_concat(ff.flag) AS flags FROM frames f LEFT JOIN frame_flags ff ON ff.frame_id = f.id WHERE f.ride_id = ? GROUP BY f.idx ORDER BY f.idx')
      .all(r.rideId) as { idx: number; flags: string | null }[];
    const flags = rows.map((x) => (x.flags ?? '').split(',').filter(Boolean).sort().join('+'));
    assert.deepEqual(flags, ['', 'near_duplicate', 'blurry', 'dark', '']);

    // A second ride over the same scenes: at ingest, each frame is flagged against the first ride's.
    const again = legacyRows(5, { startFrame: 400 });
    const run2 = await writeLegacyRun(join(ws.dir, 'q', 'run5'), { raw: again.raw, out: again.out, images: new Map(again.raw.map((row, i) => [row.frame, jpegs[i]!])) });
    const r2 = await ingestOne(run2, 'legacy', { db: ws.db, store: ws.store, config, location: 'Boulder' });
    const refs = ws.db
      .prepare(
        "SELECT ref.ride_id AS refRide FROM frames f JOIN frame_flags ff ON ff.frame_id = f.id AND ff.flag = 'duplicate_of_other_ride' JOIN frames ref ON ref.id = ff.ref_frame_id WHERE f.ride_id = ? ORDER BY f.idx",
      )
      .all(r2.rideId) as { refRide: number }[];
    assert.deepEqual(
      refs.map((x) => x.refRide),
      [r.rideId, r.rideId, r.rideId, r.rideId, r.rideId],
    );
  });

  test('new-format rides: location from ride.json, labels agreed with recorded scores', async () => {
    const dir = join(ws.dir, 'rides', 'r1');
    const rec = await RideRecorder.open({ dir, device: 'pi-1', location: 'Denver', model: { name: 'm', version: '2.0.0' }, labels: ['bike_lane', 'crosswalk', 'side', 'street'] });
    for (let i = 0; i < 4; i++) {
      const img = texturedImage(64, 48, i);
      const frame: Frame = { seq: i, capturedAtNs: BigInt(i) * 200_000_000n, width: 64, height: 48, stride: 192, format: 'rgb24', data: img.rgb };
      if (i === 3) await rec.addSample({ t_ms: 550, lat: 39.8, lon: -104.8 }); // a GPS fix between frames
      await rec.addFrame(frame, {
        ...(i === 3 ? {} : { lat: 39.7, lon: -104.9 }),
        speed_kph: i === 0 ? 2 : 14,
        rider_label: i < 2 ? 'side' : null,
        scores: i === 1 ? [0, 0, 0.1, 0.9] : [0.01, 0.01, 0.95, 0.03],
      });
    }
    await rec.close();
    // --location fills in only for inputs that name none: the ride's own location wins.
    const r = await ingestOne(dir, 'ride', { db: ws.db, store: ws.store, config: ws.config, location: 'Elsewhere' });
    assert.equal(r.status, 'added');
    const frames = ws.db
      .prepare('SELECT f.*, l.name AS loc FROM frames f JOIN rides r ON r.id = f.ride_id JOIN locations l ON l.id = r.location_id WHERE ride_id = ? ORDER BY idx')
      .all(r.rideId) as Record<string, unknown>[];
    assert.equal(frames[0]!.loc, 'Denver');
    // Model labels (frames 2 and 3: no rider input) are proposals: no final label; a sample is queued for review.
    const [f2, f3] = [2, 3].map((i) => (sampledForReview(String(frames[i]!.content_hash), ws.config.labelling.modelReviewShare) ? 'queued' : null));
    assert.deepEqual(
      frames.map((f) => [f.label, f.label_source, f.review_state]),
      [
        ['side', 'agreed', null],
        [null, null, 'queued'],
        [null, 'model', f2],
        [null, 'model', f3],
      ],
    );
    assert.equal(frames[2]!.time_ms, 400);
    assert.deepEqual([frames[2]!.lat, frames[3]!.lat, frames[3]!.lon], [39.7, 39.8, -104.8]);
    assert.equal(frames[0]!.model_version, 'm@2.0.0');
    const low = ws.db.prepare("SELECT COUNT(*) AS n FROM frame_flags ff JOIN frames f ON f.id = ff.frame_id WHERE f.ride_id = ? AND flag = 'low_speed'").get(r.rideId) as { n: number };
    assert.equal(low.n, 1);
  });

  test('a plain video with a CSV sensor log is extracted at the chosen rate', async () => {
    const vdir = join(ws.dir, 'video');
    await mkdir(vdir, { recursive: true });
    const video = join(vdir, 'dash.mp4');
    await cp(DASHCAM_VIDEO, video);
    await writeFile(join(vdir, 'dash.csv'), 'time_s,lat,lon,speed_kph,label\n0,34.1,-118.3,3,street\n2,34.1001,-118.3,20,street\n');
    const r = await ingestOne(video, 'video', { db: ws.db, store: ws.store, config: ws.config, location: 'LA', fps: 2 });
    assert.equal(r.status, 'added');
    assert.ok(r.frames >= 17 && r.frames <= 19, `frames ${r.frames}`);
    const frames = ws.db.prepare('SELECT idx, time_ms, speed_kph, label, width FROM frames WHERE ride_id = ? ORDER BY idx').all(r.rideId) as Record<string, number | string>[];
    assert.equal(frames[3]!.time_ms, 1500);
    assert.equal(frames[3]!.speed_kph, 3);
    assert.equal(frames[4]!.speed_kph, 20);
    assert.equal(frames[4]!.label, 'street');
    assert.equal(frames[0]!.width, 960);
    const again = await ingestOne(video, 'video', { db: ws.db, store: ws.store, config: ws.config, location: 'LA', fps: 2 });
    assert.equal(again.status, 'skipped');
  });

  test('orphans left by an interrupted ingest are removed on the next run', async () => {
    await mkdir(join(ws.store.root, 'zz'), { recursive: true });
    await writeFile(join(ws.store.root, 'zz', 'zz00.jpg.tmp-1'), 'x');
    await ingestPaths([join(ws.dir, 'in')], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
    await assert.rejects(stat(join(ws.store.root, 'zz', 'zz00.jpg.tmp-1')));
  });
});
