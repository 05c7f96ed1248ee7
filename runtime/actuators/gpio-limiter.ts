/**
 * GPIO limiter: one digital "limit" line. Limited (asserted) whenever the commanded limit is at or
 * below the sidewalk speed (+ epsilon); otherwise released to full speed. Active-low by default, so
 * a Pi that is off or rebooting reads "limited" through the pull-down (docs/wiring.md). A line
 * released by a process that died keeps its last level on Raspberry Pi kernels unless
 * `dtparam=strict_gpiod` is set, so the runtime unit's stop path (`sidewalk limiter safe`, see
 * forceSafe) drives "limited" again after any exit (docs/hardware.md). The safe state is "limited".
 */
import type { spawn as nodeSpawn } from 'node:child_process';
import type { SpeedLimiter } from '../types.js';
import { checkLimitKph, closedError } from './limit-check.js';
import { GpiodBackend } from './gpiod-backend.js';
import { SysfsGpioBackend } from './sysfs-gpio-backend.js';

/** A way of driving one output line; `high` is the physical level. */
export interface GpioBackend {
  readonly description: string;
  open(initialHigh: boolean): Promise<void>;
  write(high: boolean): Promise<void>;
  /** Stops holding the line (its level afterwards: see the backend). */
  close(): Promise<void>;
  /** Drives the level without holding the line afterwards (the stop path, run by a fresh process). */
  driveOnce(high: boolean): Promise<void>;
}

export interface GpioLimiterConfig {
  kind: 'gpio';
  /** Default libgpiod (character device, Pi 4 and 5); sysfs is the deprecated fallback. */
  backend: 'libgpiod' | 'sysfs';
  /** Line name, e.g. "GPIO17". */
  line: string;
  /** true: limited = physical low (recommended, see docs/wiring.md). Default true. */
  activeLow: boolean;
  /** Limits at or below sidewalkLimitKph + epsilonKph assert the line. Unit: km/h. */
  sidewalkLimitKph: number;
  /** Unit: km/h. Default 0.05 (absorbs the ramp's float residue). */
  epsilonKph?: number;
  /**
   * Assert the line when the limit is <= this. Default sidewalkLimitKph + epsilonKph: the line follows
   * the end of the ramp down and the start of the ramp up. Set it just below full speed for the
   * conservative reading (limited during both ramps). Unit: km/h.
   */
  thresholdKph?: number;
  libgpiod?: { gpiosetPath?: string; gpiofindPath?: string; gpioinfoPath?: string; spawn?: typeof nodeSpawn; settleMs?: number; replyTimeoutMs?: number; restartDelayMs?: number };
  sysfs?: { root?: string; chipLabel?: string | null; offset?: number | null; exportTimeoutMs?: number };
}

export class GpioLimiter implements SpeedLimiter {
  readonly kind = 'gpio';
  readonly backend: GpioBackend;
  readonly #config: GpioLimiterConfig;
  #limited: boolean | null = null;
  #open = false;

  constructor(config: GpioLimiterConfig, backend?: GpioBackend) {
    checkLimitKph('gpio', config.sidewalkLimitKph);
    this.#config = config;
    this.backend = backend ?? (config.backend === 'sysfs' ? new SysfsGpioBackend({ line: config.line, ...config.sysfs }) : new GpiodBackend({ line: config.line, ...config.libgpiod }));
  }

  /** Whether the line currently says "limited" (null before init). */
  get limited(): boolean | null {
    return this.#limited;
  }

  /** Limits at or below this assert the line. Unit: km/h. */
  get thresholdKph(): number {
    return this.#config.thresholdKph ?? this.#config.sidewalkLimitKph + (this.#config.epsilonKph ?? 0.05);
  }

  /** Physical level for a logical state. */
  levelFor(limited: boolean): boolean {
    return this.#config.activeLow ? !limited : limited;
  }

  async init(): Promise<void> {
    await this.backend.open(this.levelFor(true));
    this.#limited = true;
    this.#open = true;
  }

  async setLimit(limitKph: number): Promise<void> {
    if (!this.#open) throw closedError(this.kind);
    checkLimitKph(this.kind, limitKph);
    await this.#drive(limitKph <= this.thresholdKph);
  }

  async safeState(): Promise<void> {
    if (this.#open) await this.#drive(true);
  }

  /**
   * Drives "limited" without holding the line: for a process that is not the runtime (the unit's
   * ExecStopPost), after whatever ended the runtime.
   */
  async forceSafe(): Promise<void> {
    await this.backend.driveOnce(this.levelFor(true));
  }

  /** Drives "limited", then stops holding the line (see the backend for what the line does next). */
  async close(): Promise<void> {
    if (!this.#open) return;
    try {
      await this.#drive(true);
    } finally {
      this.#open = false;
      this.#limited = null;
      await this.backend.close();
    }
  }

  async #drive(limited: boolean): Promise<void> {
    if (this.#limited === limited) return;
    // Forget the state first: if the write fails we must not believe the line moved.
    this.#limited = null;
    await this.backend.write(this.levelFor(limited));
    this.#limited = limited;
  }
}
