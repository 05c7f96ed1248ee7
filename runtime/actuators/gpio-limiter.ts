/**
 * GPIO limiter: one digital "limit" line. Limited (asserted) whenever the commanded limit is at or
 * below the sidewalk speed (+ epsilon); otherwise released to full speed. Active-low by default, so
 * a Pi that is off, rebooting or has released the line reads "limited" through the pull-down
 * (docs/wiring.md). The safe state is "limited".
 */
import { spawn as nodeSpawn } from 'node:child_process';
import type { SpeedLimiter } from '../types.js';
import { checkLimitKph, closedError } from './limit-check.js';
import { GpiodBackend } from './gpiod-backend.js';
import { SysfsGpioBackend } from './sysfs-gpio-backend.js';

/** A way of driving one output line; `high` is the physical level. */
export interface GpioBackend {
  readonly description: string;
  open(initialHigh: boolean): Promise<void>;
  write(high: boolean): Promise<void>;
  /** Releases the line (the wiring's pull resistor decides its level afterwards). */
  close(): Promise<void>;
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
  libgpiod?: { gpiosetPath?: string; gpiofindPath?: string; spawn?: typeof nodeSpawn; settleMs?: number; restartDelayMs?: number };
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
    this.backend =
      backend ??
      (config.backend === 'sysfs'
        ? new SysfsGpioBackend({ line: config.line, ...config.sysfs })
        : new GpiodBackend({ line: config.line, ...config.libgpiod }));
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

  /** Drives "limited", then releases the line (the pull resistor keeps it limited). */
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
