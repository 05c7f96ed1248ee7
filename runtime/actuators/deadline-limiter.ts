/**
 * Bounds every call to a speed limiter in time. A device that cannot be opened, or that stops
 * answering, must end the service with a coded error (systemd restarts it; the wiring's fail-safe
 * holds meanwhile), never leave it waiting. Errors that are not ours yet get a LIMITER_ code here.
 */
import { type ErrorCode, SidewalkError, isSidewalkError } from '../../lib/errors.js';
import type { SpeedLimiter } from '../types.js';

export interface LimiterDeadlines {
  /** Longest init() (opening the device). Unit: ms. */
  openMs: number;
  /** Longest setLimit(), safeState() or close(). Unit: ms. */
  commandMs: number;
}

export const DEFAULT_LIMITER_DEADLINES: LimiterDeadlines = { openMs: 5000, commandMs: 2000 };

export class DeadlineLimiter implements SpeedLimiter {
  readonly #inner: SpeedLimiter;
  readonly #deadlines: LimiterDeadlines;

  constructor(inner: SpeedLimiter, deadlines: LimiterDeadlines = DEFAULT_LIMITER_DEADLINES) {
    this.#inner = inner;
    this.#deadlines = deadlines;
  }

  get kind(): string {
    return this.#inner.kind;
  }

  init(): Promise<void> {
    return this.#bounded('open', this.#deadlines.openMs, 'LIMITER_OPEN_FAILED', () => this.#inner.init());
  }

  setLimit(limitKph: number, frameCapturedAtNs?: bigint): Promise<void> {
    return this.#bounded(`set the limit to ${limitKph.toFixed(1)} km/h`, this.#deadlines.commandMs, 'LIMITER_WRITE_FAILED', () => this.#inner.setLimit(limitKph, frameCapturedAtNs));
  }

  safeState(): Promise<void> {
    return this.#bounded('apply the safe state', this.#deadlines.commandMs, 'LIMITER_WRITE_FAILED', () => this.#inner.safeState());
  }

  close(): Promise<void> {
    return this.#bounded('close', this.#deadlines.commandMs, 'LIMITER_WRITE_FAILED', () => this.#inner.close());
  }

  async #bounded(what: string, ms: number, code: ErrorCode, call: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SidewalkError('LIMITER_TIMEOUT', `${this.kind} limiter: could not ${what} within ${ms} ms`, { details: { kind: this.kind } })), ms);
    });
    try {
      await Promise.race([call(), timeout]);
    } catch (err) {
      if (isSidewalkError(err)) throw err;
      throw new SidewalkError(code, `${this.kind} limiter: could not ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
