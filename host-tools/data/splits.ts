/**
 * Train/val/test splits BY RIDE (a ride's frames never straddle splits: neighbouring frames are near
 * copies), stratified by location and by each ride's dominant class, deterministic from a seed.
 * Rides are taken in the order of sha256(seed, ride content hash) and each goes to the split furthest
 * below its target share of frames for that class (with enough rides, each split first gets one ride of
 * the location and one of each class). Once a location's test split is frozen, its test
 * rides stay, and new rides only go to train/val. A ride sharing near-duplicate frames with rides
 * already placed (duplicate_of_other_ride, either direction) joins the split it shares most frames
 * with, as long as that split is still below its target share.
 */
import { createHash } from 'node:crypto';
import { SidewalkError } from '../../lib/errors.js';
import { getSetting, setSetting, type Db, type Split } from './db.js';
import { CROSS_RIDE_FLAG } from './near-duplicates.js';

export interface SplitOptions {
  location: string;
  seed: number | string;
  /** Target shares of frames, default train 0.7, val 0.15, test 0.15. */
  fractions?: Record<Split, number>;
  /** Re-assign train/val (and test, unless frozen) from scratch instead of only new rides. */
  reset?: boolean;
  /** Freeze the location's test split after assigning. */
  freezeTest?: boolean;
}

export interface SplitResult {
  assigned: number;
  /** Rides per split after this run (all of the location's rides, not only those just assigned). */
  bySplit: Record<Split, number>;
  testFrozen: boolean;
  /** Classes the location has labelled frames of but its test split has none of. */
  testMissing: string[];
}

export interface SplitEvent {
  action: 'freeze' | 'unfreeze';
  at: string;
  by: string;
  reason?: string;
}

const historyKey = (location: string) => `split_history:${location}`;

/** Freezes and unfreezes of a location's test split, oldest first (kept in settings). */
export function splitHistory(db: Db, location: string): SplitEvent[] {
  return getSetting<SplitEvent[]>(db, historyKey(location)) ?? [];
}

function record(db: Db, location: string, event: SplitEvent): void {
  setSetting(db, historyKey(location), [...splitHistory(db, location), event]);
}

/** Labelled classes of the location with no labelled frame in its test split. */
function missingFromTest(db: Db, locationId: number): string[] {
  return (
    db
      .prepare(`SELECT DISTINCT f.label AS label FROM frames f JOIN rides r ON r.id = f.ride_id
      WHERE r.location_id = ? AND f.label IS NOT NULL AND f.label NOT IN (
        SELECT g.label FROM frames g JOIN rides t ON t.id = g.ride_id WHERE t.location_id = ? AND t.split = 'test' AND g.label IS NOT NULL)
      ORDER BY f.label`)
      .all(locationId, locationId) as { label: string }[]
  ).map((r) => r.label);
}

/**
 * Lets a frozen test split change again (a split frozen without a class fails every model's gate for
 * that class): recorded with who and when; the next `--reset` re-assigns the test rides too.
 */
export function unfreezeTest(db: Db, location: string, by: string, reason?: string): SplitEvent {
  const loc = db.prepare('SELECT id, test_frozen_at FROM locations WHERE name = ?').get(location) as { id: number; test_frozen_at: string | null } | undefined;
  if (!loc) throw new SidewalkError('DATA_LOCATION_UNKNOWN', `location "${location}" has no rides`);
  if (loc.test_frozen_at === null) throw new SidewalkError('DATA_SPLIT_NOT_FROZEN', `the test split of "${location}" is not frozen`);
  const event: SplitEvent = { action: 'unfreeze', at: new Date().toISOString(), by, ...(reason ? { reason } : {}) };
  db.transaction(() => {
    db.prepare('UPDATE locations SET test_frozen_at = NULL WHERE id = ?').run(loc.id);
    record(db, location, event);
  })();
  return event;
}

export function assignSplits(db: Db, opts: SplitOptions & { by?: string }): SplitResult {
  const loc = db.prepare('SELECT id, test_frozen_at FROM locations WHERE name = ?').get(opts.location) as { id: number; test_frozen_at: string | null } | undefined;
  if (!loc) throw new SidewalkError('DATA_LOCATION_UNKNOWN', `location "${opts.location}" has no rides`);
  const frozen = loc.test_frozen_at !== null;
  const fr = opts.fractions ?? { train: 0.7, val: 0.15, test: 0.15 };
  const targets: Record<Split, number> = { ...fr, test: frozen ? 0 : fr.test };
  const total = targets.train + targets.val + targets.test;
  if (!(total > 0)) throw new SidewalkError('DATA_SPLIT_FRACTIONS', `split fractions must add up to more than 0 (got ${JSON.stringify(fr)})`);
  let assigned = 0;
  db.transaction(() => {
    if (opts.reset) {
      db.prepare(`UPDATE rides SET split = NULL WHERE location_id = ? ${frozen ? "AND split != 'test'" : ''}`).run(loc.id);
    }
    // Dominant class (most labelled frames) and labelled-frame count of every ride of the location.
    const rides = db
      .prepare(`SELECT r.id, r.content_hash AS hash, r.split,
        (SELECT f.label FROM frames f WHERE f.ride_id = r.id AND f.label IS NOT NULL GROUP BY f.label ORDER BY COUNT(*) DESC, f.label LIMIT 1) AS cls,
        (SELECT COUNT(*) FROM frames f WHERE f.ride_id = r.id AND f.label IS NOT NULL) AS n
      FROM rides r WHERE r.location_id = ?`)
      .all(loc.id) as { id: number; hash: string; split: Split | null; cls: string | null; n: number }[];
    const byClass = new Map<string, typeof rides>();
    const locRides: Record<Split, number> = { train: 0, val: 0, test: 0 };
    for (const r of rides) if (r.split) locRides[r.split]++;
    const active = (['test', 'val', 'train'] as Split[]).filter((s) => targets[s] > 0);
    for (const r of [...rides].sort((a, b) => ((a.cls ?? '') < (b.cls ?? '') ? -1 : (a.cls ?? '') > (b.cls ?? '') ? 1 : 0))) {
      const key = r.cls ?? '(unlabelled)';
      byClass.set(key, [...(byClass.get(key) ?? []), r]);
    }
    // Duplicate frames shared between two rides of the location, both directions.
    const links = new Map<number, Map<number, number>>();
    for (const l of db
      .prepare(`SELECT f.ride_id AS a, g.ride_id AS b, COUNT(*) AS n FROM frame_flags ff
        JOIN frames f ON f.id = ff.frame_id JOIN frames g ON g.id = ff.ref_frame_id JOIN rides r ON r.id = f.ride_id
        WHERE ff.flag = ? AND r.location_id = ? GROUP BY f.ride_id, g.ride_id`)
      .all(CROSS_RIDE_FLAG, loc.id) as { a: number; b: number; n: number }[]) {
      for (const [x, y] of [
        [l.a, l.b],
        [l.b, l.a],
      ] as const) {
        const m = links.get(x) ?? new Map<number, number>();
        m.set(y, (m.get(y) ?? 0) + l.n);
        links.set(x, m);
      }
    }
    const splitOf = new Map(rides.map((r) => [r.id, r.split]));
    const update = db.prepare('UPDATE rides SET split = ? WHERE id = ?');
    for (const group of byClass.values()) {
      const have: Record<Split, number> = { train: 0, val: 0, test: 0 };
      for (const r of group) if (r.split) have[r.split] += r.n;
      const order = group
        .filter((r) => r.split === null)
        .map((r) => ({ r, key: createHash('sha256').update(`${opts.seed}\n${r.hash}`).digest('hex') }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
      for (const { r } of order) {
        const sum = have.train + have.val + have.test + Math.max(1, r.n);
        let best: Split = 'train';
        let bestDeficit = -Infinity;
        // Small data: every active split first gets one ride of the location, then one of each class,
        // when there are enough rides for that.
        const emptyLoc = rides.length >= active.length ? active.find((s) => locRides[s] === 0) : undefined;
        const emptyClass = group.length >= active.length ? active.find((s) => have[s] === 0) : undefined;
        const empty = emptyLoc ?? emptyClass;
        const deficit = (s: Split): number => (targets[s] / total) * sum - have[s];
        // The split holding most of this ride's shared duplicate frames, if still below target.
        const shared: Record<Split, number> = { train: 0, val: 0, test: 0 };
        for (const [other, n] of links.get(r.id) ?? []) {
          const s = splitOf.get(other);
          if (s) shared[s] += n;
        }
        const linked = active.filter((s) => shared[s] > 0 && deficit(s) > 0).sort((a, b) => shared[b] - shared[a] || deficit(b) - deficit(a))[0];
        if (empty) best = empty;
        else if (linked) best = linked;
        else {
          for (const s of active) {
            if (deficit(s) > bestDeficit) {
              best = s;
              bestDeficit = deficit(s);
            }
          }
        }
        update.run(best, r.id);
        splitOf.set(r.id, best);
        have[best] += Math.max(1, r.n);
        locRides[best]++;
        assigned++;
      }
    }
    if (opts.freezeTest && !frozen && locRides.test === 0) {
      throw new SidewalkError('DATA_SPLIT_EMPTY_TEST', `location "${opts.location}" has no test rides; refusing to freeze an empty test split`);
    }
    if (opts.freezeTest && !frozen) {
      // A test split without a class would fail every later model's gate for that class, for good.
      const missing = missingFromTest(db, loc.id);
      if (missing.length > 0) {
        throw new SidewalkError(
          'DATA_SPLIT_TEST_INCOMPLETE',
          `location "${opts.location}": the test split would have no ${missing.join(', ')} frames; refusing to freeze it (ingest more rides of those classes, then split again)`,
        );
      }
      const at = new Date().toISOString();
      db.prepare('UPDATE locations SET test_frozen_at = ? WHERE id = ?').run(at, loc.id);
      record(db, opts.location, { action: 'freeze', at, by: opts.by ?? 'unknown' });
    }
  })();
  const bySplit: Record<Split, number> = { train: 0, val: 0, test: 0 };
  for (const r of db.prepare('SELECT split, COUNT(*) AS n FROM rides WHERE location_id = ? AND split IS NOT NULL GROUP BY split').all(loc.id) as { split: Split; n: number }[]) bySplit[r.split] = r.n;
  return { assigned, bySplit, testFrozen: frozen || opts.freezeTest === true, testMissing: missingFromTest(db, loc.id) };
}
