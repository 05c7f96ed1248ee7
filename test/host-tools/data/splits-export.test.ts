import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportDataset, readModelManifest } from '../../../host-tools/data/export.js';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { assignSplits, splitHistory, unfreezeTest } from '../../../host-tools/data/splits.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { datasetStats } from '../../../host-tools/data/stats.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { workspace, type Workspace } from './workspace.js';

/** Writes `n` legacy runs whose frames are all of one joystick class, with distinct images. */
async function runs(ws: Workspace, folder: string, n: number, firstSeed: number): Promise<string> {
  for (let k = 0; k < n; k++) {
    const { raw, out } = legacyRows(3, { startFrame: (firstSeed + k) * 10, joystick: () => (firstSeed + k) % 3 });
    await writeLegacyRun(join(ws.dir, folder, `run${firstSeed + k}`), { raw, out });
  }
  return join(ws.dir, folder);
}

function splitsOf(ws: Workspace): Map<string, string | null> {
  return new Map((ws.db.prepare('SELECT content_hash AS h, split FROM rides').all() as { h: string; split: string | null }[]).map((r) => [r.h, r.split]));
}

async function pngSize(file: string): Promise<[number, number]> {
  const b = await readFile(file);
  assert.equal(b.toString('latin1', 1, 4), 'PNG');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

describe('splits and export', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
    await ingestPaths([await runs(ws, 'batch1', 12, 0)], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
  });
  after(async () => {
    await ws.close();
  });

  test('rides are split whole, stratified by class, deterministic from the seed', () => {
    const r = assignSplits(ws.db, { location: 'LA', seed: 7 });
    assert.equal(r.assigned, 12);
    const first = splitsOf(ws);
    assert.ok([...first.values()].every((s) => s !== null));
    const mixed = ws.db.prepare('SELECT ride_id FROM frames_view GROUP BY ride_id HAVING COUNT(DISTINCT split) > 1').all();
    assert.deepEqual(mixed, []);
    // Each class (4 rides of 3 frames) gets rides in more than one split.
    const perClass = ws.db.prepare(`SELECT f.label, COUNT(DISTINCT r.split) AS n FROM rides r JOIN frames f ON f.ride_id = r.id GROUP BY f.label`).all() as { label: string; n: number }[];
    assert.equal(perClass.length, 3);
    assert.ok(
      perClass.every((c) => c.n >= 2),
      JSON.stringify(perClass),
    );
    assignSplits(ws.db, { location: 'LA', seed: 7, reset: true });
    assert.deepEqual(splitsOf(ws), first);
    assignSplits(ws.db, { location: 'LA', seed: 8, reset: true });
    assert.notDeepEqual(splitsOf(ws), first);
    assignSplits(ws.db, { location: 'LA', seed: 7, reset: true });
  });

  test('the frozen test split survives new data and resets', async () => {
    assignSplits(ws.db, { location: 'LA', seed: 7, freezeTest: true });
    const before = splitsOf(ws);
    const testRides = [...before]
      .filter(([, s]) => s === 'test')
      .map(([h]) => h)
      .sort();
    assert.ok(testRides.length > 0);
    await ingestPaths([await runs(ws, 'batch2', 6, 20)], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
    const r = assignSplits(ws.db, { location: 'LA', seed: 99, reset: true });
    assert.ok(r.testFrozen);
    const after = splitsOf(ws);
    assert.deepEqual(
      [...after]
        .filter(([, s]) => s === 'test')
        .map(([h]) => h)
        .sort(),
      testRides,
    );
    assert.equal(after.size, 18);
    assert.ok([...after.values()].every((s) => s !== null));
    const stats = datasetStats(ws.db, 'LA')[0]!;
    assert.equal(stats.testFrozen, true);
    assert.equal(stats.frames, 54);
  });

  test('an empty test split is never frozen', async () => {
    await writeLegacyRun(join(ws.dir, 'solo', 'run77'), legacyRows(2, { startFrame: 770 }));
    await ingestPaths([join(ws.dir, 'solo')], { db: ws.db, store: ws.store, config: ws.config, location: 'Solo', progress: false });
    assert.throws(() => assignSplits(ws.db, { location: 'Solo', seed: 1, freezeTest: true }), /DATA_SPLIT_EMPTY_TEST|no test rides/);
    const solo = ws.db.prepare("SELECT test_frozen_at, (SELECT split FROM rides r WHERE r.location_id = l.id) AS split FROM locations l WHERE name = 'Solo'").get();
    assert.deepEqual(solo, { test_frozen_at: null, split: null }, 'the refused call changed nothing');
  });

  test('a test split lacking a class is never frozen; an unfreeze is recorded with who and when', async () => {
    // Four rides: three street, one sidewalk, placed as an unlucky split would: the sidewalk ride in train.
    for (let k = 0; k < 4; k++) {
      const { raw, out } = legacyRows(3, { startFrame: 900 + k * 10, joystick: () => (k === 0 ? 1 : 2) });
      await writeLegacyRun(join(ws.dir, 'four', `run${k}`), { raw, out });
    }
    await ingestPaths([join(ws.dir, 'four')], { db: ws.db, store: ws.store, config: ws.config, location: 'Four', progress: false });
    ws.db
      .prepare(`UPDATE rides SET split = CASE WHEN (SELECT MAX(label) FROM frames f WHERE f.ride_id = rides.id) = 'side' THEN 'train'
      WHEN id % 2 = 0 THEN 'test' ELSE 'val' END WHERE location_id = (SELECT id FROM locations WHERE name = 'Four')`)
      .run();
    const r = assignSplits(ws.db, { location: 'Four', seed: 3 });
    assert.deepEqual([r.assigned, r.testMissing], [0, ['side']], JSON.stringify(r));
    assert.throws(
      () => assignSplits(ws.db, { location: 'Four', seed: 3, freezeTest: true, by: 'ana' }),
      (err: unknown) => isSidewalkError(err, 'DATA_SPLIT_TEST_INCOMPLETE') && /no side frames/.test(err.message),
    );
    assert.equal(datasetStats(ws.db, 'Four')[0]!.testFrozen, false, 'refused: not frozen');
    assert.throws(
      () => unfreezeTest(ws.db, 'Four', 'ana'),
      (err: unknown) => isSidewalkError(err, 'DATA_SPLIT_NOT_FROZEN'),
    );
    // A split frozen before this check existed: unfreezing lets --reset move its test rides again.
    ws.db.prepare("UPDATE locations SET test_frozen_at = '2026-01-01T00:00:00.000Z' WHERE name = 'Four'").run();
    assert.deepEqual(assignSplits(ws.db, { location: 'Four', seed: 3 }).testMissing.includes('side'), true, 'still reported while frozen');
    const e = unfreezeTest(ws.db, 'Four', 'ana@laptop', 'no sidewalk frames in test');
    assert.equal(e.by, 'ana@laptop');
    assert.deepEqual(
      splitHistory(ws.db, 'Four').map((h) => [h.action, h.by, h.reason]),
      [['unfreeze', 'ana@laptop', 'no sidewalk frames in test']],
    );
    assert.ok(Date.now() - Date.parse(splitHistory(ws.db, 'Four')[0]!.at) < 60_000);
    assert.equal(datasetStats(ws.db, 'Four')[0]!.testFrozen, false);
  });

  test('export crops and resizes per the manifest; no ride is in two splits; the snapshot hash is stable', async () => {
    const manifestFile = join(ws.dir, 'manifest.json');
    const manifest: Partial<ModelManifest> = {
      format: 'sidewalk-model/1',
      name: 'la',
      version: '1.0.0',
      location: 'LA',
      labels: ['bike_lane', 'crosswalk', 'side', 'street'],
      input: { width: 32, height: 16, dtype: 'float32', color_order: 'rgb', normalization: { scale: 1 / 255, offset: 0 }, crop: { x: 0, y: 0.5, width: 1, height: 0.5 }, resize: 'bilinear' },
    };
    await writeFile(manifestFile, JSON.stringify(manifest));
    const m = await readModelManifest(manifestFile);
    const out1 = join(ws.dir, 'export1');
    const ds = await exportDataset(ws.db, ws.store, { location: 'LA', outDir: out1, manifest: m });
    const frameSplit = new Map<string, string>();
    let files = 0;
    for (const split of await readdir(out1)) {
      if (split === 'dataset.json') continue;
      for (const cls of await readdir(join(out1, split))) {
        for (const f of await readdir(join(out1, split, cls))) {
          files++;
          frameSplit.set(f.replace('.png', ''), split);
          assert.equal(ds.counts[split as 'train'][cls]! > 0, true);
        }
      }
    }
    const anyFile = join(out1, 'train', Object.keys(ds.counts.train)[0]!);
    assert.deepEqual(await pngSize(join(anyFile, (await readdir(anyFile))[0]!)), [32, 16]);
    const total = Object.values(ds.counts).reduce((s, c) => s + Object.values(c).reduce((a, b) => a + b, 0), 0);
    assert.equal(files, total);
    // Every ride's frames sit in one split folder.
    const rides = ws.db
      .prepare("SELECT r.content_hash AS ride, f.content_hash AS frame FROM frames f JOIN rides r ON r.id = f.ride_id JOIN locations l ON l.id = r.location_id WHERE l.name = 'LA'")
      .all() as { ride: string; frame: string }[];
    const rideSplits = new Map<string, Set<string>>();
    for (const r of rides) if (frameSplit.has(r.frame)) rideSplits.set(r.ride, (rideSplits.get(r.ride) ?? new Set()).add(frameSplit.get(r.frame)!));
    assert.ok([...rideSplits.values()].every((s) => s.size === 1));
    assert.equal(ds.source_rides.length, rideSplits.size);
    const written = JSON.parse(await readFile(join(out1, 'dataset.json'), 'utf8'));
    assert.equal(written.content_hash, ds.content_hash);
    const ds2 = await exportDataset(ws.db, ws.store, { location: 'LA', outDir: join(ws.dir, 'export2'), manifest: m });
    assert.equal(ds2.content_hash, ds.content_hash);
    await assert.rejects(exportDataset(ws.db, ws.store, { location: 'LA', outDir: out1, manifest: m }), /not empty/);
    assert.equal(ds.cross_split_duplicates_dropped, 0);
    // A train ride that re-uses an image of a test ride: the copy is left out of train. Flagged frames are
    // included here: these textured test images repeat across rides, so most are duplicate_of_other_ride.
    const withFlagged = await exportDataset(ws.db, ws.store, { location: 'LA', outDir: join(ws.dir, 'export3'), manifest: m, includeFlagged: true });
    assert.equal(withFlagged.cross_split_duplicates_dropped, 0);
    const testFrame = ws.db.prepare("SELECT f.* FROM frames f JOIN rides r ON r.id = f.ride_id WHERE r.split = 'test' LIMIT 1").get() as Record<string, unknown>;
    const trainRide = ws.db.prepare("SELECT id FROM rides WHERE split = 'train' LIMIT 1").get() as { id: number };
    ws.db.prepare('INSERT INTO frames (ride_id, idx, label, content_hash, path) VALUES (?, 99, ?, ?, ?)').run(trainRide.id, testFrame.label, testFrame.content_hash, testFrame.path);
    const ds3 = await exportDataset(ws.db, ws.store, { location: 'LA', outDir: join(ws.dir, 'export4'), manifest: m, includeFlagged: true });
    assert.equal(ds3.cross_split_duplicates_dropped, 1);
    assert.equal(ds3.content_hash, withFlagged.content_hash);
  });
});
