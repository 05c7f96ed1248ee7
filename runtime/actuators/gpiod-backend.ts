/**
 * libgpiod 1.6 backend for the digital limit line: `gpiofind NAME` locates the chip, then a
 * supervised long-running `gpioset --mode=signal CHIP OFFSET=VALUE` child holds the line (gpioset
 * holds a line only while it lives). Changing the value restarts the child; in the gap the line is
 * released, which the wiring (docs/wiring.md) makes read "limited", so a glitch only ever limits.
 * A child that dies on its own is reported and restarted with the last value.
 */
import { execFile, spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { GpioBackend } from './gpio-limiter.js';

const log = createLogger('runtime:actuators:gpiod');
const execFileAsync = promisify(execFile);

export interface GpiodBackendOptions {
  /** Line name as the device tree labels it, e.g. "GPIO17". */
  line: string;
  gpiosetPath?: string;
  gpiofindPath?: string;
  /** Injectable spawn (tests). */
  spawn?: typeof nodeSpawn;
  /** A gpioset that survives this long after spawning is considered to hold the line. Unit: ms. Default 100. */
  settleMs?: number;
  /** Delay before restarting a child that died on its own. Unit: ms. Default 200. */
  restartDelayMs?: number;
}

export class GpiodBackend implements GpioBackend {
  readonly #opts: Required<Omit<GpiodBackendOptions, 'spawn'>> & { spawn: typeof nodeSpawn };
  #chip = '';
  #offset = -1;
  #child: ChildProcess | null = null;
  #childValue: boolean | null = null;
  #wanted: boolean | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #closing = false;
  /** Times a gpioset child died on its own and was restarted. */
  restarts = 0;
  lastError: string | null = null;

  constructor(options: GpiodBackendOptions) {
    this.#opts = {
      gpiosetPath: 'gpioset',
      gpiofindPath: 'gpiofind',
      settleMs: 100,
      restartDelayMs: 200,
      spawn: nodeSpawn,
      ...options,
    };
  }

  get description(): string {
    return `libgpiod ${this.#chip || '?'}:${this.#offset} (${this.#opts.line})`;
  }

  /** The pid of the gpioset child holding the line, if any. */
  get childPid(): number | undefined {
    return this.#child?.pid;
  }

  async open(initialHigh: boolean): Promise<void> {
    let stdout: string;
    try {
      ({ stdout } = await execFileAsync(this.#opts.gpiofindPath, [this.#opts.line], { timeout: 5000 }));
    } catch (err) {
      throw new SidewalkError('LIMITER_GPIO_LINE_NOT_FOUND', `gpiofind ${this.#opts.line}: no gpiochip has a line named "${this.#opts.line}" (${(err as Error).message.trim()})`, {
        cause: err,
        details: { line: this.#opts.line },
      });
    }
    const match = /^(\S+)\s+(\d+)\s*$/.exec(stdout.trim());
    if (!match) {
      throw new SidewalkError('LIMITER_GPIO_LINE_NOT_FOUND', `gpiofind ${this.#opts.line}: unexpected output "${stdout.trim()}" (expected "CHIP OFFSET")`);
    }
    this.#chip = match[1]!;
    this.#offset = Number(match[2]);
    this.#closing = false;
    await this.write(initialHigh);
  }

  async write(high: boolean): Promise<void> {
    this.#wanted = high;
    if (this.#child && this.#childValue === high) return;
    await this.#stopChild();
    await this.#startChild(high);
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    await this.#stopChild();
  }

  async #startChild(high: boolean): Promise<void> {
    const args = ['--mode=signal', this.#chip, `${this.#offset}=${high ? 1 : 0}`];
    const child = this.#opts.spawn(this.#opts.gpiosetPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    this.#child = child;
    this.#childValue = high;
    child.on('error', (err) => log.error(`gpioset: ${err.message}`));
    // Wait for the settle time; a gpioset that cannot get the line exits (closes) before that.
    const early = await new Promise<string | null>((resolve) => {
      const onClose = (code: number | null, signal: string | null): void => done(`exited with ${code ?? signal}: ${stderr.trim()}`);
      const onError = (err: Error): void => done(err.message);
      const timer = setTimeout(() => done(null), this.#opts.settleMs);
      const done = (why: string | null): void => {
        clearTimeout(timer);
        child.off('close', onClose);
        child.off('error', onError);
        resolve(why);
      };
      child.on('close', onClose);
      child.on('error', onError);
    });
    if (early !== null) {
      if (this.#child !== child) return; // stopped on purpose while settling (a newer write or close)
      this.#child = null;
      this.#childValue = null;
      this.lastError = `gpioset ${args.join(' ')}: ${early}`;
      throw new SidewalkError('LIMITER_GPIO_SET_FAILED', this.lastError, { details: { chip: this.#chip, offset: this.#offset } });
    }
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return; // stopped on purpose
      this.#child = null;
      this.#childValue = null;
      this.lastError = `gpioset ${args.join(' ')} died (${code ?? signal}): ${stderr.trim()}`;
      log.error(`${this.lastError}; restarting`, { chip: this.#chip, offset: this.#offset });
      this.#scheduleRestart();
    });
  }

  #scheduleRestart(): void {
    if (this.#closing || this.#restartTimer) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#closing || this.#child || this.#wanted === null) return;
      this.restarts++;
      this.#startChild(this.#wanted).catch((err: unknown) => {
        log.error(`gpioset restart failed: ${(err as Error).message}`);
        this.#scheduleRestart();
      });
    }, this.#opts.restartDelayMs);
  }

  async #stopChild(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    this.#childValue = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
