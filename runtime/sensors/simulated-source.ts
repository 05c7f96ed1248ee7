/**
 * Simulated speed: a constant, or a script of (time, speed) points interpolated linearly and held
 * after the last point. Time is ms since start(), or the caller's mediaTimeMs when given (replay).
 */
import { SidewalkError } from '../../lib/errors.js';
import type { SpeedReading, SpeedSource } from '../types.js';

/** A constant speed (km/h), or a script of points { atMs since start, speedKph } in time order. */
export type SimulatedSourceConfig = { kind: 'simulated' /** Monotonic clock (ms); default performance.now(). */; nowMs?: () => number } & (
  | { speedKph: number; script?: undefined }
  | { script: readonly { atMs: number; speedKph: number }[]; speedKph?: undefined }
);

export class SimulatedSpeedSource implements SpeedSource {
  readonly #script: readonly { atMs: number; speedKph: number }[];
  readonly #now: () => number;
  #startedAtMs: number | null = null;

  constructor(config: SimulatedSourceConfig) {
    this.#script = config.script ?? [{ atMs: 0, speedKph: config.speedKph }];
    this.#now = config.nowMs ?? (() => performance.now());
    this.#script.forEach((p, i) => {
      const prev = this.#script[i - 1];
      if (!Number.isFinite(p.atMs) || !(p.speedKph >= 0) || (prev && p.atMs < prev.atMs)) {
        throw new SidewalkError('SENSOR_CONFIG_INVALID', `simulated speed script point ${i} (${JSON.stringify(p)}): times must increase and speeds be >= 0`);
      }
    });
    if (this.#script.length === 0) throw new SidewalkError('SENSOR_CONFIG_INVALID', 'simulated speed script is empty');
  }

  get description(): string {
    return this.#script.length === 1 ? `simulated ${this.#script[0]!.speedKph} km/h` : `simulated script (${this.#script.length} points)`;
  }

  async start(): Promise<void> {
    this.#startedAtMs = this.#now();
  }

  /** Speed at `t` ms into the script. */
  speedAt(t: number): number {
    const s = this.#script;
    if (t <= s[0]!.atMs) return s[0]!.speedKph;
    for (let i = 1; i < s.length; i++) {
      const a = s[i - 1]!;
      const b = s[i]!;
      if (t < b.atMs) return a.speedKph + ((b.speedKph - a.speedKph) * (t - a.atMs)) / (b.atMs - a.atMs);
    }
    return s.at(-1)!.speedKph;
  }

  current(mediaTimeMs?: number): SpeedReading | null {
    if (this.#startedAtMs === null) return null;
    const now = this.#now();
    return { speedKph: this.speedAt(mediaTimeMs ?? now - this.#startedAtMs), atMs: now };
  }

  async stop(): Promise<void> {
    this.#startedAtMs = null;
  }
}
