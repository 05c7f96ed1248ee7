import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createPrng } from '../../../lib/prng.js';
import { MIGRATIONS, SCHEMA_VERSION, getSetting, locationId, openDatabase, type Db } from '../../../host-tools/data/db.js';
import { exportDataset, readModelManifest } from '../../../host-tools/data/export.js';
import { reflagAll } from '../../../host-tools/data/filters.js';
import { hammingHex } from '../../../host-tools/data/images.js';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { BandIndex, CROSS_RIDE_FLAG, bandLayout, findCrossRideDuplicates, firstEarlierMatches, hamming64, parseDhash } from '../../../host-tools/data/near-duplicates.js';
import { assignSplits } from '../../../host-tools/data/splits.js';
import { datasetStats, formatStats } from '../../../host-tools/data/stats.js';
import { synthesizeRides } from '../../../host-tools/data/synth.js';
import { workspace, type Workspace } from './workspace.js';

/** Seeded hashes in rides: random ones plus copies of earlier ones with 0..9 bits flipped. */
function randomRides(seed: number, rides: number, perRide: number): { hi: Uint32Array; lo: Uint32Array; rideStart: Uint32Array } {
  const rand = createPrng(seed);
  const n = rides * perRide;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const rideStart = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    rideStart[i] = i - (i % perRide);
    if (i > 0 && rand() < 0.6) {
      const src = Math.floor(rand() * i);
      hi[i] = hi[src]!;
      lo[i] = lo[src]!;
      for (let k = Math.floor(rand() * 10); k > 0; k--) {
        const bit = Math.floor(rand() * 64);
        if (bit < 32) hi[i] = (hi[i]! ^ (1 << bit)) >>> 0;
        else lo[i] = (lo[i]! ^ (1 << (bit - 32))) >>> 0;
      }
    } else {
      hi[i] = Math.floor(rand() * 2 ** 32);
      lo[i] = Math.floor(rand() * 2 ** 32);
    }
  }
  return { hi, lo, rideStart };
}

function bruteForce(hi: Uint32Array, lo: Uint32Array, rideStart: Uint32Array, d: number): Int32Array {
  const out = new Int32Array(hi.length).fill(-1);
  for (let i = 0; i < hi.length; i++) {
    for (let j = 0; j < rideStart[i]!; j++) {
      if (hamming64(hi[i]!, lo[i]!, hi[j]!, lo[j]!) <= d) {
        out[i] = j;
        break;
      }
    }
  }
  return out;
}

const hex = (h: number, l: number): string => h.toString(16).padStart(8, '0') + l.toString(16).padStart(8, '0');

describe('cross-ride near-duplicates: band index', () => {
  test('bands are disjoint, cover all 64 bits and number at least d+1', () => {
    for (const d of [0, 1, 2, 3, 4, 7, 15, 40, 63, 64, 100]) {
      const bands = bandLayout(d);
      assert.ok(bands.length >= Math.min(64, d + 1), `d=${d}`);
      const covered = [0, 0];
      for (const b of bands) {
        assert.equal(covered[b.half]! & (b.mask << b.shift), 0, `d=${d}: bands overlap`);
        covered[b.half] = (covered[b.half]! | (b.mask << b.shift)) >>> 0;
      }
      assert.deepEqual(covered, [0xffffffff, 0xffffffff], `d=${d}`);
    }
  });

  test('popcount distance agrees with the hex Hamming distance', () => {
    const rand = createPrng(3);
    for (let k = 0; k < 500; k++) {
      const a = [Math.floor(rand() * 2 ** 32), Math.floor(rand() * 2 ** 32)] as const;
      const b = [Math.floor(rand() * 2 ** 32), Math.floor(rand() * 2 ** 32)] as const;
      assert.deepEqual(parseDhash(hex(...a)), [...a]);
      assert.equal(hamming64(a[0], a[1], b[0], b[1]), hammingHex(hex(...a), hex(...b)));
    }
  });

  test('finds exactly the brute-force earliest match of an earlier ride, for every distance', () => {
    for (const [seed, d] of [
      [1, 0],
      [2, 1],
      [3, 3],
      [4, 5],
      [5, 8],
      [6, 13],
    ] as const) {
      const { hi, lo, rideStart } = randomRides(seed, 30, 60);
      const expected = bruteForce(hi, lo, rideStart, d);
      const got = firstEarlierMatches(new BandIndex(hi, lo, d), rideStart, d);
      assert.deepEqual(got, expected, `seed ${seed}, d=${d}`);
      const found = expected.filter((j) => j >= 0).length;
      assert.ok(found > 50 && found < hi.length - 60, `seed ${seed}, d=${d}: ${found} matches is not a useful mix`);
      // Pairs just beyond the distance exist and are not reported.
      let beyond = 0;
      for (let i = 0; i < hi.length; i++) {
        if (got[i]! >= 0) assert.ok(hamming64(hi[i]!, lo[i]!, hi[got[i]!]!, lo[got[i]!]!) <= d);
        else for (let j = 0; j < rideStart[i]!; j++) if (hamming64(hi[i]!, lo[i]!, hi[j]!, lo[j]!) === d + 1) beyond++;
      }
      assert.ok(beyond > 0, `seed ${seed}, d=${d}: no pair at d+1 to refuse`);
    }
  });
});

/** Rows for a location: rides of random dHashes, some copied from earlier rides with a few bits flipped. */
function insertRows(db: Db, location: string, rides: number, perRide: number, seed: number): void {
  const { hi, lo } = randomRides(seed, rides, perRide);
  const loc = locationId(db, location);
  const ride = db.prepare(`INSERT INTO rides (content_hash, source_kind, source_path, location_id, frame_count, ingested_at) VALUES (?, 'ride', '/x', ?, ?, 'now')`);
  const frame = db.prepare('INSERT INTO frames (ride_id, idx, content_hash, path, dhash, label) VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let r = 0; r < rides; r++) {
      const id = Number(ride.run(`${location}-${seed}-${r}`, loc, perRide).lastInsertRowid);
      for (let i = 0; i < perRide; i++) {
        const k = r * perRide + i;
        frame.run(id, i, `${location}-${seed}-${k}`, `x/${k}.jpg`, hex(hi[k]!, lo[k]!), 'side');
      }
    }
  })();
}

function crossFlags(db: Db): Map<number, number> {
  return new Map((db.prepare('SELECT frame_id AS f, ref_frame_id AS r FROM frame_flags WHERE flag = ?').all(CROSS_RIDE_FLAG) as { f: number; r: number }[]).map((x) => [x.f, x.r]));
}

describe('cross-ride near-duplicates: database', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
  });
  after(async () => {
    await ws.close();
  });

  test('re-flagging and the ingest-time check agree with brute force, per location', () => {
    insertRows(ws.db, 'A', 12, 40, 11);
    insertRows(ws.db, 'B', 5, 40, 11); // the same hashes in another location: never matched across locations
    const d = ws.config.filters.duplicateMaxDistance;
    reflagAll(ws.db, ws.config.filters);
    const flagged = crossFlags(ws.db);
    const frames = ws.db.prepare(`SELECT f.id, f.ride_id AS ride, r.location_id AS loc, f.dhash FROM frames f JOIN rides r ON r.id = f.ride_id ORDER BY f.ride_id, f.id`).all() as {
      id: number;
      ride: number;
      loc: number;
      dhash: string;
    }[];
    let expected = 0;
    for (const f of frames) {
      const match = frames.find((g) => g.loc === f.loc && g.ride < f.ride && hammingHex(g.dhash, f.dhash) <= d);
      assert.equal(flagged.get(f.id), match?.id, `frame ${f.id}`);
      if (match) expected++;
    }
    assert.equal(flagged.size, expected);
    assert.ok(expected > 20);
    // Before a new ride's transaction: its hashes against every frame the location holds.
    const locA = locationId(ws.db, 'A');
    const probe = [
      ...frames
        .filter((f) => f.loc === locA)
        .slice(-30)
        .map((f) => f.dhash),
      null,
      'ffffffffffffffff',
    ];
    const found = findCrossRideDuplicates(ws.db, 'A', probe, d);
    assert.deepEqual(
      found,
      probe.map((h) => (h === null ? null : (frames.find((g) => g.loc === locA && hammingHex(g.dhash, h) <= d)?.id ?? null))),
    );
    assert.deepEqual(
      findCrossRideDuplicates(ws.db, 'nowhere', probe, d),
      probe.map(() => null),
    );
    const stats = datasetStats(ws.db, 'A')[0]!;
    assert.equal(stats.byFlag[CROSS_RIDE_FLAG], frames.filter((f) => f.loc === locA && flagged.has(f.id)).length);
    assert.match(formatStats([stats]), new RegExp(`flags: .*${CROSS_RIDE_FLAG}=\\d+`));
  });

  test('a ride sharing duplicate frames with a placed ride joins its split while that split is below target', () => {
    const loc = locationId(ws.db, 'S');
    const ride = ws.db.prepare(`INSERT INTO rides (content_hash, source_kind, source_path, location_id, frame_count, ingested_at, split) VALUES (?, 'ride', '/s', ?, 10, 'now', ?)`);
    const frame = ws.db.prepare("INSERT INTO frames (ride_id, idx, content_hash, path, dhash, label) VALUES (?, ?, ?, 'p', ?, 'side')");
    const ids: number[] = [];
    const splits = ['train', 'train', 'train', 'train', 'train', 'val', 'test', null] as const;
    splits.forEach((s, r) => {
      const id = Number(ride.run(`S-${r}`, loc, s).lastInsertRowid);
      ids.push(id);
      for (let i = 0; i < 10; i++) frame.run(id, i, `S-${r}-${i}`, hex(r * 1000 + i, 0xabcdef ^ (r * 7919)));
    });
    // Unlinked: the new ride goes where the deficit is largest (train: 56 wanted, 50 held).
    assignSplits(ws.db, { location: 'S', seed: 1 });
    const newRide = ids[7]!;
    assert.equal(ws.db.prepare('SELECT split FROM rides WHERE id = ?').pluck().get(newRide), 'train');
    // Linked to the val ride by three duplicate frames: it joins val (12 wanted, 10 held).
    ws.db.prepare('UPDATE rides SET split = NULL WHERE id = ?').run(newRide);
    const valFrames = ws.db.prepare('SELECT id FROM frames WHERE ride_id = ? ORDER BY id').pluck().all(ids[5]!) as number[];
    const newFrames = ws.db.prepare('SELECT id FROM frames WHERE ride_id = ? ORDER BY id').pluck().all(newRide) as number[];
    for (let i = 0; i < 3; i++) ws.db.prepare('INSERT INTO frame_flags (frame_id, flag, ref_frame_id) VALUES (?, ?, ?)').run(newFrames[i]!, CROSS_RIDE_FLAG, valFrames[i]!);
    assignSplits(ws.db, { location: 'S', seed: 1 });
    assert.equal(ws.db.prepare('SELECT split FROM rides WHERE id = ?').pluck().get(newRide), 'val');
  });
});

describe('cross-ride near-duplicates: real frames', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
  });
  after(async () => {
    await ws.close();
  });

  test('a second ride over the same scenes is flagged against the first; stats and export honour it', async () => {
    const script = 'side:1.2,street:1,crosswalk:1,bike_lane:1';
    const size = { width: 96, height: 64, location: 'Boulder', script };
    // Same scenes (seed) at another frame rate: near-identical frames at shifted positions. Another seed: other scenes.
    const [first] = await synthesizeRides({ outDir: join(ws.dir, 'a'), rides: 1, seed: 5, fps: 5, ...size });
    const [again] = await synthesizeRides({ outDir: join(ws.dir, 'b'), rides: 1, seed: 5, fps: 4, ...size });
    const [other] = await synthesizeRides({ outDir: join(ws.dir, 'c'), rides: 1, seed: 6, fps: 5, ...size });
    const results = await ingestPaths([first!, other!, again!], { db: ws.db, store: ws.store, config: ws.config, progress: false });
    assert.deepEqual(
      results.map((r) => r.status),
      ['added', 'added', 'added'],
    );
    const [a, c, b] = results.map((r) => r.rideId!);
    const frames = (ride: number) => ws.db.prepare('SELECT id, dhash FROM frames WHERE ride_id = ? ORDER BY id').all(ride) as { id: number; dhash: string }[];
    const d = ws.config.filters.duplicateMaxDistance;
    const flagged = crossFlags(ws.db);
    // Oracle: the earliest frame of an earlier ride within d.
    const expect = new Map<number, number>();
    for (const f of frames(b!)) {
      const m = [...frames(a!), ...frames(c!)].find((g) => hammingHex(g.dhash, f.dhash) <= d);
      if (m) expect.set(f.id, m.id);
    }
    for (const f of [...frames(c!)]) {
      const m = frames(a!).find((g) => hammingHex(g.dhash, f.dhash) <= d);
      if (m) expect.set(f.id, m.id);
    }
    assert.deepEqual(flagged, expect);
    const againFlagged = frames(b!).filter((f) => flagged.has(f.id)).length;
    assert.ok(againFlagged >= 4, `only ${againFlagged} frames of the repeated ride flagged`);
    assert.ok(
      frames(b!).every((f) => !flagged.has(f.id) || frames(a!).some((g) => g.id === flagged.get(f.id))),
      'matches point into the first ride',
    );
    assert.equal(frames(c!).filter((f) => flagged.has(f.id)).length, 0, 'other scenes are not duplicates');

    const stats = datasetStats(ws.db, 'Boulder')[0]!;
    assert.equal(stats.byFlag[CROSS_RIDE_FLAG], flagged.size);
    // Re-running the filter keeps the same flags; the repeated ride's frames leave the export unless flagged frames are asked for.
    reflagAll(ws.db, ws.config.filters);
    assert.deepEqual(crossFlags(ws.db), flagged);
    ws.db.prepare("UPDATE rides SET split = 'train'").run();
    const manifestFile = join(ws.dir, 'manifest.json');
    await writeFile(
      manifestFile,
      JSON.stringify({
        format: 'sidewalk-model/1',
        name: 'b',
        version: '1.0.0',
        labels: ['bike_lane', 'crosswalk', 'side', 'street'],
        input: { width: 16, height: 16, dtype: 'float32', color_order: 'rgb', normalization: { scale: 1 / 255, offset: 0 }, crop: { x: 0, y: 0, width: 1, height: 1 } },
      }),
    );
    const manifest = await readModelManifest(manifestFile);
    const ds = await exportDataset(ws.db, ws.store, { location: 'Boulder', outDir: join(ws.dir, 'out1'), manifest });
    assert.ok(Array.isArray(ds.filters.excluded_flags) && ds.filters.excluded_flags.includes(CROSS_RIDE_FLAG));
    const exported = new Set<string>();
    for (const cls of await readdir(join(ws.dir, 'out1', 'train'))) for (const f of await readdir(join(ws.dir, 'out1', 'train', cls))) exported.add(f.replace('.png', ''));
    const hashOf = (id: number) => ws.db.prepare('SELECT content_hash FROM frames WHERE id = ?').pluck().get(id) as string;
    const flaggedOnly = [...flagged.keys()].filter((id) => (ws.db.prepare('SELECT COUNT(*) FROM frame_flags WHERE frame_id = ?').pluck().get(id) as number) === 1);
    assert.ok(flaggedOnly.length > 0);
    for (const id of flaggedOnly) assert.ok(!exported.has(hashOf(id)), `flagged frame ${id} exported`);
    const all = await exportDataset(ws.db, ws.store, { location: 'Boulder', outDir: join(ws.dir, 'out2'), manifest, includeFlagged: true });
    const count = (m: typeof ds) => Object.values(m.counts.train).reduce((s, v) => s + v, 0);
    assert.ok(count(all) >= count(ds) + flaggedOnly.length - 1);
  });
});

describe('schema upgrade', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
  });
  after(async () => {
    await ws.close();
  });

  test('a database made by schema version 1 upgrades in place, keeps its rows and gains cross-ride flags on re-flagging', () => {
    const file = join(ws.dir, 'old', 'dataset.db');
    openDatabase(join(ws.dir, 'old', 'probe.db')).close(); // creates the folder
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    old.exec(MIGRATIONS[0]!.sql);
    old.prepare("INSERT INTO migrations VALUES (1, 'initial schema', 'then')").run();
    insertRows(old, 'Old', 6, 30, 21);
    old.prepare("INSERT INTO frame_flags (frame_id, flag) SELECT id, 'blurry' FROM frames WHERE idx % 7 = 0").run();
    old.prepare("INSERT INTO settings (key, value) VALUES ('filters', ?)").run(JSON.stringify(ws.config.filters));
    const before = {
      frames: old.prepare('SELECT id, ride_id, idx, content_hash, dhash FROM frames ORDER BY id').all(),
      flags: old.prepare('SELECT frame_id, flag FROM frame_flags ORDER BY frame_id, flag').all(),
    };
    old.close();

    const db = openDatabase(file);
    try {
      assert.equal(db.prepare('SELECT MAX(version) FROM migrations').pluck().get(), SCHEMA_VERSION);
      assert.ok(SCHEMA_VERSION >= 2);
      assert.deepEqual(db.prepare('SELECT id, ride_id, idx, content_hash, dhash FROM frames ORDER BY id').all(), before.frames);
      assert.deepEqual(db.prepare('SELECT frame_id, flag FROM frame_flags ORDER BY frame_id, flag').all(), before.flags);
      assert.equal(getSetting(db, 'filters'), undefined, 'stored thresholds dropped so the next ingest re-flags');
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      reflagAll(db, ws.config.filters);
      assert.ok(crossFlags(db).size > 0);
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    } finally {
      db.close();
    }
    // Opening again is a no-op.
    const again = openDatabase(file);
    assert.equal(again.prepare('SELECT COUNT(*) FROM migrations').pluck().get(), SCHEMA_VERSION);
    again.close();
  });
});
