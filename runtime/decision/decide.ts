/**
 * The decision room: class probabilities + speed + time -> on-sidewalk state and target speed limit.
 * `decide` is a pure function of (state, input, config): the runtime, host replay evaluation and the
 * tests all get the same outputs for the same inputs. State is small and never mutated in place.
 *
 * With the defaults it is the legacy scooter's rule exactly (docs/legacy.md): each frame's group score
 * is the max of the group's classes; the window of the last 6 scores starts full of zeros and its sum
 * (oldest to newest, as Python's sum) is always divided by 6; "sidewalk" iff the sidewalk average > 0.5
 * and the road average < 0.5. `groupScore: 'sum'` and `warmup: 'partial'` are the earlier variant
 * (sum of the group's per-class averages, averaged over a partly filled window). Hysteresis, the
 * minimum speed and the fail-safe are additions whose defaults leave the rule untouched while input
 * keeps arriving.
 *
 * The fail-safe needs steps: the caller must also step with `probabilities: null` on a timer when no
 * frame or inference arrives (camera gone, model stalled), or the fail-safe engages only when the
 * next frame finally comes.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { ClassProbabilities } from '../types.js';
import { RUNTIME_DEFAULTS, type RuntimeDefaults } from '../config/schema.js';

export type GroupScore = 'max' | 'sum';
export type Warmup = 'zeros' | 'partial';

export interface DecisionConfig {
  /** Running-average length in valid frames (legacy: 6). Unit: frames. */
  windowFrames: number;
  /** A frame's group score: the max of the group's classes (legacy) or their sum. */
  groupScore: GroupScore;
  /** The window starts full of zeros and is always divided by windowFrames (legacy), or averages the frames seen so far. */
  warmup: Warmup;
  /** Enter the sidewalk state when the sidewalk group's averaged sum is strictly above this. Unit: probability. */
  sidewalkEnter: number;
  /** ... and the road group's averaged sum is strictly below this. Unit: probability. */
  roadBelow: number;
  /**
   * Stay on the sidewalk while the sidewalk sum is strictly above this (hysteresis: set it lower than
   * sidewalkEnter). Unit: probability. Default null = sidewalkEnter (legacy: no hysteresis).
   */
  sidewalkExit: number | null;
  /** ... and the road sum is strictly below this (hysteresis: set it higher than roadBelow). Default null = roadBelow. */
  roadExit: number | null;
  /** Consecutive valid frames whose evidence says "sidewalk" before the state enters it. Unit: frames. 1 = legacy. */
  enterFrames: number;
  /** Consecutive valid frames whose evidence says "road" before the state leaves the sidewalk. Unit: frames. 1 = legacy. */
  exitFrames: number;
  /**
   * Below this speed the on-sidewalk state does not change (standing at a kerb, pushing off).
   * Unknown speed (null) never freezes the state. Unit: km/h. 0 = off.
   */
  minSpeedKph: number;
  /** Fail-safe when no valid decision has been made for this long. Unit: ms. */
  failSafeAfterMs: number;
  /** Consecutive valid frames needed to leave the fail-safe. Unit: frames. */
  failSafeReleaseFrames: number;
  /** Target limit on a sidewalk. Unit: km/h. */
  sidewalkLimitKph: number;
  /** Target limit off a sidewalk (the scooter's own maximum). Unit: km/h. */
  fullSpeedKph: number;
  /** Target limit while the fail-safe is active. Unit: km/h. Default null = sidewalkLimitKph. */
  failSafeLimitKph: number | null;
}

/** The engine's settings from a runtime config's decision and speed sections. */
export function decisionConfigFrom(config: Pick<RuntimeDefaults, 'decision' | 'speed'>): DecisionConfig {
  const { decision: d, speed } = config;
  return {
    windowFrames: d.window_frames,
    groupScore: d.group_score,
    warmup: d.warmup,
    sidewalkEnter: d.sidewalk_enter,
    roadBelow: d.road_below,
    sidewalkExit: d.sidewalk_exit,
    roadExit: d.road_exit,
    enterFrames: d.enter_frames,
    exitFrames: d.exit_frames,
    minSpeedKph: d.min_speed_kph,
    failSafeAfterMs: d.fail_safe_after_ms,
    failSafeReleaseFrames: d.fail_safe_release_frames,
    sidewalkLimitKph: speed.sidewalk_kph,
    fullSpeedKph: speed.full_kph,
    failSafeLimitKph: speed.fail_safe_kph,
  };
}

/** The config schema's defaults; the fail-safe limit follows the sidewalk limit unless set. */
export const DEFAULT_DECISION_CONFIG: Readonly<DecisionConfig> = Object.freeze({ ...decisionConfigFrom(RUNTIME_DEFAULTS), failSafeLimitKph: null });

export interface DecisionInput {
  /** Monotonic time of this step (ms). */
  nowMs: number;
  /** Model output in `labels` order; null = no valid inference this step. NaN/out-of-range values count as invalid. */
  probabilities: ClassProbabilities | null;
  labels: readonly string[];
  groups: { sidewalk: readonly string[]; road: readonly string[] };
  /** Current speed, null when unknown. */
  speedKph: number | null;
}

export type DecisionReason =
  | 'sidewalk' // valid frame, evidence and state agree: on the sidewalk
  | 'road' // valid frame, evidence and state agree: off the sidewalk
  | 'pending-enter' // evidence says sidewalk, waiting for enterFrames
  | 'pending-exit' // evidence says road, waiting for exitFrames
  | 'low-speed' // below minSpeedKph: state frozen
  | 'no-input' // no valid inference this step, fail-safe not (yet) engaged: state held
  | 'invalid-probabilities' // probabilities present but unusable (length, NaN, range): treated as no input
  | 'fail-safe' // no valid decision for failSafeAfterMs
  | 'fail-safe-recovering'; // valid frames again, fewer than failSafeReleaseFrames so far

export interface DecisionState {
  /** Last `windowFrames` valid probability vectors, oldest first. */
  readonly history: readonly (readonly number[])[];
  readonly onSidewalk: boolean;
  /** Consecutive valid frames whose evidence disagrees with onSidewalk. */
  readonly pendingFrames: number;
  /** Time of the last valid decision, or of the first step when there has been none. */
  readonly lastValidMs: number | null;
  readonly failSafe: boolean;
  /** Consecutive valid frames seen while in fail-safe. */
  readonly releaseFrames: number;
}

export interface DecisionOutput {
  onSidewalk: boolean;
  failSafe: boolean;
  targetLimitKph: number;
  /** Window average of the sidewalk group's score (NaN before the first valid frame with warmup 'partial'). */
  sidewalkScore: number;
  /** Window average of the road group's score. */
  roadScore: number;
  reason: DecisionReason;
}

/** Starts off the sidewalk with no history; the fail-safe clock starts at the first step. */
export function initialDecisionState(): DecisionState {
  return { history: [], onSidewalk: false, pendingFrames: 0, lastValidMs: null, failSafe: false, releaseFrames: 0 };
}

/** Fills missing fields with defaults and checks ranges; throws DECISION_CONFIG_INVALID naming the field. */
export function resolveDecisionConfig(partial: Partial<DecisionConfig> = {}): DecisionConfig {
  const config: DecisionConfig = { ...DEFAULT_DECISION_CONFIG, ...partial };
  const bad = (field: keyof DecisionConfig, why: string): never => {
    throw new SidewalkError('DECISION_CONFIG_INVALID', `decision config ${field}=${String(config[field])}: ${why}`, {
      details: { field },
    });
  };
  for (const field of ['windowFrames', 'enterFrames', 'exitFrames', 'failSafeReleaseFrames'] as const) {
    if (!Number.isInteger(config[field]) || config[field] < 1) bad(field, 'must be an integer >= 1');
  }
  for (const field of ['sidewalkEnter', 'roadBelow', 'sidewalkExit', 'roadExit'] as const) {
    const v = config[field];
    if (v !== null && !(Number.isFinite(v) && v >= 0 && v <= 2)) bad(field, 'must be a probability sum in [0, 2] or null');
  }
  if (config.groupScore !== 'max' && config.groupScore !== 'sum') bad('groupScore', "must be 'max' or 'sum'");
  if (config.warmup !== 'zeros' && config.warmup !== 'partial') bad('warmup', "must be 'zeros' or 'partial'");
  if (!(config.minSpeedKph >= 0)) bad('minSpeedKph', 'must be >= 0');
  if (!(config.failSafeAfterMs > 0)) bad('failSafeAfterMs', 'must be > 0');
  for (const field of ['sidewalkLimitKph', 'fullSpeedKph'] as const) {
    if (!(Number.isFinite(config[field]) && config[field] >= 0)) bad(field, 'must be a finite speed >= 0');
  }
  if (config.failSafeLimitKph !== null && !(config.failSafeLimitKph >= 0)) bad('failSafeLimitKph', 'must be >= 0 or null');
  return config;
}

/** Indices of a group's labels; throws DECISION_UNKNOWN_LABEL when a group names a label the model lacks. */
function groupIndices(labels: readonly string[], names: readonly string[], group: string): number[] {
  return names.map((name) => {
    const i = labels.indexOf(name);
    if (i < 0) {
      throw new SidewalkError('DECISION_UNKNOWN_LABEL', `group ${group} names label "${name}" that is not in labels [${labels.join(', ')}]`, {
        details: { group, label: name },
      });
    }
    return i;
  });
}

function validProbabilities(p: DecisionInput['probabilities'], labelCount: number): number[] | null {
  if (p === null || p.length !== labelCount) return null;
  const out = new Array<number>(labelCount);
  for (let i = 0; i < labelCount; i++) {
    const v = p[i]!;
    // Small tolerance: quantised outputs can overshoot 1 by a step.
    if (!Number.isFinite(v) || v < -0.01 || v > 1.01) return null;
    out[i] = v;
  }
  return out;
}

/**
 * The window average of a group's score. Sums run oldest to newest from 0, as Python's sum() does, so
 * results equal the legacy code's bit for bit (the order matters at the threshold). With warmup
 * 'zeros' the missing frames are the zeros the legacy window starts with: they add nothing, but the
 * sum is still divided by windowFrames.
 */
function groupScore(history: readonly (readonly number[])[], indices: readonly number[], config: DecisionConfig): number {
  const divisor = config.warmup === 'zeros' ? config.windowFrames : history.length;
  if (divisor === 0) return Number.NaN;
  if (config.groupScore === 'max') {
    let sum = 0;
    for (const frame of history) {
      let score = indices.length === 0 ? 0 : frame[indices[0]!]!;
      for (const i of indices) if (frame[i]! > score) score = frame[i]!;
      sum += score;
    }
    return sum / divisor;
  }
  let sum = 0;
  for (const i of indices) {
    let classSum = 0;
    for (const frame of history) classSum += frame[i]!;
    sum += classSum / divisor;
  }
  return sum;
}

function target(onSidewalk: boolean, failSafe: boolean, config: DecisionConfig): number {
  if (failSafe) return config.failSafeLimitKph ?? config.sidewalkLimitKph;
  return onSidewalk ? config.sidewalkLimitKph : config.fullSpeedKph;
}

/** One decision step. `config` should come from resolveDecisionConfig (defaults filled, ranges checked). */
export function decide(state: DecisionState, input: DecisionInput, config: DecisionConfig): { state: DecisionState; output: DecisionOutput } {
  const sidewalkIdx = groupIndices(input.labels, input.groups.sidewalk, 'sidewalk');
  const roadIdx = groupIndices(input.labels, input.groups.road, 'road');
  const probs = validProbabilities(input.probabilities, input.labels.length);
  const lastValidMs = state.lastValidMs ?? input.nowMs;

  if (probs === null) {
    const failSafe = state.failSafe || input.nowMs - lastValidMs >= config.failSafeAfterMs;
    // Entering the fail-safe drops the window: frames from before an outage must not decide after it.
    const history = failSafe && !state.failSafe ? [] : state.history;
    const next: DecisionState = {
      ...state,
      history,
      lastValidMs,
      failSafe,
      releaseFrames: 0,
      pendingFrames: failSafe ? 0 : state.pendingFrames,
    };
    const reason: DecisionReason = failSafe ? 'fail-safe' : input.probabilities === null ? 'no-input' : 'invalid-probabilities';
    return {
      state: next,
      output: {
        onSidewalk: state.onSidewalk,
        failSafe,
        targetLimitKph: target(state.onSidewalk, failSafe, config),
        sidewalkScore: groupScore(history, sidewalkIdx, config),
        roadScore: groupScore(history, roadIdx, config),
        reason,
      },
    };
  }

  // A valid frame after a gap of failSafeAfterMs with no steps in between (a caller that only steps on
  // frames) is treated like a gap seen step by step: fail-safe, old window dropped, release counted.
  const gapped = !state.failSafe && input.nowMs - lastValidMs >= config.failSafeAfterMs;
  const history = [...(gapped ? [] : state.history), probs].slice(-config.windowFrames);
  const sidewalkScore = groupScore(history, sidewalkIdx, config);
  const roadScore = groupScore(history, roadIdx, config);
  const evidence = state.onSidewalk
    ? sidewalkScore > (config.sidewalkExit ?? config.sidewalkEnter) && roadScore < (config.roadExit ?? config.roadBelow)
    : sidewalkScore > config.sidewalkEnter && roadScore < config.roadBelow;

  let onSidewalk = state.onSidewalk;
  let pendingFrames = 0;
  let reason: DecisionReason = onSidewalk ? 'sidewalk' : 'road';
  const frozen = input.speedKph !== null && input.speedKph < config.minSpeedKph;
  if (evidence !== state.onSidewalk) {
    if (frozen) {
      reason = 'low-speed';
    } else {
      pendingFrames = (gapped ? 0 : state.pendingFrames) + 1;
      if (pendingFrames >= (state.onSidewalk ? config.exitFrames : config.enterFrames)) {
        onSidewalk = evidence;
        pendingFrames = 0;
        reason = onSidewalk ? 'sidewalk' : 'road';
      } else {
        reason = state.onSidewalk ? 'pending-exit' : 'pending-enter';
      }
    }
  }

  let failSafe = state.failSafe || gapped;
  let releaseFrames = 0;
  if (failSafe) {
    releaseFrames = (gapped ? 0 : state.releaseFrames) + 1;
    if (releaseFrames >= config.failSafeReleaseFrames) {
      failSafe = false;
      releaseFrames = 0;
    } else {
      reason = 'fail-safe-recovering';
    }
  }

  return {
    state: { history, onSidewalk, pendingFrames, lastValidMs: input.nowMs, failSafe, releaseFrames },
    output: { onSidewalk, failSafe, targetLimitKph: target(onSidewalk, failSafe, config), sidewalkScore, roadScore, reason },
  };
}

/** A tiny stateful wrapper for the runtime loop; the logic stays in `decide`. */
export class DecisionEngine {
  readonly config: DecisionConfig;
  #state: DecisionState = initialDecisionState();

  constructor(config: Partial<DecisionConfig> = {}) {
    this.config = resolveDecisionConfig(config);
  }

  get state(): DecisionState {
    return this.#state;
  }

  step(input: DecisionInput): DecisionOutput {
    const { state, output } = decide(this.#state, input, this.config);
    this.#state = state;
    return output;
  }

  reset(): void {
    this.#state = initialDecisionState();
  }
}
