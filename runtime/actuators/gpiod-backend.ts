/**
 * libgpiod backend for the digital limit line, for both generations of the command-line tools
 * (their major version comes from `gpioset --version`, "gpioset (libgpiod) v2.2.1"):
 *  - v1 (1.6.x, Pi OS bookworm): `gpiofind NAME` gives "CHIP OFFSET"; a supervised
 *    `gpioset --mode=signal CHIP OFFSET=V` holds the line while it lives.
 *  - v2 (2.x, Pi OS trixie): no gpiofind and no --mode; `gpioset NAME=V` finds the line by name and
 *    holds it until killed. When gpioset was built with interactive mode (`-i` in its --help), one
 *    long-lived child per line takes `set NAME=V` on stdin, confirmed by `get NAME`, so a level change
 *    never releases the line.
 * Otherwise a level change restarts the child, which holds the line once v2 prints its `--banner`
 * or v1's `gpioinfo CHIP` lists the line as a used output. A child that dies on its own is reported and
 * restarted with the last level. A released line keeps its last level on Raspberry Pi kernels unless
 * `dtparam=strict_gpiod` is set (docs/hardware.md), so the unit's stop path drives "limited"
 * explicitly with `driveOnce` (`sidewalk limiter safe`).
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { runProcess } from '../../lib/run-process.js';
import type { GpioBackend } from './gpio-limiter.js';

const log = createLogger('runtime:actuators:gpiod');
/** gpioset/gpiofind/gpioinfo runs that end by themselves; longer means the tool hangs. */
const TOOL_TIMEOUT_MS = 5000;

export interface GpiodBackendOptions {
  /** Line name as the device tree labels it, e.g. "GPIO17". */
  line: string;
  gpiosetPath?: string;
  /** v1 only (v2 has no gpiofind). */
  gpiofindPath?: string;
  /** v1 only: `gpioinfo CHIP` shows when a new gpioset has taken the line. */
  gpioinfoPath?: string;
  /** Injectable spawn (tests). */
  spawn?: typeof nodeSpawn;
  /** A non-interactive gpioset that survives this long after spawning holds the line. Unit: ms. Default 100. */
  settleMs?: number;
  /** An interactive gpioset must answer a command within this. Unit: ms. Default 1000. */
  replyTimeoutMs?: number;
  /** Delay before restarting a child that died on its own. Unit: ms. Default 200. */
  restartDelayMs?: number;
}

/** What the installed tools are. */
export interface GpiodTools {
  major: 1 | 2;
  version: string;
  /** v2 gpioset built with --enable-gpioset-interactive. */
  interactive: boolean;
}

/** Runs `gpioset --version` (and, for v2, `--help`) to learn the tools' generation. */
export async function detectGpiodTools(gpiosetPath = 'gpioset'): Promise<GpiodTools> {
  let stdout: string;
  try {
    ({ stdout } = await runProcess(gpiosetPath, ['--version'], { timeoutMs: TOOL_TIMEOUT_MS, check: true }));
  } catch (err) {
    throw new SidewalkError('LIMITER_GPIO_UNAVAILABLE', `${gpiosetPath} --version failed (${(err as Error).message.trim()}); install the gpiod package`, { cause: err });
  }
  const match = /\(libgpiod\) v?(\d+)\.(\d+)(\S*)/.exec(stdout);
  const major = Number(match?.[1]);
  if (!match || (major !== 1 && major !== 2)) {
    throw new SidewalkError('LIMITER_GPIO_UNAVAILABLE', `${gpiosetPath} --version: unsupported libgpiod tools "${stdout.split('\n')[0]?.trim()}" (expected v1.x or v2.x)`);
  }
  const version = `${match[1]}.${match[2]}${match[3]}`;
  if (major === 1) return { major, version, interactive: false };
  const { stdout: help } = await runProcess(gpiosetPath, ['--help'], { timeoutMs: TOOL_TIMEOUT_MS, check: true }).catch(() => ({ stdout: '' }));
  return { major, version, interactive: /--interactive/.test(help) };
}

export class GpiodBackend implements GpioBackend {
  readonly #opts: Required<Omit<GpiodBackendOptions, 'spawn'>> & { spawn: typeof nodeSpawn };
  #tools: GpiodTools | null = null;
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
      gpioinfoPath: 'gpioinfo',
      settleMs: 100,
      replyTimeoutMs: 1000,
      restartDelayMs: 200,
      spawn: nodeSpawn,
      ...options,
    };
  }

  get description(): string {
    const where = this.#tools?.major === 1 ? `${this.#chip || '?'}:${this.#offset} ` : '';
    return `libgpiod ${this.#tools ? `v${this.#tools.version}` : '?'} ${where}(${this.#opts.line})`;
  }

  /** The tools found by open() or driveOnce(). */
  get tools(): GpiodTools | null {
    return this.#tools;
  }

  /** The pid of the gpioset child holding the line, if any. */
  get childPid(): number | undefined {
    return this.#child?.pid;
  }

  async open(initialHigh: boolean): Promise<void> {
    await this.#prepare();
    this.#closing = false;
    await this.write(initialHigh);
  }

  async write(high: boolean): Promise<void> {
    this.#wanted = high;
    const child = this.#child;
    if (child && this.#childValue === high) return;
    if (child && this.#tools?.interactive) {
      this.#childValue = null;
      try {
        await this.#command(child, `set ${this.#opts.line}=${high ? 1 : 0}`, high);
        this.#childValue = high;
        return;
      } catch (err) {
        // A child that cannot confirm the level is replaced; the error still reaches the caller.
        await this.#stopChild();
        throw err;
      }
    }
    await this.#stopChild();
    await this.#startChild(high);
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    await this.#stopChild();
  }

  /**
   * Sets the level with a gpioset that exits at once (the stop path: nothing of ours holds the line
   * any more). The line keeps the level afterwards (or, with strict_gpiod, falls to its pull).
   */
  async driveOnce(high: boolean): Promise<void> {
    await this.#prepare();
    const value = high ? 1 : 0;
    const args = this.#tools!.major === 1 ? ['--mode=exit', this.#chip, `${this.#offset}=${value}`] : ['-t', '0', `${this.#opts.line}=${value}`];
    try {
      await runProcess(this.#opts.gpiosetPath, args, { timeoutMs: TOOL_TIMEOUT_MS, check: true });
    } catch (err) {
      throw new SidewalkError('LIMITER_GPIO_SET_FAILED', `gpioset ${args.join(' ')}: ${(err as Error).message}`, { cause: err, details: { line: this.#opts.line } });
    }
  }

  async #prepare(): Promise<void> {
    this.#tools ??= await detectGpiodTools(this.#opts.gpiosetPath);
    if (this.#tools.major === 1 && this.#offset < 0) await this.#findLine();
  }

  async #findLine(): Promise<void> {
    let stdout: string;
    try {
      ({ stdout } = await runProcess(this.#opts.gpiofindPath, [this.#opts.line], { timeoutMs: TOOL_TIMEOUT_MS, check: true }));
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
  }

  #holdArgs(high: boolean): string[] {
    const value = high ? 1 : 0;
    if (this.#tools!.major === 1) return ['--mode=signal', this.#chip, `${this.#offset}=${value}`];
    // v2 prints --banner only after it has requested the line: the sign it holds it.
    return [this.#tools!.interactive ? '-i' : '--banner', `${this.#opts.line}=${value}`];
  }

  async #startChild(high: boolean): Promise<void> {
    const args = this.#holdArgs(high);
    const interactive = this.#tools!.interactive;
    const banner = this.#tools!.major === 2 && !interactive;
    const child = this.#opts.spawn(this.#opts.gpiosetPath, args, { stdio: [interactive ? 'pipe' : 'ignore', interactive || banner ? 'pipe' : 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin?.on('error', () => undefined); // EPIPE when it died; its exit is handled below
    this.#child = child;
    this.#childValue = high;
    child.on('error', (err) => log.error(`gpioset: ${err.message}`));
    const early = interactive
      ? await this.#command(child, '', high).then(
          () => null,
          (err: Error) => `${err.message} ${stderr.trim()}`,
        )
      : await this.#settle(child, () => stderr, banner ? 'banner' : 'gpioinfo');
    if (early !== null) {
      if (this.#child !== child) return; // stopped on purpose while settling (a newer write or close)
      this.#child = null;
      this.#childValue = null;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      this.lastError = `gpioset ${args.join(' ')}: ${early.trim()}`;
      throw new SidewalkError('LIMITER_GPIO_SET_FAILED', this.lastError, { details: { line: this.#opts.line } });
    }
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return; // stopped on purpose
      this.#child = null;
      this.#childValue = null;
      this.lastError = `gpioset ${args.join(' ')} died (${code ?? signal}): ${stderr.trim()}`;
      log.error(`${this.lastError}; restarting`, { line: this.#opts.line });
      this.#scheduleRestart();
    });
  }

  /**
   * Resolves null once the child holds the line, or says why it does not (it exited, or no sign
   * within replyTimeoutMs): v2 prints its banner; for v1, `gpioinfo CHIP` lists the line as a used
   * output, polled from settleMs on.
   */
  #settle(child: ChildProcess, stderr: () => string, sign: 'banner' | 'gpioinfo'): Promise<string | null> {
    return new Promise((resolve) => {
      let finished = false;
      let poll: NodeJS.Timeout | null = null;
      const onClose = (code: number | null, signal: string | null): void => done(`exited with ${code ?? signal}: ${stderr().trim()}`);
      const onError = (err: Error): void => done(err.message);
      const onBanner = (): void => done(null);
      const limitMs = Math.max(this.#opts.replyTimeoutMs, this.#opts.settleMs);
      const timer = setTimeout(() => done(`no sign of holding the line within ${limitMs} ms (${sign})`), limitMs);
      const done = (why: string | null): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (poll) clearTimeout(poll);
        child.off('close', onClose);
        child.off('error', onError);
        child.stdout?.off('data', onBanner);
        resolve(why);
      };
      const check = (): void => {
        this.#lineHeld().then(
          (held) => {
            if (finished) return;
            if (held) done(null);
            else poll = setTimeout(check, 10);
          },
          (err: Error) => done(`gpioinfo ${this.#chip}: ${err.message}`),
        );
      };
      child.on('close', onClose);
      child.on('error', onError);
      if (sign === 'banner') child.stdout?.once('data', onBanner);
      else poll = setTimeout(check, this.#opts.settleMs);
    });
  }

  /** v1: whether `gpioinfo CHIP` lists our line as a used output. */
  async #lineHeld(): Promise<boolean> {
    const { stdout } = await runProcess(this.#opts.gpioinfoPath, [this.#chip], { timeoutMs: TOOL_TIMEOUT_MS, check: true, errorCode: 'LIMITER_GPIO_UNAVAILABLE' });
    const row = stdout.split('\n').find((l) => new RegExp(`^\\s*line\\s+${this.#offset}:`).test(l));
    return row !== undefined && /\boutput\b/.test(row) && /\[used/.test(row);
  }

  /** Sends `command` (may be empty) then `get LINE`, and checks the line reads `high`. */
  #command(child: ChildProcess, command: string, high: boolean): Promise<void> {
    const line = this.#opts.line;
    const reply = new RegExp(`"${line.replace(/[^\w]/g, '\\$&')}"=(active|inactive)\\s`);
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer): void => {
        out += d.toString();
        const bad = /(invalid|unknown|error|cannot|unable)[^\n]*/i.exec(out);
        if (bad) {
          done(`answered "${bad[0].trim()}"`);
          return;
        }
        const m = reply.exec(out);
        if (m) done((m[1] === 'active') === high ? null : `reads ${m[1]} after ${command || 'start'}`);
      };
      const onExit = (code: number | null, signal: string | null): void => done(`exited with ${code ?? signal}`);
      const timer = setTimeout(() => done(`no reply to "${command || 'get'}" within ${this.#opts.replyTimeoutMs} ms`), this.#opts.replyTimeoutMs);
      const done = (why: string | null): void => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        if (why === null) resolve();
        else reject(new SidewalkError('LIMITER_GPIO_SET_FAILED', `gpioset -i ${line}: ${why}`, { details: { line } }));
      };
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
      child.stdin?.write(`${command ? `${command}\n` : ''}get ${line}\n`);
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
