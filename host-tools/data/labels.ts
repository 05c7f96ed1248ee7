/**
 * Final labels: the rider's input mapped to a class, confirmed or supplied by a model's scores; what
 * neither settles goes to the review queue. Pure, so ingest and `sidewalk data label` agree.
 *   rider + model agree                 -> rider's class, source "agreed"
 *   no rider, model top score >= thr    -> a proposal: source "model", no final label (so never
 *                                          exported) unless accepted; a share is sampled into review
 *   rider, no model scores              -> rider's class, source "rider" (when trustRiderAlone)
 *   rider and model disagree            -> review (a conflict)
 *   neither                             -> review
 * Synthetic frames carry their true class (source "synthetic"); human review always wins.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { DataConfig } from './config.js';
import type { Db, LabelSource } from './db.js';

/** A model's scores by class name (stored as JSON in frames.model_scores). */
export type ClassScores = Record<string, number>;

export interface LabelInput {
  riderInput: string | number | null;
  scores: ClassScores | null;
  trueLabel: string | null;
  /** The frame's content hash (sha256 hex): picks, the same way every time, which model proposals are sampled for review. */
  sampleKey?: string;
}

/** Whether a frame's model proposal is among the `share` sampled into the review queue (uniform over sha256 keys). */
export function sampledForReview(key: string | undefined, share: number): boolean {
  if (!key || !/^[0-9a-f]{8}/.test(key)) return false;
  return parseInt(key.slice(0, 8), 16) / 0x1_0000_0000 < share;
}

/** Scores in a given label order -> by class name. */
export function scoresByClass(scores: readonly number[], labels: readonly string[]): ClassScores {
  const out: ClassScores = {};
  scores.forEach((s, i) => {
    out[labels[i] ?? `class_${i}`] = s;
  });
  return out;
}

/** The top class and its score. */
export function topClass(scores: ClassScores): [string, number] | null {
  let best: [string, number] | null = null;
  for (const [k, v] of Object.entries(scores)) if (!best || v > best[1]) best = [k, v];
  return best;
}

export interface LabelDecision {
  riderLabel: string | null;
  label: string | null;
  source: LabelSource | null;
  reviewState: 'queued' | null;
}

/** Maps a rider's input (class name or joystick code) to a class name, or null when unknown. */
export function mapRiderInput(input: string | number | null, cfg: DataConfig): string | null {
  if (input === null || input === '') return null;
  const key = String(input);
  if (cfg.labels.includes(key)) return key;
  const mapped = cfg.labelling.riderMap[key] ?? cfg.labelling.riderMap[String(Number(key))];
  return mapped ?? null;
}

export function decideLabel(input: LabelInput, cfg: DataConfig): LabelDecision {
  const riderLabel = mapRiderInput(input.riderInput, cfg);
  if (input.trueLabel) return { riderLabel, label: input.trueLabel, source: 'synthetic', reviewState: null };
  let modelLabel: string | null = null;
  let modelScore = 0;
  const top = input.scores ? topClass(input.scores) : null;
  if (top) [modelLabel, modelScore] = top;
  if (riderLabel && modelLabel) {
    return riderLabel === modelLabel ? { riderLabel, label: riderLabel, source: 'agreed', reviewState: null } : { riderLabel, label: null, source: null, reviewState: 'queued' };
  }
  if (riderLabel) {
    return cfg.labelling.trustRiderAlone ? { riderLabel, label: riderLabel, source: 'rider', reviewState: null } : { riderLabel, label: null, source: null, reviewState: 'queued' };
  }
  if (modelLabel && modelScore >= cfg.labelling.modelThreshold) {
    if (cfg.labelling.acceptModelLabels) return { riderLabel, label: modelLabel, source: 'model', reviewState: null };
    return { riderLabel, label: null, source: 'model', reviewState: sampledForReview(input.sampleKey, cfg.labelling.modelReviewShare) ? 'queued' : null };
  }
  return { riderLabel, label: null, source: null, reviewState: 'queued' };
}

/** Re-runs labelling over every frame not labelled by a person or a synthetic source; returns changed frames. */
export function relabelAll(db: Db, cfg: DataConfig): number {
  const rows = db
    .prepare(`SELECT f.id, f.rider_label, f.model_scores, f.label, f.label_source, f.review_state, f.content_hash
    FROM frames f WHERE f.label_source IS NULL OR f.label_source NOT IN ('review', 'synthetic')`)
    .all() as { id: number; rider_label: string | null; model_scores: string | null; label: string | null; label_source: string | null; review_state: string | null; content_hash: string }[];
  const update = db.prepare('UPDATE frames SET label = ?, label_source = ?, review_state = ? WHERE id = ?');
  let changed = 0;
  db.transaction(() => {
    for (const r of rows) {
      const d = decideLabel({ riderInput: r.rider_label, scores: r.model_scores ? (JSON.parse(r.model_scores) as ClassScores) : null, trueLabel: null, sampleKey: r.content_hash }, cfg);
      if (d.label !== r.label || d.source !== r.label_source || d.reviewState !== r.review_state) {
        update.run(d.label, d.source, d.reviewState, r.id);
        changed++;
      }
    }
  })();
  return changed;
}

export interface QueuedFrame {
  id: number;
  path: string;
  location: string;
  rideKey: string | null;
  idx: number;
  timeMs: number | null;
  lat: number | null;
  lon: number | null;
  speedKph: number | null;
  speedRaw: number | null;
  riderLabel: string | null;
  modelScores: ClassScores | null;
  modelVersion: string | null;
  flags: string[];
}

export function reviewQueue(db: Db, opts: { location?: string; limit?: number } = {}): QueuedFrame[] {
  const rows = db
    .prepare(`SELECT f.id, f.path, l.name AS location, r.ride_key AS rideKey, f.idx, f.time_ms AS timeMs, f.lat, f.lon,
      f.speed_kph AS speedKph, f.speed_raw AS speedRaw, f.rider_label AS riderLabel, f.model_scores AS scores, f.model_version AS modelVersion,
      (SELECT group_concat(flag) FROM frame_flags ff WHERE ff.frame_id = f.id) AS flags
    FROM frames f JOIN rides r ON r.id = f.ride_id JOIN locations l ON l.id = r.location_id
    WHERE f.review_state = 'queued' ${opts.location ? 'AND l.name = ?' : ''} ORDER BY f.id LIMIT ?`)
    .all(...(opts.location ? [opts.location] : []), opts.limit ?? 50) as (Omit<QueuedFrame, 'modelScores' | 'flags'> & { scores: string | null; flags: string | null })[];
  return rows.map(({ scores, flags, ...r }) => ({ ...r, modelScores: scores ? (JSON.parse(scores) as ClassScores) : null, flags: flags ? flags.split(',') : [] }));
}

/** Records a person's label for a frame (leaves the review queue). */
export function applyReview(db: Db, frameId: number, label: string, cfg: DataConfig): void {
  if (!cfg.labels.includes(label)) throw new SidewalkError('DATA_LABEL_UNKNOWN', `"${label}" is not one of ${cfg.labels.join(', ')}`);
  const r = db.prepare("UPDATE frames SET label = ?, label_source = 'review', review_state = 'done' WHERE id = ?").run(label, frameId);
  if (r.changes !== 1) throw new SidewalkError('DATA_FRAME_UNKNOWN', `frame ${frameId} does not exist`);
}
