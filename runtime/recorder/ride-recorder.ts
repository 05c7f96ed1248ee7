/**
 * Records a ride in the sidewalk-ride/1 format (ride-format.ts) while the runtime runs in record mode.
 * Frames go to ONE long-lived ffmpeg child as raw video on stdin (no process per frame) that writes
 * frames/NNNNNN.jpg; sensor records are appended to sensors.jsonl; ride.json is written with status
 * "recording" at open and replaced atomically with status "complete" by close().
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { makeDir } from '../../lib/make-dir.js';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { Frame } from '../types.js';
import { FRAMES_DIR, RIDE_FORMAT, RIDE_META_FILE, SENSORS_FILE, type RideMeta, type SensorRecord } from './ride-format.js';

const log = createLogger('runtime:recorder');

export interface RideRecorderOptions {
  /** Ride folder; created (with parents). Must not already hold a ride. */
  dir: string;
  device: string;
  location: string;
  model?: { name: string; version: string } | null;
  /** Label order of `scores` in samples. */
  labels?: string[];
  rideId?: string;
  /** ffmpeg -q:v (2 best .. 31 worst); default 3. */
  jpegQuality?: number;
  ffmpegPath?: string;
  now?: () => Date;
}

/** What the runtime knows at a frame besides the pixels. `t_ms` defaults to the frame's capture time. */
export type RideSample = Omit<SensorRecord, 'frame' | 't_ms'> & { t_ms?: number };

/** Copies a frame's pixels without row padding, in ffmpeg's rgb24 / yuv420p layout. */
export function packFrame(frame: Frame): Uint8Array {
  if (frame.format === 'rgb24') {
    const row = frame.width * 3;
    if (frame.stride === row) return frame.data.subarray(0, row * frame.height);
    const out = new Uint8Array(row * frame.height);
    for (let y = 0; y < frame.height; y++) out.set(frame.data.subarray(y * frame.stride, y * frame.stride + row), y * row);
    return out;
  }
  const w = frame.width;
  const h = frame.height;
  const cw = w / 2;
  const ch = h / 2;
  const cStride = frame.stride / 2;
  if (frame.stride === w) return frame.data.subarray(0, w * h + 2 * cw * ch);
  const out = new Uint8Array(w * h + 2 * cw * ch);
  for (let y = 0; y < h; y++) out.set(frame.data.subarray(y * frame.stride, y * frame.stride + w), y * w);
  const ySize = frame.stride * h;
  const cSize = cStride * ch;
  for (let p = 0; p < 2; p++) {
    for (let y = 0; y < ch; y++) {
      const src = ySize + p * cSize + y * cStride;
      out.set(frame.data.subarray(src, src + cw), w * h + p * cw * ch + y * cw);
    }
  }
  return out;
}

export class RideRecorder {
  readonly dir: string;
  #opts: RideRecorderOptions;
  #meta: RideMeta;
  #sensors: FileHandle | null = null;
  #ffmpeg: ChildProcessWithoutNullStreams | null = null;
  #ffmpegError = '';
  #exit: Promise<number | null> | null = null;
  #firstNs: bigint | null = null;
  #frames = 0;
  #records = 0;
  #size: { width: number; height: number; format: Frame['format'] } | null = null;
  #closed = false;

  private constructor(opts: RideRecorderOptions, meta: RideMeta) {
    this.dir = opts.dir;
    this.#opts = opts;
    this.#meta = meta;
  }

  /** Creates the ride folder and writes ride.json with status "recording". */
  static async open(opts: RideRecorderOptions): Promise<RideRecorder> {
    const now = opts.now ?? (() => new Date());
    const started = now();
    await makeDir(join(opts.dir, FRAMES_DIR));
    const existing = await readdir(join(opts.dir, FRAMES_DIR));
    if (existing.length > 0) throw new SidewalkError('DATA_RECORDER_EXISTS', `${opts.dir}: already holds recorded frames`);
    const meta: RideMeta = {
      format: RIDE_FORMAT,
      ride_id: opts.rideId ?? `${opts.device}-${started.toISOString().replace(/[:.]/g, '')}`,
      device: opts.device,
      location: opts.location,
      model: opts.model ?? null,
      ...(opts.labels ? { labels: opts.labels } : {}),
      started_at: started.toISOString(),
      ended_at: null,
      status: 'recording',
      frames: { kind: 'jpeg', dir: FRAMES_DIR, count: 0 },
    };
    const rec = new RideRecorder(opts, meta);
    await writeFileAtomic(join(opts.dir, RIDE_META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
    rec.#sensors = await open(join(opts.dir, SENSORS_FILE), 'a');
    log.info(`recording ride ${meta.ride_id} to ${opts.dir}`);
    return rec;
  }

  get frameCount(): number {
    return this.#frames;
  }

  #startEncoder(frame: Frame): void {
    const pixFmt = frame.format === 'rgb24' ? 'rgb24' : 'yuv420p';
    const args = [
      '-hide_banner',
      '-v',
      'error',
      '-f',
      'rawvideo',
      '-pix_fmt',
      pixFmt,
      '-s',
      `${frame.width}x${frame.height}`,
      '-r',
      '10',
      '-i',
      '-',
      '-q:v',
      String(this.#opts.jpegQuality ?? 3),
      '-start_number',
      '0',
      '-f',
      'image2',
      join(this.dir, FRAMES_DIR, '%06d.jpg'),
    ];
    const ff = spawn(this.#opts.ffmpegPath ?? 'ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    ff.stderr.on('data', (c: Buffer) => {
      this.#ffmpegError = (this.#ffmpegError + c.toString()).slice(-2000);
    });
    ff.stdin.on('error', () => {
      /* reported through the exit code */
    });
    this.#exit = new Promise((resolve) => {
      ff.on('error', (err) => {
        this.#ffmpegError += err.message;
        resolve(-1);
      });
      ff.on('close', (code) => resolve(code));
    });
    this.#ffmpeg = ff;
    this.#size = { width: frame.width, height: frame.height, format: frame.format };
  }

  /** Encodes one frame and appends its sensor record. Frames must keep one size and format per ride. */
  async addFrame(frame: Frame, sample: RideSample = {}): Promise<void> {
    if (this.#closed) throw new SidewalkError('DATA_RECORDER_CLOSED', `${this.dir}: ride already closed`);
    if (!this.#ffmpeg) this.#startEncoder(frame);
    const size = this.#size!;
    if (frame.width !== size.width || frame.height !== size.height || frame.format !== size.format) {
      throw new SidewalkError('DATA_RECORDER_FRAME_SIZE', `${this.dir}: frame ${frame.seq} is ${frame.width}x${frame.height} ${frame.format}, ride is ${size.width}x${size.height} ${size.format}`);
    }
    const ff = this.#ffmpeg!;
    if (ff.exitCode !== null || ff.stdin.destroyed) {
      throw new SidewalkError('DATA_RECORDER_ENCODER', `${this.dir}: ffmpeg exited (${ff.exitCode}): ${this.#ffmpegError.trim()}`);
    }
    this.#firstNs ??= frame.capturedAtNs;
    const tMs = sample.t_ms ?? Number(frame.capturedAtNs - this.#firstNs) / 1e6;
    if (!ff.stdin.write(packFrame(frame))) await once(ff.stdin, 'drain');
    const record: SensorRecord = { ...sample, t_ms: Math.round(tMs * 1000) / 1000, frame: this.#frames };
    await this.#sensors!.write(`${JSON.stringify(record)}\n`);
    this.#frames++;
    this.#records++;
  }

  /** Appends a sensor sample between frames (e.g. a GPS fix). */
  async addSample(sample: Omit<SensorRecord, 'frame'>): Promise<void> {
    if (this.#closed) throw new SidewalkError('DATA_RECORDER_CLOSED', `${this.dir}: ride already closed`);
    await this.#sensors!.write(`${JSON.stringify(sample)}\n`);
    this.#records++;
  }

  /** Flushes the encoder, checks every frame landed, and finalises ride.json atomically. */
  async close(): Promise<RideMeta> {
    if (this.#closed) return this.#meta;
    this.#closed = true;
    if (this.#ffmpeg) {
      this.#ffmpeg.stdin.end();
      const code = await this.#exit;
      if (code !== 0) throw new SidewalkError('DATA_RECORDER_ENCODER', `${this.dir}: ffmpeg exited ${code}: ${this.#ffmpegError.trim()}`);
    }
    await this.#sensors!.sync();
    await this.#sensors!.close();
    const written = (await readdir(join(this.dir, FRAMES_DIR))).filter((n) => n.endsWith('.jpg')).length;
    if (written !== this.#frames) {
      throw new SidewalkError('DATA_RECORDER_ENCODER', `${this.dir}: ${this.#frames} frames recorded but ${written} JPEGs written`);
    }
    this.#meta = {
      ...this.#meta,
      ended_at: (this.#opts.now ?? (() => new Date()))().toISOString(),
      status: 'complete',
      frames: { kind: 'jpeg', dir: FRAMES_DIR, count: this.#frames, ...(this.#size ? { width: this.#size.width, height: this.#size.height } : {}) },
      sensor_records: this.#records,
    };
    await writeFileAtomic(join(this.dir, RIDE_META_FILE), `${JSON.stringify(this.#meta, null, 2)}\n`);
    log.info(`ride ${this.#meta.ride_id} closed: ${this.#frames} frames`);
    return this.#meta;
  }

  /** Stops without finalising (ride.json stays "recording"): used on fatal errors. */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ffmpeg && this.#ffmpeg.exitCode === null) {
      this.#ffmpeg.kill('SIGKILL');
      await this.#exit;
    }
    await this.#sensors?.close();
  }
}
