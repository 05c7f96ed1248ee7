/**
 * Replaying recorded scores: a legacy run's `imclass` values (out_data.txt) or a new ride's recorded
 * model scores (sensors.jsonl) go to the decision engine and limit rule instead of a model, at the
 * recorded times, and each decision is compared with the one recorded (legacy swFlag, ride
 * on_sidewalk). This is how the owners check on their own runs that the decision did not change.
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';
import { LEGACY_CLASSES, readLegacyRun, type LegacyOutLayout } from '../recorder/legacy-run.js';
import { readRide, RIDE_META_FILE } from '../recorder/ride-format.js';
import { DEFAULT_GROUPS } from '../inference/manifest-types.js';
import type { DecisionEngine } from '../decision/index.js';
import type { LimitRule } from '../actuators/speed-rule.js';

export interface RecordedFrame {
  /** Frame number as recorded (legacy frame column, ride frame index). */
  frame: number;
  /** Time since the first frame. Unit: ms. */
  tMs: number;
  scores: readonly number[];
  speedKph: number | null;
  /** The decision recorded with the frame; null when none was. */
  recordedOnSidewalk: boolean | null;
}

export interface RecordedRun {
  kind: 'legacy-run' | 'ride';
  dir: string;
  labels: readonly string[];
  groups: { sidewalk: readonly string[]; road: readonly string[] };
  frames: RecordedFrame[];
}

/** One line of `--out`: the decision on one frame and whether it matches the recorded one. */
export interface RecordedDecision {
  frame: number;
  t_ms: number;
  on_sidewalk: boolean;
  recorded_on_sidewalk: boolean | null;
  /** null when nothing was recorded to compare with. */
  agree: boolean | null;
  fail_safe: boolean;
  sidewalk_score: number;
  road_score: number;
  speed_kph: number | null;
  limit_kph: number;
}

export interface RecordedAgreement {
  input: string;
  kind: RecordedRun['kind'];
  frames: number;
  /** Frames with a recorded decision. */
  compared: number;
  agreeing: number;
  /** agreeing / compared (1 when nothing was compared). */
  agreement: number;
  /** Frame numbers where the decision differs from the recorded one (the first 100). */
  disagreeing_frames: number[];
  fail_safe_frames: number;
}

const isFile = (p: string): Promise<boolean> =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

export async function recordedRunKind(dir: string): Promise<RecordedRun['kind'] | null> {
  if (await isFile(join(dir, RIDE_META_FILE))) return 'ride';
  if (await isFile(join(dir, 'raw_data.txt'))) return 'legacy-run';
  return null;
}

async function readLegacyScores(dir: string, speedScale: number, layout: LegacyOutLayout | undefined): Promise<RecordedRun> {
  const run = await readLegacyRun(dir, layout ? { layout } : {});
  const outFile = join(dir, 'out_data.txt');
  if (run.out === null) throw new SidewalkError('REPLAY_NO_RECORDED_SCORES', `${outFile}: missing; a legacy run's scores are in out_data.txt`, { details: { file: outFile } });
  if (run.outLayout === 'post-process') {
    throw new SidewalkError(
      'REPLAY_SCORES_INCOMPLETE',
      `${outFile}: written by scooter.py's post-process path, which does not record the street score (and decided from side and street alone); its swFlag cannot be replayed`,
      { details: { file: outFile } },
    );
  }
  const rawByFrame = new Map(run.raw.map((r) => [r.frame, r]));
  const t0 = run.raw[0]?.time ?? 0;
  const frames = run.out.map((o): RecordedFrame => {
    const raw = rawByFrame.get(o.frame);
    if (!raw || !Number.isFinite(raw.time)) {
      throw new SidewalkError('DATA_LEGACY_MALFORMED', `${join(dir, 'raw_data.txt')}: no row with a time for frame ${o.frame} (${outFile} line ${o.line})`, {
        details: { file: join(dir, 'raw_data.txt'), frame: o.frame },
      });
    }
    return {
      frame: o.frame,
      tMs: (raw.time - t0) * 1000,
      scores: o.scores as number[],
      speedKph: Number.isFinite(raw.speed) ? raw.speed * speedScale : null,
      recordedOnSidewalk: o.sidewalk === 1,
    };
  });
  return { kind: 'legacy-run', dir, labels: LEGACY_CLASSES, groups: DEFAULT_GROUPS, frames };
}

async function readRideScores(dir: string): Promise<RecordedRun> {
  const ride = await readRide(dir);
  const labels = ride.meta.labels;
  const withScores = ride.records.filter((r) => r.frame !== undefined && r.scores !== undefined);
  if (!labels || withScores.length === 0) {
    throw new SidewalkError('REPLAY_NO_RECORDED_SCORES', `${join(dir, 'sensors.jsonl')}: the ride has no recorded model scores (labels in ride.json and scores per frame)`, { details: { dir } });
  }
  const frames = withScores
    .sort((a, b) => a.frame! - b.frame!)
    .map((r): RecordedFrame => {
      if (r.scores!.length !== labels.length) {
        throw new SidewalkError('REPLAY_SCORES_INCOMPLETE', `${join(dir, 'sensors.jsonl')} frame ${r.frame}: ${r.scores!.length} scores for ${labels.length} labels`, {
          details: { dir, frame: r.frame },
        });
      }
      return { frame: r.frame!, tMs: r.t_ms, scores: r.scores!, speedKph: r.speed_kph ?? null, recordedOnSidewalk: r.on_sidewalk ?? null };
    });
  return { kind: 'ride', dir, labels, groups: DEFAULT_GROUPS, frames };
}

/** Reads a legacy run folder or a new-format ride folder's recorded scores. */
export async function readRecordedRun(dir: string, options: { legacySpeedScale?: number; legacyLayout?: LegacyOutLayout } = {}): Promise<RecordedRun> {
  const kind = await recordedRunKind(dir);
  if (kind === 'legacy-run') return readLegacyScores(dir, options.legacySpeedScale ?? 1, options.legacyLayout);
  if (kind === 'ride') return readRideScores(dir);
  throw new SidewalkError('REPLAY_INPUT_UNKNOWN', `${dir}: not a legacy run folder (raw_data.txt) or a ride folder (ride.json); --recorded-scores needs one of those`, { details: { dir } });
}

/** Runs the recorded scores through `engine` and `rule`; `onDecision` sees every frame. */
export function replayRecordedScores(run: RecordedRun, engine: DecisionEngine, rule: LimitRule, onDecision: (d: RecordedDecision) => void = () => undefined): RecordedAgreement {
  let compared = 0;
  let agreeing = 0;
  let failSafeFrames = 0;
  const disagreeing: number[] = [];
  for (const f of run.frames) {
    const out = engine.step({ nowMs: f.tMs, probabilities: f.scores, labels: run.labels, groups: run.groups, speedKph: f.speedKph });
    const limitKph = rule.next({ targetKph: out.targetLimitKph, onSidewalk: out.onSidewalk, failSafe: out.failSafe, speedKph: f.speedKph, nowMs: f.tMs });
    const agree = f.recordedOnSidewalk === null ? null : f.recordedOnSidewalk === out.onSidewalk;
    if (agree !== null) {
      compared++;
      if (agree) agreeing++;
      else if (disagreeing.length < 100) disagreeing.push(f.frame);
    }
    if (out.failSafe) failSafeFrames++;
    onDecision({
      frame: f.frame,
      t_ms: f.tMs,
      on_sidewalk: out.onSidewalk,
      recorded_on_sidewalk: f.recordedOnSidewalk,
      agree,
      fail_safe: out.failSafe,
      sidewalk_score: out.sidewalkScore,
      road_score: out.roadScore,
      speed_kph: f.speedKph,
      limit_kph: limitKph,
    });
  }
  return {
    input: run.dir,
    kind: run.kind,
    frames: run.frames.length,
    compared,
    agreeing,
    agreement: compared === 0 ? 1 : agreeing / compared,
    disagreeing_frames: disagreeing,
    fail_safe_frames: failSafeFrames,
  };
}

export function formatAgreement(a: RecordedAgreement): string {
  const pct = a.compared === 0 ? 'n/a' : `${((a.agreeing / a.compared) * 100).toFixed(2)}%`;
  return [
    `${a.input} (${a.kind}): ${a.frames} frames of recorded scores`,
    `recorded decision reproduced on ${a.agreeing} of ${a.compared} frames (${pct})`,
    ...(a.disagreeing_frames.length ? [`differs at frames ${a.disagreeing_frames.slice(0, 20).join(', ')}${a.disagreeing_frames.length > 20 ? ', ...' : ''}`] : []),
    ...(a.fail_safe_frames ? [`fail-safe frames: ${a.fail_safe_frames}`] : []),
  ].join('\n');
}
