/**
 * Train/val/test splits BY RIDE (a ride's frames never straddle splits: neighbouring frames are near
 * copies), stratified by location and by each ride's dominant class, deterministic from a seed.
 * Rides are taken in the order of sha256(seed, ride content hash) and each goes to the split furthest
 * below its target share of frames for that class (with enough rides, each split first gets one ride of
 * the location and one of each class). Once a location's test split is frozen, its test
 * rides stay, and new rides only go to train/val.
 */
import { createHash } from 'node:crypto';
import { SidewalkError } from '../../lib/errors.js';
import type { Db, Split } from './db.js';

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
  bySplit: Record<Split, number>;
  testFrozen: boolean;
}

export function assignSplits(db: Db, opts: SplitOptions): SplitResult {
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
    const rides = db.prepare(`SELECT r.id, r.content_hash AS hash, r.split,
        (SELECT f.label FROM frames f WHERE f.ride_id = r.id AND f.label IS NOT NULL GROUP BY f.label ORDER BY COUNT(*) DESC, f.label LIMIT 1) AS cls,
        (SELECT COUNT(*) FROM frames f WHERE f.ride_id = r.id AND f.label IS NOT NULL) AS n
      FROM rides r WHERE r.location_id = ?`).all(loc.id) as { id: number; hash: string; split: Split | null; cls: string | null; n: number }[];
    const byClass = new Map<string, typeof rides>();
    const locRides: Record<Split, number> = { train: 0, val: 0, test: 0 };
    for (const r of rides) if (r.split) locRides[r.split]++;
    const active = (['test', 'val', 'train'] as Split[]).filter((s) => targets[s] > 0);
    for (const r of [...rides].sort((a, b) => ((a.cls ?? '') < (b.cls ?? '') ? -1 : (a.cls ?? '') > (b.cls ?? '') ? 1 : 0))) {
      const key = r.cls ?? '(unlabelled)';
      byClass.set(key, [...(byClass.get(key) ?? []), r]);
    }
    const update = db.prepare('UPDATE rides SET split = ? WHERE id = ?');
    for (const group of byClass.values()) {
      const have: Record<Split, number> = { train: 0, val: 0, test: 0 };
      for (const r of group) if (r.split) have[r.split] += r.n;
      const order = group.filter((r) => r.split === null)
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
        if (empty) best = empty;
        else {
          for (const s of active) {
            const deficit = (targets[s] / total) * sum - have[s];
            if (deficit > bestDeficit) { best = s; bestDeficit = deficit; }
          }
        }
        update.run(best, r.id);
        have[best] += Math.max(1, r.n);
        locRides[best]++;
        assigned++;
      }
    }
    if (opts.freezeTest && !frozen && locRides.test === 0) {
      throw new SidewalkError('DATA_SPLIT_EMPTY_TEST', `location "${opts.location}" has no test rides; refusing to freeze an empty test split`);
    }
    if (opts.freezeTest && !frozen) db.prepare('UPDATE locations SET test_frozen_at = ? WHERE id = ?').run(new Date().toISOString(), loc.id);
  })();
  const bySplit: Record<Split, number> = { train: 0, val: 0, test: 0 };
  for (const r of db.prepare('SELECT split, COUNT(*) AS n FROM rides WHERE location_id = ? AND split IS NOT NULL GROUP BY split').all(loc.id) as { split: Split; n: number }[]) bySplit[r.split] = r.n;
  return { assigned, bySplit, testFrozen: frozen || opts.freezeTest === true };
}
