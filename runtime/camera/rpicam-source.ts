/**
 * The Pi camera: spawns `rpicam-vid --codec yuv420 -o -` and cuts its stdout into I420 frames.
 *
 * rpicam-vid writes raw frames back-to-back with no delimiter, each S*H*3/2 bytes where S is the ISP's
 * padded Y row stride (a multiple of 64 on a Pi 4, of 128 on a Pi 5 whose PiSP aligns chroma rows to
 * 64; runtime/camera/README.md, docs/hardware.md), so frames are cut
 * by byte count alone. Only the newest complete frame is kept (one frame in flight, README.md); the
 * rest are counted as dropped. The process is restarted with exponential back-off when it exits or
 * when no frame arrives for `frameTimeoutMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { Frame, FrameSource, FrameSourceStats } from '../types.js';
import { BufferPool } from './buffer-pool.js';
import { findExecutable, measureStride } from './rpicam-probe.js';
import { checkKnownStride, i420FrameBytes, strideForIsp, type IspKind } from './i420.js';

const log = createLogger('runtime:camera:rpicam');
const STDERR_TAIL_LINES = 12;
const KILL_GRACE_MS = 1000;

export interface RpicamSourceOptions {
  width: number;
  height: number;
  fps: number;
  /** Binary name or path; `rpicam-vid` falls back to `libcamera-vid` when only that exists. */
  binary: string;
  /** `--mode W:H:bit-depth:packing` (e.g. a full field-of-view binned mode). */
  sensorMode?: string | null;
  /** `--buffer-count`: fewer buffers = less stale frames. */
  bufferCount?: number | null;
  /**
   * Y row stride in bytes. Default 'board': from the device tree's compatible string, bcm2712 (Pi 5,
   * PiSP) -> 2*align64(w/2), otherwise (Pi 4, VC4; or no device tree) align64(w). 'probe' measures it
   * with `--frames 3` at start and refuses a size that matches no known stride.
   */
  stride?: number | 'probe' | 'board' | null;
  /** Where the device tree is (tests). Default /proc/device-tree. */
  dtRoot?: string;
  /** Restart the camera when no frame arrives for this long. */
  frameTimeoutMs: number;
  /** Restart back-off: first delay, doubled per failed attempt up to the max. */
  restartMinMs: number;
  restartMaxMs: number;
  /** Environment of the child (tests drive the fake camera through it). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export class RpicamSource implements FrameSource {
  readonly stats: FrameSourceStats = { frames: 0, dropped: 0, restarts: 0 };
  readonly #options: RpicamSourceOptions;
  #binary = '';
  #stride = 0;
  #frameBytes = 0;
  #pool: BufferPool | null = null;
  #child: ChildProcess | null = null;
  #filling: Uint8Array | null = null;
  #fillOffset = 0;
  #ready: Frame | null = null;
  #delivered: Uint8Array | null = null;
  #waiters: ((frame: Frame | null) => void)[] = [];
  #seq = 0;
  #running = false;
  #backoffMs: number;
  #framesSinceSpawn = 0;
  #watchdog: NodeJS.Timeout | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #stderrTail: string[] = [];

  constructor(options: RpicamSourceOptions) {
    const { width, height, fps } = options;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || !(fps > 0)) {
      throw new SidewalkError('CAMERA_OPTIONS_INVALID', `rpicam source needs a positive integer size and fps, got ${width}x${height}@${fps}`);
    }
    this.#options = options;
    this.#backoffMs = options.restartMinMs;
  }

  get description(): string {
    const { width, height, fps } = this.#options;
    return `rpicam ${width}x${height}@${fps}${this.#binary ? ` (${this.#binary}, stride ${this.#stride})` : ''}`;
  }

  /** The Y row stride in use (known after start()). */
  get stride(): number {
    return this.#stride;
  }

  async start(): Promise<void> {
    const { width, height } = this.#options;
    this.#binary = await this.#resolveBinary();
    const configured = this.#options.stride;
    if (configured === 'probe') {
      const measured = await measureStride(this.#binary, this.#args(), width, height, this.#options.env);
      this.#stride = checkKnownStride(measured, width, height, `${this.#binary} --frames`);
      log.info(`measured Y stride ${this.#stride} for width ${width}`);
    } else if (configured === 'board' || configured === null || configured === undefined) {
      const isp = await ispOfBoard(this.#options.dtRoot ?? '/proc/device-tree');
      this.#stride = strideForIsp(isp ?? 'vc4', width);
      log.info(`Y stride ${this.#stride} for width ${width} (${isp ? `${isp} ISP from the device tree` : 'no device tree: assuming a Pi 4 ISP'})`);
    } else {
      this.#stride = configured;
      if (this.#stride < width || this.#stride % 2 !== 0) {
        throw new SidewalkError('CAMERA_STRIDE_INVALID', `camera.rpicam.stride ${this.#stride} must be even and >= width ${width}`);
      }
    }
    if (width % 64 !== 0) {
      log.warn(`width ${width} is not a multiple of 64: the ISP pads each row to ${this.#stride} bytes (${this.#stride - width} wasted); prefer a multiple of 64`);
    }
    this.#frameBytes = i420FrameBytes(this.#stride, height);
    this.#pool = new BufferPool(this.#frameBytes, 3);
    this.#running = true;
    this.#spawn();
  }

  next(): Promise<Frame | null> {
    this.#pool?.release(this.#delivered);
    this.#delivered = null;
    if (!this.#running) return Promise.resolve(null);
    if (this.#ready) return Promise.resolve(this.#take());
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#clearTimers();
    this.#ready = null;
    for (const resolve of this.#waiters.splice(0)) resolve(null);
    const child = this.#child;
    this.#child = null;
    if (child) await killAndWait(child);
  }

  async #resolveBinary(): Promise<string> {
    const wanted = this.#options.binary;
    const found = (await findExecutable(wanted)) ?? (wanted === 'rpicam-vid' ? await findExecutable('libcamera-vid') : null);
    if (!found) {
      throw new SidewalkError(
        'CAMERA_BINARY_MISSING',
        `camera binary "${wanted}" not found${wanted === 'rpicam-vid' ? ' (nor libcamera-vid)' : ''} on PATH; install rpicam-apps or set camera.rpicam.binary`,
      );
    }
    return found;
  }

  #args(): string[] {
    const { width, height, fps, sensorMode, bufferCount } = this.#options;
    const args = ['--codec', 'yuv420', '-o', '-', '-t', '0', '-n', '--flush', '--width', String(width), '--height', String(height), '--framerate', String(fps)];
    if (sensorMode) args.push('--mode', sensorMode);
    if (bufferCount) args.push('--buffer-count', String(bufferCount));
    return args;
  }

  #spawn(): void {
    const args = this.#args();
    log.debug(() => `spawning ${this.#binary} ${args.join(' ')}`);
    const child = spawn(this.#binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.#options.env ?? process.env });
    this.#child = child;
    this.#fillOffset = 0;
    this.#framesSinceSpawn = 0;
    this.#stderrTail = [];
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.#child === child) this.#onData(chunk);
    });
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#onStderrLine(line);
    });
    let gone = false;
    const onGone = (reason: string): void => {
      if (gone) return;
      gone = true;
      if (partial) this.#onStderrLine(partial);
      if (this.#child === child) this.#onChildGone(reason);
    };
    child.on('error', (err) => onGone(`failed: ${err.message}`));
    child.on('exit', (code, signal) => onGone(signal ? `killed by ${signal}` : `exited with code ${code}`));
    this.#armWatchdog();
  }

  #onStderrLine(line: string): void {
    if (!line.trim()) return;
    log.debug(() => `camera: ${line}`);
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
  }

  #onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      this.#filling ??= this.#pool!.acquire();
      const n = Math.min(chunk.length - pos, this.#frameBytes - this.#fillOffset);
      this.#filling.set(chunk.subarray(pos, pos + n), this.#fillOffset);
      this.#fillOffset += n;
      pos += n;
      if (this.#fillOffset === this.#frameBytes) this.#completeFrame();
    }
  }

  #completeFrame(): void {
    const capturedAtNs = process.hrtime.bigint();
    const data = this.#filling!;
    this.#filling = null;
    this.#fillOffset = 0;
    if (this.#ready) {
      this.stats.dropped++;
      this.#pool!.release(this.#ready.data);
    }
    const { width, height } = this.#options;
    this.#ready = { seq: this.#seq++, capturedAtNs, width, height, stride: this.#stride, format: 'yuv420', data };
    if (++this.#framesSinceSpawn === 1) this.#backoffMs = this.#options.restartMinMs; // healthy again
    this.#watchdog?.refresh();
    const waiter = this.#waiters.shift();
    if (waiter) waiter(this.#take());
  }

  #take(): Frame {
    const frame = this.#ready!;
    this.#ready = null;
    this.#delivered = frame.data;
    this.stats.frames++;
    return frame;
  }

  #armWatchdog(): void {
    if (this.#watchdog) clearTimeout(this.#watchdog);
    const timeoutMs = this.#options.frameTimeoutMs;
    this.#watchdog = setTimeout(() => {
      const child = this.#child;
      if (!this.#running || !child) return;
      log.warn(`no frame for ${timeoutMs} ms from ${this.#binary} (pid ${child.pid}), restarting it`);
      this.#child = null;
      void killAndWait(child);
      this.#onChildGone(`stalled (no frame for ${timeoutMs} ms)`);
    }, timeoutMs);
  }

  #onChildGone(reason: string): void {
    this.#child = null;
    if (this.#watchdog) clearTimeout(this.#watchdog);
    this.#watchdog = null;
    if (this.#filling && this.#fillOffset > 0) log.debug(() => `discarding ${this.#fillOffset} bytes of an incomplete frame`);
    this.#fillOffset = 0;
    if (!this.#running) return;
    const delayMs = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.restartMaxMs);
    const tail = this.#stderrTail.length ? `; last stderr:\n  ${this.#stderrTail.join('\n  ')}` : '';
    log.warn(`${this.#binary} ${reason}, restarting in ${delayMs} ms${tail}`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#running) return;
      this.stats.restarts++;
      this.#spawn();
    }, delayMs);
  }

  #clearTimers(): void {
    if (this.#watchdog) clearTimeout(this.#watchdog);
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#watchdog = null;
    this.#restartTimer = null;
  }
}

/** SIGTERM (rpicam-vid exits cleanly on it), SIGKILL after a grace period; resolves when the child is gone. */
export function killAndWait(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.kill('SIGTERM');
  });
}

/** The ISP of the board from /proc/device-tree/compatible (NUL-separated); null when unreadable. */
export async function ispOfBoard(dtRoot: string): Promise<IspKind | null> {
  const compatible = await readFile(join(dtRoot, 'compatible'), 'latin1').catch(() => null);
  if (compatible === null) return null;
  return compatible.split('\0').includes('brcm,bcm2712') ? 'pisp' : 'vc4';
}
