/**
 * Simulated limiter: records every command in memory and, optionally, as JSONL to a file, so tests,
 * monitor runs and replay can inspect exactly what the motor would have been told.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { makeDir } from '../../lib/make-dir.js';
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
  #log: FileHandle | null = null;
  /** Log writes in order; a failed write fails the command that caused it (LIMITER_WRITE_FAILED). */
  #writing: Promise<void> = Promise.resolve();
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

  /** Opens the log (the "device"): LIMITER_OPEN_FAILED naming it when it cannot be created or written. */
  async init(): Promise<void> {
    const file = this.#config.logFile;
    if (file) {
      try {
        await makeDir(dirname(file));
        // O_NONBLOCK: a FIFO nobody reads fails (ENXIO) instead of parking a thread in open() forever.
        this.#log = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o644);
      } catch (err) {
        throw new SidewalkError('LIMITER_OPEN_FAILED', `simulated limiter: cannot open its log ${file}: ${(err as Error).message}`, { cause: err, details: { file } });
      }
    }
    this.#open = true;
    await this.#record(this.#config.safeLimitKph, undefined, true).catch(async (err: unknown) => {
      this.#open = false;
      await this.#closeLog();
      throw err;
    });
  }

  async setLimit(limitKph: number, frameCapturedAtNs?: bigint): Promise<void> {
    if (!this.#open) throw closedError(this.kind);
    checkLimitKph(this.kind, limitKph);
    await this.#record(limitKph, frameCapturedAtNs, false);
  }

  async safeState(): Promise<void> {
    if (this.#open) await this.#record(this.#config.safeLimitKph, undefined, true);
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    try {
      await this.#record(this.#config.safeLimitKph, undefined, true);
    } finally {
      await this.#closeLog();
    }
  }

  async #closeLog(): Promise<void> {
    const log = this.#log;
    this.#log = null;
    await this.#writing.catch(() => {});
    await log?.close();
  }

  #record(limitKph: number, frameCapturedAtNs: bigint | undefined, safe: boolean): Promise<void> {
    const command: LimitCommand = {
      t: new Date().toISOString(),
      monoMs: (this.#config.nowMs ?? (() => performance.now()))(),
      limitKph,
    };
    if (frameCapturedAtNs !== undefined) command.frameCapturedAtNs = frameCapturedAtNs.toString();
    if (safe) command.safe = true;
    this.#commands.push(command);
    const log = this.#log;
    if (!log) return Promise.resolve();
    const line = `${JSON.stringify(command)}\n`;
    const file = this.#config.logFile;
    this.#writing = this.#writing.then(async () => {
      try {
        await log.write(line);
      } catch (err) {
        throw new SidewalkError('LIMITER_WRITE_FAILED', `simulated limiter: cannot write its log ${file}: ${(err as Error).message}`, { cause: err, details: { file } });
      }
    });
    return this.#writing;
  }
}
