/**
 * Pure ramp / rate limiter between the decision's target limit and the SpeedLimiter: the 'ramp'
 * limit rule, and the 'measured' rule's fallback while no speed is fresh (speed-rule.ts).
 * The commanded limit moves toward the target at span/rampS km/h per second, where span is
 * |fullSpeedKph - sidewalkLimitKph|, so a full <-> sidewalk change takes exactly rampS in either
 * direction. Time comes only from the caller's timestamps: the same steps give the same outputs.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { LimitRule, LimitStep } from './speed-rule.js';
import { RUNTIME_DEFAULTS } from '../config/schema.js';

export interface RampConfig {
  /** Seconds for a full <-> sidewalk change, both directions. Unit: s (speed.ramp_s). Must be > 0. */
  rampS: number;
  /** Ramp used while the fail-safe is active (usually faster). Unit: s. Default null = rampS. Must be > 0. */
  failSafeRampS: number | null;
  /** Optional absolute cap on the rate, whatever the span. Unit: km/h per s. Default null (no cap). */
  maxRateKphPerS: number | null;
  /**
   * Longest time step credited to one update (a stalled loop must not turn its gap into one big jump).
   * Unit: ms. Default 1000.
   */
  maxStepMs: number;
  /** The two ends of the span the ramp time refers to (speed.full_kph, speed.sidewalk_kph). Unit: km/h. */
  fullSpeedKph: number;
  sidewalkLimitKph: number;
}

/** Span and ramp time from the config schema's speed defaults; the rest are the ramp's own. */
export const DEFAULT_RAMP_CONFIG: Readonly<RampConfig> = Object.freeze({
  rampS: RUNTIME_DEFAULTS.speed.ramp_s,
  failSafeRampS: null,
  maxRateKphPerS: null,
  maxStepMs: 1000,
  fullSpeedKph: RUNTIME_DEFAULTS.speed.full_kph,
  sidewalkLimitKph: RUNTIME_DEFAULTS.speed.sidewalk_kph,
});

export interface RampState {
  /** The limit last commanded. Unit: km/h. */
  readonly limitKph: number;
  /** Time of the last update (monotonic ms); null before the first. */
  readonly atMs: number | null;
}

export function resolveRampConfig(partial: Partial<RampConfig> = {}): RampConfig {
  const config: RampConfig = { ...DEFAULT_RAMP_CONFIG, ...partial };
  const bad = (field: keyof RampConfig, why: string): never => {
    throw new SidewalkError('RAMP_CONFIG_INVALID', `ramp config ${field}=${String(config[field])}: ${why}`, { details: { field } });
  };
  if (!(config.rampS > 0 && Number.isFinite(config.rampS))) bad('rampS', 'must be > 0 (a zero ramp would let one frame slam the limit)');
  if (config.failSafeRampS !== null && !(config.failSafeRampS > 0)) bad('failSafeRampS', 'must be > 0 or null');
  if (config.maxRateKphPerS !== null && !(config.maxRateKphPerS > 0)) bad('maxRateKphPerS', 'must be > 0 or null');
  if (!(config.maxStepMs > 0)) bad('maxStepMs', 'must be > 0');
  if (!(config.fullSpeedKph >= 0) || !(config.sidewalkLimitKph >= 0)) bad('fullSpeedKph', 'speeds must be >= 0');
  if (config.fullSpeedKph === config.sidewalkLimitKph) bad('fullSpeedKph', 'must differ from sidewalkLimitKph (the ramp span would be zero)');
  return config;
}

/** Starts at `limitKph` (the limiter's safe state, normally the sidewalk or fail-safe limit). */
export function initialRampState(limitKph: number): RampState {
  return { limitKph, atMs: null };
}

/** The allowed rate in km/h per second. */
export function rampRateKphPerS(config: RampConfig, failSafe: boolean): number {
  const span = Math.abs(config.fullSpeedKph - config.sidewalkLimitKph);
  const seconds = failSafe ? (config.failSafeRampS ?? config.rampS) : config.rampS;
  const rate = span / seconds;
  return config.maxRateKphPerS === null ? rate : Math.min(rate, config.maxRateKphPerS);
}

// Float steps can leave a residue of a few ulps; snap to the target inside this distance.
const SNAP_KPH = 1e-9;

/** One update: moves the limit toward `targetKph` by at most rate * elapsed time. */
export function rampStep(state: RampState, targetKph: number, nowMs: number, config: RampConfig, failSafe = false): RampState {
  if (state.atMs === null) return { limitKph: state.limitKph, atMs: nowMs };
  // A clock that went backwards credits no time.
  const dtMs = Math.min(Math.max(nowMs - state.atMs, 0), config.maxStepMs);
  const maxDelta = (rampRateKphPerS(config, failSafe) * dtMs) / 1000;
  const diff = targetKph - state.limitKph;
  const limitKph = Math.abs(diff) <= maxDelta + SNAP_KPH ? targetKph : state.limitKph + Math.sign(diff) * maxDelta;
  return { limitKph, atMs: nowMs };
}

/** Stateful wrapper for the runtime loop; the 'ramp' limit rule (it ignores the measured speed). */
export class Ramp implements LimitRule {
  readonly kind = 'ramp';
  readonly config: RampConfig;
  #state: RampState;

  constructor(startKph: number, config: Partial<RampConfig> = {}) {
    this.config = resolveRampConfig(config);
    this.#state = initialRampState(startKph);
  }

  get limitKph(): number {
    return this.#state.limitKph;
  }

  step(targetKph: number, nowMs: number, failSafe = false): number {
    this.#state = rampStep(this.#state, targetKph, nowMs, this.config, failSafe);
    return this.#state.limitKph;
  }

  next(s: LimitStep): number {
    return this.step(s.targetKph, s.nowMs, s.failSafe);
  }

  /** Sets the limit another rule commanded at `nowMs`, so a later ramp continues from it. */
  reset(limitKph: number, nowMs: number): void {
    this.#state = { limitKph, atMs: nowMs };
  }
}
