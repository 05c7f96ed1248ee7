/**
 * A clock that moves only when told (PacingClock for the frame sources): `advance(ms)` stands for time
 * passing while the test does something else; a source's own sleep moves the clock by what it waits.
 * Tests check pacing to the exact nanosecond without sleeping on the wall clock.
 */
import type { PacingClock } from '../../runtime/camera/pacing-clock.js';

export interface ManualClock extends PacingClock {
  advance(ms: number): void;
  /** Milliseconds since the clock was made. */
  readonly elapsedMs: number;
}

export function manualClock(): ManualClock {
  let ns = 0n;
  const advance = (ms: number): void => {
    ns += BigInt(Math.round(ms * 1e6));
  };
  return {
    nowNs: () => ns,
    advance,
    get elapsedMs() {
      return Number(ns) / 1e6;
    },
    sleep: async (ms, signal) => {
      signal.throwIfAborted();
      advance(ms);
    },
  };
}
