/** Dataset statistics per location: frames by class, split, quality flag, label source; review queue size. */
import type { Db } from './db.js';

export interface LocationStats {
  location: string;
  rides: number;
  frames: number;
  labelled: number;
  queued: number;
  testFrozen: boolean;
  byLabel: Record<string, number>;
  bySplit: Record<string, number>;
  byFlag: Record<string, number>;
  bySource: Record<string, number>;
  /** Frames per split and class (unflagged, labelled: what an export would contain). */
  usable: Record<string, Record<string, number>>;
}

function grouped(db: Db, sql: string, loc: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of db.prepare(sql).all(loc) as { k: string | null; n: number }[]) out[r.k ?? 'none'] = r.n;
  return out;
}

export function datasetStats(db: Db, location?: string): LocationStats[] {
  const locs = db.prepare(`SELECT id, name, test_frozen_at FROM locations ${location ? 'WHERE name = ?' : ''} ORDER BY name`).all(...(location ? [location] : [])) as {
    id: number;
    name: string;
    test_frozen_at: string | null;
  }[];
  const F = 'FROM frames f JOIN rides r ON r.id = f.ride_id WHERE r.location_id = ?';
  return locs.map((l) => {
    const one = (sql: string): number => (db.prepare(sql).get(l.id) as { n: number }).n;
    const usable: Record<string, Record<string, number>> = {};
    for (const r of db
      .prepare(`SELECT r.split AS s, f.label AS k, COUNT(*) AS n ${F} AND f.label IS NOT NULL AND r.split IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM frame_flags ff WHERE ff.frame_id = f.id) GROUP BY r.split, f.label`)
      .all(l.id) as { s: string; k: string; n: number }[]) {
      usable[r.s] ??= {};
      usable[r.s]![r.k] = r.n;
    }
    return {
      location: l.name,
      rides: one('SELECT COUNT(*) AS n FROM rides WHERE location_id = ?'),
      frames: one(`SELECT COUNT(*) AS n ${F}`),
      labelled: one(`SELECT COUNT(*) AS n ${F} AND f.label IS NOT NULL`),
      queued: one(`SELECT COUNT(*) AS n ${F} AND f.review_state = 'queued'`),
      testFrozen: l.test_frozen_at !== null,
      byLabel: grouped(db, `SELECT f.label AS k, COUNT(*) AS n ${F} GROUP BY f.label`, l.id),
      bySplit: grouped(db, `SELECT r.split AS k, COUNT(*) AS n ${F} GROUP BY r.split`, l.id),
      byFlag: grouped(db, `SELECT ff.flag AS k, COUNT(*) AS n FROM frame_flags ff JOIN frames f ON f.id = ff.frame_id JOIN rides r ON r.id = f.ride_id WHERE r.location_id = ? GROUP BY ff.flag`, l.id),
      // A model's label that nobody accepted yet is a proposal (labels.ts), counted apart.
      bySource: grouped(
        db,
        `SELECT CASE WHEN f.label_source = 'model' AND f.label IS NULL THEN 'model-proposed' ELSE f.label_source END AS k,
        COUNT(*) AS n ${F} GROUP BY k`,
        l.id,
      ),
      usable,
    };
  });
}

export function formatStats(stats: LocationStats[]): string {
  if (stats.length === 0) return 'no rides in this dataset yet (sidewalk data ingest adds them)\n';
  const fmt = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || '-';
  return `${stats
    .map((s) =>
      [
        `${s.location}: ${s.rides} rides, ${s.frames} frames, ${s.labelled} labelled, ${s.queued} queued for review${s.testFrozen ? ', test split frozen' : ''}`,
        `  class:  ${fmt(s.byLabel)}`,
        `  split:  ${fmt(s.bySplit)}`,
        `  flags:  ${fmt(s.byFlag)}`,
        `  source: ${fmt(s.bySource)}`,
        ...Object.entries(s.usable).map(([split, c]) => `  usable ${split}: ${fmt(c)}`),
      ].join('\n'),
    )
    .join('\n')}\n`;
}
