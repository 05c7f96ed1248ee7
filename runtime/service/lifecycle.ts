/**
 * What the runtime has acquired (limiter, model worker, recorder, metrics server, speed source,
 * camera), released in reverse order on stop or on any start-up failure. Each release is bounded in
 * time and a failing one does not keep the others from running, so a stop always finishes.
 */
import { SidewalkError, errorMessage } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';

const log = createLogger('runtime:lifecycle');

/** Longest a single release may take before the next one runs. Unit: ms. */
export const RELEASE_STEP_MS = 3000;

export class Acquired {
  readonly #held: { name: string; release: () => Promise<void> }[] = [];
  #releasing = false;

  /** Names of what is held, oldest first. */
  get names(): string[] {
    return this.#held.map((h) => h.name);
  }

  get releasing(): boolean {
    return this.#releasing;
  }

  /**
   * Registers something just acquired. When a stop has already begun (a signal during start-up),
   * it is released at once and start-up ends with RUNTIME_STOPPING.
   */
  async hold(name: string, release: () => Promise<void>): Promise<void> {
    if (this.#releasing) {
      await releaseOne(name, release);
      throw new SidewalkError('RUNTIME_STOPPING', `start-up cancelled by a stop request (${name} released again)`);
    }
    this.#held.push({ name, release });
  }

  /** From now on hold() releases what it is given at once (a stop has begun). */
  refuseMore(): void {
    this.#releasing = true;
  }

  /** Releases everything, newest first. Returns the names whose release failed or timed out. */
  async releaseAll(): Promise<string[]> {
    this.#releasing = true;
    const failed: string[] = [];
    for (let h = this.#held.pop(); h; h = this.#held.pop()) {
      if (!(await releaseOne(h.name, h.release))) failed.push(h.name);
    }
    return failed;
  }
}

async function releaseOne(name: string, release: () => Promise<void>): Promise<boolean> {
  try {
    await withDeadline(release(), RELEASE_STEP_MS, `releasing ${name}`);
    log.debug(`released ${name}`);
    return true;
  } catch (err) {
    log.error(`releasing ${name} failed: ${errorMessage(err)}`);
    return false;
  }
}

/** Resolves or rejects like `work`, or rejects with RUNTIME_STOP_TIMEOUT after `ms`. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SidewalkError('RUNTIME_STOP_TIMEOUT', `${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
