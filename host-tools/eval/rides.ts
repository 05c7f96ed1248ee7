/**
 * Ride-level replay: every frame of recorded rides (sidewalk-ride/1) through the model, then through
 * the runtime's own DecisionEngine (default, legacy configuration) and the time Ramp, at the frames'
 * recorded times (recorded speeds do not respond to the limit, so the measured-speed rule would not
 * tell how fast the limit is reached). replayRecordedRuns replays recorded scores instead of a model. For each sidewalk segment (consecutive frames whose ground truth is in the
 * sidewalk group) it measures the time from entering the sidewalk to the decision and to the limit
 * actually reaching the sidewalk speed. A segment with no sidewalk decision at all is "missed".
 * Ground truth is `true_label` (synthetic rides), else a rider label that names a model class.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { Ramp } from '../../runtime/actuators/ramp.js';
import { RawVideoReader, probeStream } from '../../runtime/camera/ffmpeg-reader.js';
import { DecisionEngine } from '../../runtime/decision/index.js';
import type { ClassProbabilities, Classifier } from '../../runtime/types.js';
import { frameFileName, readRide, RIDE_META_FILE, type RideOnDisk, type SensorRecord } from '../../runtime/recorder/ride-format.js';
import { decodeImages, imageHeader } from './dataset.js';
import { createLimitRule } from '../../runtime/actuators/speed-rule.js';
import { readRecordedRun, recordedRunKind, replayRecordedScores, type RecordedAgreement, type RecordedDecision } from '../../runtime/service/recorded-scores.js';
import { argmax } from './metrics.js';

const log = createLogger('eval:rides');

export interface SegmentResult {
  ride_id: string;
  start_ms: number;
  end_ms: number;
  /** From entering the sidewalk to the first sidewalk decision; null when missed. */
  decision_ms: number | null;
  /** From entering the sidewalk to the commanded limit reaching sidewalk speed; null when not within the segment. */
  limit_ms: number | null;
}

export interface RideReplayReport {
  rides: number;
  frames: number;
  /** Frame-level top-1 accuracy over frames with ground truth. */
  frame_accuracy: number;
  sidewalk_segments: number;
  missed_segments: number;
  /** Segments that got a sidewalk decision but ended before the ramp reached sidewalk speed. */
  limit_not_reached: number;
  time_to_limit_ms: { mean: number; max: number } | null;
  time_to_decision_ms: { mean: number; max: number } | null;
  per_location: Record<string, { accuracy: number; count: number }>;
  segments: SegmentResult[];
  decision: { window_frames: number; ramp_s: number; sidewalk_limit_kph: number; full_speed_kph: number };
}

/** DIR itself when it is a ride, else its sub-folders that hold a ride.json (sorted). */
export async function findRides(dir: string): Promise<string[]> {
  const isFile = (p: string): Promise<boolean> =>
    stat(p).then(
      (s) => s.isFile(),
      () => false,
    );
  if (await isFile(join(dir, RIDE_META_FILE))) return [dir];
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: Error) => {
    throw new SidewalkError('EVAL_RIDES_MISSING', `${dir}: cannot read the rides folder (${err.message})`, { details: { dir } });
  });
  const rides: string[] = [];
  for (const e of entries.filter((d) => d.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (await isFile(join(dir, e.name, RIDE_META_FILE))) rides.push(join(dir, e.name));
  }
  if (rides.length === 0) throw new SidewalkError('EVAL_RIDES_MISSING', `${dir}: no ride folders (with ride.json) found`, { details: { dir } });
  return rides;
}

/** Model probabilities for every frame of a ride, by frame index. */
async function classifyRide(ride: RideOnDisk, classifier: Classifier): Promise<ClassProbabilities[]> {
  const out: ClassProbabilities[] = [];
  const classify = async (index: number, rgb: Uint8Array, width: number, height: number): Promise<void> => {
    const result = await classifier.classify({ seq: index, capturedAtNs: 0n, width, height, stride: width * 3, format: 'rgb24', data: rgb.slice() });
    out[index] = result.probabilities;
  };
  const frames = ride.meta.frames;
  if (frames.kind === 'jpeg') {
    const items = [];
    for (let i = 0; i < frames.count; i++) {
      const path = join(ride.dir, frames.dir, frameFileName(i));
      items.push({ path, index: i, ...(await imageHeader(path)) });
    }
    for await (const { item, rgb } of decodeImages(items)) await classify(item.index, rgb, item.width, item.height);
    return out;
  }
  const file = join(ride.dir, frames.file);
  const size = frames.width && frames.height ? { width: frames.width, height: frames.height } : await probeStream(file);
  const reader = new RawVideoReader({
    args: ['-hide_banner', '-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-fps_mode', 'passthrough', '-'],
    frameBytes: size.width * size.height * 3,
    label: file,
  });
  reader.start();
  try {
    for (let i = 0; ; i++) {
      const rgb = await reader.read();
      if (rgb === null) break;
      await classify(i, rgb, size.width, size.height);
      reader.release(rgb);
    }
  } finally {
    await reader.stop();
  }
  return out;
}

function truthOf(record: SensorRecord, labels: readonly string[]): string | null {
  if (record.true_label !== undefined && labels.includes(record.true_label)) return record.true_label;
  return typeof record.rider_label === 'string' && labels.includes(record.rider_label) ? record.rider_label : null;
}

function meanMax(values: number[]): { mean: number; max: number } | null {
  return values.length === 0 ? null : { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

export async function replayRides(rideDirs: readonly string[], classifier: Classifier, onProgress: (message: string) => void = () => undefined): Promise<RideReplayReport> {
  const { labels, groups } = classifier;
  const sidewalk = new Set(groups.sidewalk);
  const segments: SegmentResult[] = [];
  const perLocation: Record<string, { correct: number; count: number }> = {};
  let frames = 0;
  let correct = 0;
  let truthFrames = 0;
  let engine = new DecisionEngine();
  for (const dir of rideDirs) {
    const ride = await readRide(dir);
    const probabilities = await classifyRide(ride, classifier);
    const records = ride.records.filter((r) => r.frame !== undefined && probabilities[r.frame] !== undefined).sort((a, b) => a.frame! - b.frame!);
    engine = new DecisionEngine();
    const cfg = engine.config;
    const ramp = new Ramp(cfg.fullSpeedKph, { fullSpeedKph: cfg.fullSpeedKph, sidewalkLimitKph: cfg.sidewalkLimitKph });
    perLocation[ride.meta.location] ??= { correct: 0, count: 0 };
    const loc = perLocation[ride.meta.location]!;
    let open: SegmentResult | null = null;
    for (const record of records) {
      const probs = probabilities[record.frame!]!;
      const out = engine.step({ nowMs: record.t_ms, probabilities: probs, labels, groups, speedKph: record.speed_kph ?? null });
      const limitKph = ramp.step(out.targetLimitKph, record.t_ms, out.failSafe);
      const truth = truthOf(record, labels);
      frames++;
      if (truth !== null) {
        truthFrames++;
        loc.count++;
        if (labels[argmax(probs)] === truth) {
          correct++;
          loc.correct++;
        }
      }
      const onSidewalk = truth !== null && sidewalk.has(truth);
      if (onSidewalk && open === null) {
        open = { ride_id: ride.meta.ride_id, start_ms: record.t_ms, end_ms: record.t_ms, decision_ms: null, limit_ms: null };
        segments.push(open);
      } else if (!onSidewalk && open !== null) {
        open.end_ms = record.t_ms;
        open = null;
      }
      if (open !== null) {
        open.end_ms = record.t_ms;
        if (open.decision_ms === null && out.onSidewalk) open.decision_ms = record.t_ms - open.start_ms;
        if (open.limit_ms === null && limitKph <= cfg.sidewalkLimitKph + 1e-6) open.limit_ms = record.t_ms - open.start_ms;
      }
    }
    log.debug(() => `${dir}: ${records.length} frames replayed`);
    onProgress(`ride ${ride.meta.ride_id}: ${records.length} frames`);
  }
  const missed = segments.filter((s) => s.decision_ms === null).length;
  const cfg = engine.config;
  return {
    rides: rideDirs.length,
    frames,
    frame_accuracy: truthFrames === 0 ? 0 : correct / truthFrames,
    sidewalk_segments: segments.length,
    missed_segments: missed,
    limit_not_reached: segments.filter((s) => s.decision_ms !== null && s.limit_ms === null).length,
    time_to_limit_ms: meanMax(segments.flatMap((s) => (s.limit_ms === null ? [] : [s.limit_ms]))),
    time_to_decision_ms: meanMax(segments.flatMap((s) => (s.decision_ms === null ? [] : [s.decision_ms]))),
    per_location: Object.fromEntries(
      Object.entries(perLocation)
        .filter(([, v]) => v.count > 0)
        .map(([k, v]) => [k, { accuracy: v.correct / v.count, count: v.count }]),
    ),
    segments,
    decision: { window_frames: cfg.windowFrames, ramp_s: new Ramp(cfg.fullSpeedKph).config.rampS, sidewalk_limit_kph: cfg.sidewalkLimitKph, full_speed_kph: cfg.fullSpeedKph },
  };
}

export interface RecordedScoresReport {
  runs: RecordedAgreement[];
  frames: number;
  compared: number;
  agreeing: number;
  /** agreeing / compared over all runs (1 when nothing was compared). */
  agreement: number;
}

/** DIR itself when it is a ride or a legacy run, else its sub-folders that are (sorted). */
export async function findRecordedRuns(dir: string): Promise<string[]> {
  if (await recordedRunKind(dir)) return [dir];
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: Error) => {
    throw new SidewalkError('EVAL_RIDES_MISSING', `${dir}: cannot read the rides folder (${err.message})`, { details: { dir } });
  });
  const runs: string[] = [];
  for (const e of entries.filter((d) => d.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (await recordedRunKind(join(dir, e.name))) runs.push(join(dir, e.name));
  }
  if (runs.length === 0) throw new SidewalkError('EVAL_RIDES_MISSING', `${dir}: no ride folders (ride.json) or legacy run folders (raw_data.txt) found`, { details: { dir } });
  return runs;
}

/**
 * `eval --rides DIR --recorded-scores`: every run's recorded scores through the default (legacy)
 * decision and limit rule, agreement with the recorded decisions per run and in total.
 */
export async function replayRecordedRuns(
  dirs: readonly string[],
  onDecision: (dir: string, d: RecordedDecision) => void = () => undefined,
  onProgress: (message: string) => void = () => undefined,
): Promise<RecordedScoresReport> {
  const runs: RecordedAgreement[] = [];
  for (const dir of dirs) {
    const run = await readRecordedRun(dir);
    const engine = new DecisionEngine();
    const rule = createLimitRule('measured', engine.config.sidewalkLimitKph, { fullSpeedKph: engine.config.fullSpeedKph, sidewalkLimitKph: engine.config.sidewalkLimitKph });
    const result = replayRecordedScores(run, engine, rule, (d) => onDecision(dir, d));
    runs.push(result);
    onProgress(`${dir}: recorded decision reproduced on ${result.agreeing} of ${result.compared} frames`);
  }
  const sum = (f: (r: RecordedAgreement) => number): number => runs.reduce((a, r) => a + f(r), 0);
  const compared = sum((r) => r.compared);
  const agreeing = sum((r) => r.agreeing);
  return { runs, frames: sum((r) => r.frames), compared, agreeing, agreement: compared === 0 ? 1 : agreeing / compared };
}
