/**
 * The clock a real-time frame source paces frames on. The device uses the monotonic wall clock; tests
 * pass a manual clock (test/helpers/manual-clock.ts) so pacing is checked without sleeping.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface PacingClock {
  /** Monotonic time in nanoseconds. */
  nowNs(): bigint;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const monotonicClock: PacingClock = {
  nowNs: () => process.hrtime.bigint(),
  sleep: async (ms, signal) => {
    await sleep(ms, undefined, { signal });
  },
};
