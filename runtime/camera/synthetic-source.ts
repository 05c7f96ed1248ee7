/**
 * FrameSource that renders a scene script (runtime/camera/scenes.ts): the camera for demos, tests and
 * simulated rides. Real-time mode paces frames on the wall clock and skips the ones whose time has
 * passed (counted as dropped); as-fast-as-possible mode renders every frame.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { Frame, FrameFormat, FrameSource, FrameSourceStats } from '../types.js';
import { BufferPool } from './buffer-pool.js';
import { monotonicClock, type PacingClock } from './pacing-clock.js';
import { defaultStride, i420FrameBytes, parseSceneScript, renderScene, rgbToI420, sceneScriptDurationS, segmentAt, type SceneScript } from './scenes.js';

export interface SyntheticSourceOptions {
  /** Segments, or their text form "street:5,side:5". */
  script: SceneScript | string;
  width: number;
  height: number;
  fps: number;
  /** rgb24 (default) or yuv420 laid out like rpicam-vid's (padded Y stride). */
  format?: FrameFormat;
  /** yuv420 only: Y row stride; default width rounded up to 64. */
  stride?: number;
  /** Pace at `fps` on the wall clock (default true); false renders as fast as next() is called. */
  realtime?: boolean;
  /** Scene randomness seed (camera.synthetic.seed). */
  seed: number;
  /** Scene variation 0..1 (see SceneOptions). Default 1. */
  variation?: number;
  /** Ground speed the scene scrolls at. Default 12 km/h. */
  speedKph?: number;
  /** Repeat the script forever (a camera) instead of ending after it (a recording). Default false. */
  loop?: boolean;
  /** What real-time mode paces on; default the monotonic wall clock. */
  clock?: PacingClock;
}

export class SyntheticSource implements FrameSource {
  readonly description: string;
  readonly stats: FrameSourceStats = { frames: 0, dropped: 0, restarts: 0 };
  readonly #options: Required<Omit<SyntheticSourceOptions, 'script' | 'stride' | 'clock'>> & { stride: number };
  readonly #script: SceneScript;
  readonly #totalFrames: number;
  readonly #rgb: Uint8Array;
  readonly #pool: BufferPool;
  readonly #clock: PacingClock;
  #delivered: Uint8Array | null = null;
  #index = 0;
  #startNs = 0n;
  #running = false;
  #abort = new AbortController();

  constructor(options: SyntheticSourceOptions) {
    const { width, height, fps } = options;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || !(fps > 0)) {
      throw new SidewalkError('CAMERA_OPTIONS_INVALID', `synthetic source needs a positive integer size and fps, got ${width}x${height}@${fps}`);
    }
    this.#script = typeof options.script === 'string' ? parseSceneScript(options.script) : options.script;
    const format = options.format ?? 'rgb24';
    const stride = format === 'yuv420' ? (options.stride ?? defaultStride(width)) : width * 3;
    if (format === 'yuv420' && (stride < width || stride % 2 !== 0)) {
      throw new SidewalkError('CAMERA_STRIDE_INVALID', `synthetic source: stride ${stride} must be even and >= width ${width}`);
    }
    this.#options = {
      width,
      height,
      fps,
      format,
      stride,
      realtime: options.realtime ?? true,
      seed: options.seed,
      variation: options.variation ?? 1,
      speedKph: options.speedKph ?? 12,
      loop: options.loop ?? false,
    };
    this.#clock = options.clock ?? monotonicClock;
    this.#totalFrames = Math.round(sceneScriptDurationS(this.#script) * fps);
    this.#rgb = new Uint8Array(width * height * 3);
    this.#pool = new BufferPool(format === 'yuv420' ? i420FrameBytes(stride, height) : width * height * 3, 2);
    this.description = `synthetic ${this.#script.map((s) => `${s.kind}:${s.durationS}`).join(',')} ${width}x${height}@${fps} ${format}`;
  }

  async start(): Promise<void> {
    this.#running = true;
    this.#abort = new AbortController();
    this.#index = 0;
    this.#startNs = this.#clock.nowNs();
  }

  async next(): Promise<Frame | null> {
    if (!this.#running) return null;
    const { fps, realtime, loop } = this.#options;
    if (realtime) {
      const elapsedS = Number(this.#clock.nowNs() - this.#startNs) / 1e9;
      const dueIndex = Math.floor(elapsedS * fps);
      if (dueIndex > this.#index) {
        // Frames whose time has passed are skipped, as a camera would have overwritten them.
        const end = loop ? dueIndex : Math.min(dueIndex, this.#totalFrames);
        this.stats.dropped += end - this.#index;
        this.#index = end;
      } else {
        const waitMs = (this.#index / fps - elapsedS) * 1000;
        if (waitMs > 0) {
          try {
            await this.#clock.sleep(waitMs, this.#abort.signal);
          } catch {
            return null; // stopped while waiting
          }
        }
      }
    }
    if (!loop && this.#index >= this.#totalFrames) return null;
    return this.#render(this.#index++);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
  }

  #render(index: number): Frame {
    const { width, height, fps, format, stride, seed, variation, speedKph } = this.#options;
    const tS = index / fps;
    const segment = segmentAt(this.#script, tS);
    // Each segment (and each pass of a looping script) gets its own look.
    const pass = Math.floor(tS / sceneScriptDurationS(this.#script));
    const sceneSeed = seed + segment.index * 7919 + pass * 104729;
    const offsetM = (tS * speedKph) / 3.6;
    this.#pool.release(this.#delivered);
    const data = this.#pool.acquire();
    if (format === 'yuv420') {
      renderScene(segment.kind, { width, height, offsetM, seed: sceneSeed, variation }, this.#rgb);
      rgbToI420(this.#rgb, width, height, stride, data);
    } else {
      renderScene(segment.kind, { width, height, offsetM, seed: sceneSeed, variation }, data);
    }
    this.#delivered = data;
    this.stats.frames++;
    return { seq: index, capturedAtNs: this.#clock.nowNs(), mediaTimeMs: (index * 1000) / fps, width, height, stride, format, data };
  }
}
