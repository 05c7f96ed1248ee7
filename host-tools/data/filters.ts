/**
 * Quality flags (never deletions): low_speed, blurry, dark, near_duplicate (within a ride) and
 * duplicate_of_other_ride (near-duplicates.ts). Computed from metrics stored per frame, so thresholds can
 * change later (`sidewalk data filter`) without decoding images again.
 */
import type { DataConfig } from './config.js';
import type { Db } from './db.js';
import { setSetting } from './db.js';
import { hammingHex } from './images.js';
import { CROSS_RIDE_FLAG, flagLocationDuplicates } from './near-duplicates.js';

export const QUALITY_FLAGS = ['low_speed', 'blurry', 'dark', 'near_duplicate', CROSS_RIDE_FLAG] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

export interface FlagInput {
  speedRaw: number | null;
  speedKph: number | null;
  lumaMean: number | null;
  blurVar: number | null;
  dhash: string | null;
}

/** Flags for the frames of ONE ride, in frame order (near-duplicates compare with the last kept frame). */
export function flagRide(kind: 'ride' | 'legacy' | 'video', frames: FlagInput[], f: DataConfig['filters']): QualityFlag[][] {
  let lastKept: string | null = null;
  return frames.map((fr) => {
    const flags: QualityFlag[] = [];
    if (kind === 'legacy' ? fr.speedRaw !== null && fr.speedRaw < f.legacyMinSpeed : fr.speedKph !== null && fr.speedKph < f.minSpeedKph) flags.push('low_speed');
    if (fr.blurVar !== null && fr.blurVar < f.blurMinVariance) flags.push('blurry');
    if (fr.lumaMean !== null && fr.lumaMean < f.darkMaxLuma) flags.push('dark');
    if (fr.dhash) {
      if (lastKept !== null && hammingHex(lastKept, fr.dhash) <= f.duplicateMaxDistance) flags.push('near_duplicate');
      else lastKept = fr.dhash;
    }
    return flags;
  });
}

/** Recomputes every frame's flags with `filters` (one transaction); returns the number of flagged frames. */
export function reflagAll(db: Db, filters: DataConfig['filters']): number {
  const rides = db.prepare('SELECT id, source_kind AS kind FROM rides').all() as { id: number; kind: 'ride' | 'legacy' | 'video' }[];
  const frameStmt = db.prepare('SELECT id, speed_raw AS speedRaw, speed_kph AS speedKph, luma_mean AS lumaMean, blur_var AS blurVar, dhash FROM frames WHERE ride_id = ? ORDER BY idx');
  const ins = db.prepare('INSERT INTO frame_flags (frame_id, flag) VALUES (?, ?)');
  db.transaction(() => {
    db.prepare('DELETE FROM frame_flags').run();
    for (const ride of rides) {
      const frames = frameStmt.all(ride.id) as (FlagInput & { id: number })[];
      flagRide(ride.kind, frames, filters).forEach((flags, i) => {
        for (const fl of flags) ins.run(frames[i]!.id, fl);
      });
    }
    for (const loc of db.prepare('SELECT id FROM locations').pluck().all() as number[]) flagLocationDuplicates(db, loc, filters.duplicateMaxDistance);
    setSetting(db, 'filters', filters);
  })();
  return (db.prepare('SELECT COUNT(DISTINCT frame_id) AS n FROM frame_flags').get() as { n: number }).n;
}
