/**
 * The limit rule: from the decision's target and the measured speed to the limit commanded.
 *
 * 'measured' (default, the legacy scooter's rule, docs/legacy.md): the limit is anchored to the
 * scooter's measured speed,
 *   on a sidewalk (or in the fail-safe):  limit = max(speed - delta, sidewalk limit)
 *   otherwise:                            limit = max(sidewalk limit, min(speed + delta, full speed))
 * with delta = rate * elapsed time and rate = (full - sidewalk) / rampS km/h per second (the legacy
 * code's per-sample delta at 3 samples/s, expressed per second). A rider entering a sidewalk at 8 km/h
 * gets a limit below 8 at once instead of a ramp from 25. While no speed measurement is fresh it falls
 * back to the time ramp from the last limit (ramp.ts).
 * 'ramp': always the time ramp from the last limit (the earlier behaviour; Ramp in ramp.ts).
 *
 * Safety property (docs/legacy.md): on a sidewalk the measured rule never commands more than
 * max(measured speed, sidewalk limit).
 */
import { Ramp, rampRateKphPerS, type RampConfig } from './ramp.js';

export type LimitRuleKind = 'measured' | 'ramp';

export interface LimitStep {
  /** The decision's target limit (sidewalk, full or fail-safe limit). Unit: km/h. */
  targetKph: number;
  onSidewalk: boolean;
  failSafe: boolean;
  /** Fresh measured speed, null when none (the speed source answers null once a reading is stale). Unit: km/h. */
  speedKph: number | null;
  /** Monotonic time of the step. Unit: ms. */
  nowMs: number;
}

/** What the pipeline drives: one step per frame or control tick, returning the limit to command. */
export interface LimitRule {
  readonly kind: LimitRuleKind;
  /** The limit last returned. Unit: km/h. */
  readonly limitKph: number;
  next(s: LimitStep): number;
}

export class MeasuredSpeedLimitRule implements LimitRule {
  readonly kind = 'measured';
  /** Also the fallback while the speed is unknown; it always holds the last limit and time. */
  readonly #ramp: Ramp;
  #atMs: number | null = null;

  constructor(startKph: number, config: Partial<RampConfig> = {}) {
    this.#ramp = new Ramp(startKph, config);
  }

  get config(): RampConfig {
    return this.#ramp.config;
  }

  get limitKph(): number {
    return this.#ramp.limitKph;
  }

  next(s: LimitStep): number {
    const atMs = this.#atMs;
    this.#atMs = s.nowMs;
    if (s.speedKph === null || !Number.isFinite(s.speedKph)) return this.#ramp.step(s.targetKph, s.nowMs, s.failSafe);
    const config = this.#ramp.config;
    // As in the ramp: a clock that went backwards credits nothing, a stalled loop at most maxStepMs.
    const dtMs = atMs === null ? 0 : Math.min(Math.max(s.nowMs - atMs, 0), config.maxStepMs);
    const delta = (rampRateKphPerS(config, s.failSafe) * dtMs) / 1000;
    const speed = Math.max(s.speedKph, 0);
    const limitKph = s.onSidewalk || s.failSafe ? Math.max(speed - delta, s.targetKph) : Math.max(config.sidewalkLimitKph, Math.min(speed + delta, s.targetKph));
    this.#ramp.reset(limitKph, s.nowMs);
    return limitKph;
  }
}

export function createLimitRule(kind: LimitRuleKind, startKph: number, config: Partial<RampConfig> = {}): LimitRule {
  return kind === 'ramp' ? new Ramp(startKph, config) : new MeasuredSpeedLimitRule(startKph, config);
}
