/**
 * Simulated limiter: records every command in memory and, optionally, as JSONL to a file, so tests,
 * monitor runs and replay can inspect exactly what the motor would have been told.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { SpeedLimiter } from '../types.js';
import { checkLimitKph, closedError } from './limit-check.js';

export interface SimulatedLimiterConfig {
  kind: 'simulated';
  /** JSONL file receiving one line per command (appended); null/undefined = memory only. */
  logFile?: string | null;
  /** The safe (limited) speed. Unit: km/h. */
  safeLimitKph: number;
  /** Monotonic clock in ms (injectable for tests); default performance.now(). */
  nowMs?: () => number;
}

export interface LimitCommand {
  /** Wall-clock time (ISO 8601). */
  t: string;
  /** Monotonic time (ms, performance.now() clock unless injected). */
  monoMs: number;
  limitKph: number;
  /** Capture time of the frame that caused the command (bigint ns as a decimal string, JSON has no bigint). */
  frameCapturedAtNs?: string;
  /** Present (true) when the command is the safe state (init, safeState, close). */
  safe?: true;
}

export class SimulatedLimiter implements SpeedLimiter {
  readonly kind = 'simulated';
  readonly #config: SimulatedLimiterConfig;
  readonly #commands: LimitCommand[] = [];
  #log: WriteStream | null = null;
  #open = false;

  constructor(config: SimulatedLimiterConfig) {
    checkLimitKph('simulated', config.safeLimitKph);
    this.#config = config;
  }

  /** Every command so far, oldest first. */
  get commands(): readonly LimitCommand[] {
    return this.#commands;
  }

  /** The limit most recently commanded, or null before init(). */
  get currentLimitKph(): number | null {
    return this.#commands.at(-1)?.limitKph ?? null;
  }

  async init(): Promise<void> {
    if (this.#config.logFile) {
      await mkdir(dirname(this.#config.logFile), { recursive: true });
      this.#log = createWriteStream(this.#config.logFile, { flags: 'a' });
      await once(this.#log, 'open');
    }
    this.#open = true;
    this.#record(this.#config.safeLimitKph, undefined, true);
  }

  async setLimit(limitKph: number, frameCapturedAtNs?: bigint): Promise<void> {
    if (!this.#open) throw closedError(this.kind);
    checkLimitKph(this.kind, limitKph);
    this.#record(limitKph, frameCapturedAtNs, false);
  }

  async safeState(): Promise<void> {
    if (this.#open) this.#record(this.#config.safeLimitKph, undefined, true);
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#record(this.#config.safeLimitKph, undefined, true);
    this.#open = false;
    const log = this.#log;
    this.#log = null;
    if (log) {
      log.end();
      await once(log, 'close');
    }
  }

  #record(limitKph: number, frameCapturedAtNs: bigint | undefined, safe: boolean): void {
    const command: LimitCommand = {
      t: new Date().toISOString(),
      monoMs: (this.#config.nowMs ?? (() => performance.now()))(),
      limitKph,
    };
    if (frameCapturedAtNs !== undefined) command.frameCapturedAtNs = frameCapturedAtNs.toString();
    if (safe) command.safe = true;
    this.#commands.push(command);
    this.#log?.write(`${JSON.stringify(command)}\n`);
  }
}
