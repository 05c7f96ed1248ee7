/**
 * Replay-log speed: answers for a frame's position in a recording from samples the caller parsed
 * (the legacy raw_data.txt parser lives in runtime/recorder/legacy-run.ts). The legacy speed column is
 * not km/h: speedKph = sample value * speedScale.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { SpeedReading, SpeedSource } from '../types.js';

export interface ReplayLogSourceConfig {
  kind: 'replay-log';
  /** Samples by recording time; need not be sorted. `speedKph` is in the log's own unit (see speedScale). */
  samples: readonly { timeMs: number; speedKph: number }[];
  /** km/h per logged unit. Default 1. */
  speedScale?: number;
  /** A sample further than this before the asked time is no reading. Unit: ms. Default null (never stale). */
  staleAfterMs?: number | null;
  /** Monotonic clock (ms); default performance.now(). */
  nowMs?: () => number;
}

export class ReplayLogSpeedSource implements SpeedSource {
  readonly #times: number[];
  readonly #speedsKph: number[];
  readonly #config: ReplayLogSourceConfig;
  readonly #now: () => number;
  #startedAtMs: number | null = null;

  constructor(config: ReplayLogSourceConfig) {
    const scale = config.speedScale ?? 1;
    if (!(Number.isFinite(scale) && scale > 0)) throw new SidewalkError('SENSOR_CONFIG_INVALID', `replay-log speedScale=${scale}: must be > 0`);
    const sorted = [...config.samples].sort((a, b) => a.timeMs - b.timeMs);
    sorted.forEach((s, i) => {
      if (!Number.isFinite(s.timeMs) || !Number.isFinite(s.speedKph)) {
        throw new SidewalkError('SENSOR_CONFIG_INVALID', `replay-log sample ${i} (${JSON.stringify(s)}): timeMs and speedKph must be finite numbers`);
      }
    });
    this.#times = sorted.map((s) => s.timeMs);
    this.#speedsKph = sorted.map((s) => s.speedKph * scale);
    this.#config = config;
    this.#now = config.nowMs ?? (() => performance.now());
  }

  get description(): string {
    return `replay-log (${this.#times.length} samples, scale ${this.#config.speedScale ?? 1})`;
  }

  async start(): Promise<void> {
    this.#startedAtMs = this.#now();
  }

  /** The last sample at or before mediaTimeMs (default: time since start()). */
  current(mediaTimeMs?: number): SpeedReading | null {
    if (this.#startedAtMs === null) return null;
    const now = this.#now();
    const t = mediaTimeMs ?? now - this.#startedAtMs;
    // Binary search for the last index with time <= t.
    let lo = 0;
    let hi = this.#times.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#times[mid]! <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return null;
    const stale = this.#config.staleAfterMs;
    if (stale !== undefined && stale !== null && t - this.#times[found]! > stale) return null;
    return { speedKph: this.#speedsKph[found]!, atMs: now };
  }

  async stop(): Promise<void> {
    this.#startedAtMs = null;
  }
}
