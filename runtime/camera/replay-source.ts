/**
 * FrameSource over a recording, decoded by ffmpeg to RGB24 at the requested size:
 *  - a video file (probed with ffprobe first; anything else is CAMERA_NOT_A_VIDEO),
 *  - a folder of JPEGs (natural order: img_2 before img_10), streamed into ffmpeg's image2pipe demuxer,
 *  - a legacy run folder (img_NNNNN.jpg + raw_data.txt): images in frame order, mediaTimeMs from the
 *    log's time column (runtime/recorder/legacy-run.ts); the speed column belongs to the sensors room.
 * Real-time mode paces frames by their media time and skips the ones whose time has passed; otherwise
 * every frame is delivered as fast as next() is called.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { isLegacyRunDir, readLegacyRun } from '../recorder/legacy-run.js';
import { frameFileName, readRide, RIDE_META_FILE, type RideOnDisk } from '../recorder/ride-format.js';
import type { Frame, FrameSource, FrameSourceStats } from '../types.js';
import { probeStream, probeVideo, RawVideoReader } from './ffmpeg-reader.js';
import { monotonicClock, type PacingClock } from './pacing-clock.js';

const log = createLogger('runtime:camera:replay');
export const DEFAULT_IMAGE_FPS = 10;

export type ReplayInputKind = 'video' | 'jpeg-folder' | 'legacy-run' | 'ride';

export interface ReplaySourceOptions {
  /** Video file, folder of JPEGs, or legacy run folder. */
  input: string;
  /** Output size; default the recording's own (first image's for folders). */
  width?: number;
  height?: number;
  /** Pace by media time (default true); false delivers every frame as fast as possible. */
  realtime?: boolean;
  /** Frame rate of image folders, and of legacy runs whose log has no usable time. Default 10. */
  fps?: number | null;
  /**
   * ffmpeg's decode errors (a truncated or corrupt input) end the replay with CAMERA_DECODE_ERRORS
   * instead of a warning with their count. Default false.
   */
  strict?: boolean;
  /** What real-time mode paces on; default the monotonic wall clock. */
  clock?: PacingClock;
}

const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' }).compare;

/** JPEG files of a folder in natural order. */
export async function listJpegs(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => /^\.?[^.]/.test(n) && /\.jpe?g$/i.test(extname(n)));
  return names.sort(naturalOrder).map((n) => join(dir, n));
}

export class ReplaySource implements FrameSource {
  readonly stats: FrameSourceStats = { frames: 0, dropped: 0, restarts: 0 };
  readonly #options: ReplaySourceOptions;
  readonly #clock: PacingClock;
  #kind: ReplayInputKind | null = null;
  #reader: RawVideoReader | null = null;
  #width = 0;
  #height = 0;
  #fps = DEFAULT_IMAGE_FPS;
  /** Per-frame media times (legacy runs); null = index/fps. */
  #mediaTimesMs: number[] | null = null;
  #index = 0;
  #delivered: Uint8Array | null = null;
  #startNs: bigint | null = null;
  #abort = new AbortController();

  constructor(options: ReplaySourceOptions) {
    this.#options = options;
    this.#clock = options.clock ?? monotonicClock;
  }

  get description(): string {
    const size = this.#width ? ` ${this.#width}x${this.#height}@${Number(this.#fps.toFixed(3))}` : '';
    return `replay ${this.#kind ?? 'input'} ${basename(this.#options.input)}${size}${this.#options.realtime === false ? ' (as fast as possible)' : ''}`;
  }

  /** What the input turned out to be (after start()). */
  get inputKind(): ReplayInputKind | null {
    return this.#kind;
  }

  async start(): Promise<void> {
    const { input } = this.#options;
    const info = await stat(input).catch((err: unknown) => {
      throw new SidewalkError('CAMERA_INPUT_MISSING', `replay input ${input} cannot be read: ${(err as Error).message}`, { cause: err });
    });
    let args: string[];
    let feed: Readable | undefined;
    const ride = info.isDirectory() && (await isRideDir(input)) ? await readRide(input) : null;
    if (ride?.meta.frames.kind === 'video') {
      // A ride recorded as one video: that video, at the times of its sensor records.
      this.#kind = 'ride';
      const file = join(input, ride.meta.frames.file);
      const probe = await probeVideo(file);
      this.#setSize(probe.width, probe.height);
      this.#fps = probe.fps || ride.meta.frames.fps || this.#options.fps || 25;
      this.#mediaTimesMs = rideMediaTimes(ride, ride.meta.frames.count, this.#fps);
      args = ['-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0'];
    } else if (info.isDirectory()) {
      const images = await this.#folderImages(input, ride);
      const first = await probeStream(images[0]!);
      this.#setSize(first.width, first.height);
      feed = Readable.from(concatFiles(images));
      args = ['-v', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-framerate', String(this.#fps), '-i', '-'];
    } else {
      this.#kind = 'video';
      const probe = await probeVideo(input);
      this.#setSize(probe.width, probe.height);
      this.#fps = probe.fps || this.#options.fps || 25;
      args = ['-v', 'error', '-nostdin', '-i', input, '-map', '0:v:0'];
    }
    args.push('-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-vf', `scale=${this.#width}:${this.#height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-');
    this.#abort = new AbortController();
    this.#index = 0;
    this.#startNs = null;
    this.#reader = new RawVideoReader({ args, frameBytes: this.#width * this.#height * 3, label: input, ...(feed ? { input: feed } : {}) });
    this.#reader.start();
    log.info(`replaying ${this.description}`);
  }

  async next(): Promise<Frame | null> {
    const reader = this.#reader;
    if (!reader) return null;
    if (this.#delivered) reader.release(this.#delivered);
    this.#delivered = null;
    for (;;) {
      const data = await reader.read();
      if (!data) {
        this.#reportDecodeErrors(reader);
        return null;
      }
      const index = this.#index++;
      const mediaTimeMs = this.#mediaTime(index);
      if (this.#options.realtime ?? true) {
        const now = this.#clock.nowNs();
        this.#startNs ??= now - BigInt(Math.round(mediaTimeMs * 1e6));
        const nextDueNs = this.#startNs + BigInt(Math.round(this.#mediaTime(index + 1) * 1e6));
        if (now >= nextDueNs) {
          // Its successor is already due: this frame's time has passed.
          this.stats.dropped++;
          reader.release(data);
          continue;
        }
        const waitMs = Number(this.#startNs + BigInt(Math.round(mediaTimeMs * 1e6)) - now) / 1e6;
        if (waitMs > 0) {
          try {
            await this.#clock.sleep(waitMs, this.#abort.signal);
          } catch {
            reader.release(data);
            return null; // stopped while waiting
          }
        }
      }
      this.#delivered = data;
      this.stats.frames++;
      const stride = this.#width * 3;
      return { seq: index, capturedAtNs: this.#clock.nowNs(), mediaTimeMs, width: this.#width, height: this.#height, stride, format: 'rgb24', data };
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    const reader = this.#reader;
    this.#reader = null;
    await reader?.stop();
  }

  #decodeErrorsReported = false;

  #reportDecodeErrors(reader: RawVideoReader): void {
    const { count, last } = reader.decodeErrors;
    if (count === 0 || this.#decodeErrorsReported || this.#abort.signal.aborted) return;
    this.#decodeErrorsReported = true;
    const what = `${this.#options.input}: ffmpeg reported ${count} decode error${count === 1 ? '' : 's'} after ${this.stats.frames} frames (truncated or corrupt input?); last: ${last}`;
    if (this.#options.strict) throw new SidewalkError('CAMERA_DECODE_ERRORS', what, { details: { input: this.#options.input, count } });
    log.warn(`${what} (--strict makes this an error)`);
  }

  #setSize(nativeWidth: number, nativeHeight: number): void {
    this.#width = this.#options.width ?? nativeWidth;
    this.#height = this.#options.height ?? nativeHeight;
    if (!(Number.isInteger(this.#width) && Number.isInteger(this.#height) && this.#width > 0 && this.#height > 0)) {
      throw new SidewalkError('CAMERA_OPTIONS_INVALID', `replay size ${this.#width}x${this.#height} is not a positive integer size`);
    }
  }

  async #folderImages(dir: string, ride: RideOnDisk | null): Promise<string[]> {
    this.#fps = this.#options.fps ?? DEFAULT_IMAGE_FPS;
    if (ride?.meta.frames.kind === 'jpeg') {
      const { count } = ride.meta.frames;
      if (count === 0) throw new SidewalkError('CAMERA_INPUT_EMPTY', `ride ${dir} has no frames (ride.json frames.count is 0)`, { details: { dir } });
      this.#kind = 'ride';
      this.#mediaTimesMs = rideMediaTimes(ride, count, this.#fps);
      const framesDir = join(dir, ride.meta.frames.dir);
      return Array.from({ length: count }, (_, i) => join(framesDir, frameFileName(i)));
    }
    if (await isLegacyRunDir(dir)) {
      const run = await readLegacyRun(dir, { out: false });
      if (run.images.length > 0) {
        this.#kind = 'legacy-run';
        this.#mediaTimesMs = legacyMediaTimes(
          run.images.map((i) => i.frame),
          new Map(run.raw.map((r) => [r.frame, r.time])),
          this.#fps,
        );
        return run.images.map((i) => i.path);
      }
    }
    this.#kind = 'jpeg-folder';
    const images = await listJpegs(dir);
    if (images.length === 0) {
      const rides = await countRideFolders(dir);
      const hint = rides > 0 ? `; it holds ${rides} ride folder${rides === 1 ? '' : 's'}: replay one of them` : '';
      throw new SidewalkError('CAMERA_INPUT_EMPTY', `replay folder ${dir} has no .jpg/.jpeg images${hint}`, { details: { dir } });
    }
    return images;
  }

  #mediaTime(index: number): number {
    const times = this.#mediaTimesMs;
    if (times && index < times.length) return times[index]!;
    const last = times && times.length > 0 ? times[times.length - 1]! + (index - times.length + 1) * (1000 / this.#fps) : null;
    return last ?? (index * 1000) / this.#fps;
  }
}

/** A sidewalk-ride/1 folder (runtime/recorder/ride-format.ts): it has a ride.json. */
export async function isRideDir(dir: string): Promise<boolean> {
  return stat(join(dir, RIDE_META_FILE)).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function countRideFolders(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true });
  let n = 0;
  for (const e of entries) if (e.isDirectory() && (await isRideDir(join(dir, e.name)))) n++;
  return n;
}

/** Media times of a ride's frames from its sensor records (t_ms of the record of each frame). */
export function rideMediaTimes(ride: RideOnDisk, count: number, fps: number): number[] {
  const seconds = new Map(ride.records.filter((r) => r.frame !== undefined).map((r) => [r.frame!, r.t_ms / 1000]));
  return legacyMediaTimes(
    Array.from({ length: count }, (_, i) => i),
    seconds,
    fps,
  );
}

/**
 * Media times (ms from the first image) of legacy images from the log's time column (seconds).
 * Images without a log row, or with a time that does not advance, get the previous time + 1/fps.
 */
export function legacyMediaTimes(frames: number[], timeByFrame: Map<number, number>, fps: number): number[] {
  const out: number[] = [];
  let t0: number | null = null;
  for (const frame of frames) {
    const time = timeByFrame.get(frame);
    const previous = out.length > 0 ? out[out.length - 1]! : null;
    if (time !== undefined && Number.isFinite(time)) {
      t0 ??= time - (previous === null ? 0 : (previous + 1000 / fps) / 1000);
      const ms = (time - t0) * 1000;
      if (previous === null || ms > previous) {
        out.push(ms);
        continue;
      }
    }
    out.push(previous === null ? 0 : previous + 1000 / fps);
  }
  return out;
}

async function* concatFiles(paths: string[]): AsyncGenerator<Buffer> {
  for (const path of paths) {
    for await (const chunk of createReadStream(path)) yield chunk as Buffer;
  }
}
