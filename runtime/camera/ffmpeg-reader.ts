/**
 * Runs ffmpeg (or ffprobe) for the replay source: one decoder process whose rawvideo stdout is cut
 * into fixed-size frames, read ahead a few frames and paused (pipe back-pressure) beyond that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SidewalkError } from '../../lib/errors.js';
import { runProcess } from '../../lib/run-process.js';
import { createLogger } from '../../lib/log.js';
import { BufferPool } from './buffer-pool.js';

const log = createLogger('runtime:camera:ffmpeg');
const READ_AHEAD_FRAMES = 3;

export interface VideoProbe {
  width: number;
  height: number;
  /** Frames per second (average frame rate), 0 when unknown (a still image). */
  fps: number;
  durationS: number | null;
  frames: number | null;
  formatName: string;
}

function rate(text: string | undefined): number {
  const [num, den] = (text ?? '0/0').split('/').map(Number);
  return num && den ? num / den : 0;
}

/** ffprobe's view of a file's first video stream; throws CAMERA_NOT_A_VIDEO when it has none. */
export async function probeVideo(file: string): Promise<VideoProbe> {
  const probe = await probeStream(file);
  // ffmpeg "decodes" text as ANSI art (format tty) and single images as one-frame streams.
  if (probe.formatName === 'tty') {
    throw new SidewalkError('CAMERA_NOT_A_VIDEO', `${file} is not a video: ffmpeg sees a text file (format tty)`, { details: { file } });
  }
  if (probe.formatName === 'image2' || probe.formatName.endsWith('_pipe')) {
    throw new SidewalkError('CAMERA_NOT_A_VIDEO', `${file} is not a video: it is a single image (${probe.formatName}); replay its folder instead`, { details: { file } });
  }
  return probe;
}

/** ffprobe's view of any file with a video stream (a still image counts); CAMERA_NOT_A_VIDEO when none. */
export async function probeStream(file: string): Promise<VideoProbe> {
  const args = [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_type,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:format=format_name,duration',
    '-of',
    'json',
    file,
  ];
  const { code, stdout, stderr } = await runProcess('ffprobe', args, { errorCode: 'CAMERA_FFMPEG_MISSING', installPackage: 'ffmpeg' });
  const notVideo = (why: string): SidewalkError => new SidewalkError('CAMERA_NOT_A_VIDEO', `${file} is not a video ffmpeg can decode: ${why}`, { details: { file } });
  if (code !== 0) throw notVideo(stderr.trim().split('\n').pop() || `ffprobe exited with code ${code}`);
  type Probe = {
    streams?: { codec_type?: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; nb_frames?: string; duration?: string }[];
    format?: { format_name?: string; duration?: string };
  };
  const parsed = JSON.parse(stdout) as Probe;
  const stream = parsed.streams?.find((s) => s.codec_type === 'video');
  if (!stream?.width || !stream.height) throw notVideo('it has no video stream');
  const durationS = Number(stream.duration ?? parsed.format?.duration);
  const frames = Number(stream.nb_frames);
  return {
    width: stream.width,
    height: stream.height,
    fps: rate(stream.avg_frame_rate) || rate(stream.r_frame_rate),
    durationS: Number.isFinite(durationS) ? durationS : null,
    frames: Number.isInteger(frames) && frames > 0 ? frames : null,
    formatName: parsed.format?.format_name ?? '',
  };
}

export interface RawVideoReaderOptions {
  /** ffmpeg arguments; must write rawvideo frames of `frameBytes` to stdout ("-"). */
  args: string[];
  frameBytes: number;
  /** Fed to ffmpeg's stdin (image2pipe input); stdin is ignored when absent. */
  input?: Readable;
  /** Names the input in errors. */
  label: string;
}

/** One ffmpeg decoder; read() gives frames in order, then null at the end of the input. */
export class RawVideoReader {
  readonly #options: RawVideoReaderOptions;
  readonly #pool: BufferPool;
  readonly #queue: Uint8Array[] = [];
  #child: ChildProcess | null = null;
  #filling: Uint8Array | null = null;
  #fillOffset = 0;
  #ended = false;
  #error: SidewalkError | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #stderrTail = '';
  #stderrLines = 0;

  constructor(options: RawVideoReaderOptions) {
    this.#options = options;
    this.#pool = new BufferPool(options.frameBytes, READ_AHEAD_FRAMES + 2);
  }

  start(): void {
    const { args, input, label } = this.#options;
    log.debug(() => `ffmpeg ${args.join(' ')}`);
    const child = spawn('ffmpeg', args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.#onData(chunk));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => {
      this.#stderrTail = (this.#stderrTail + t).slice(-2000);
      this.#stderrLines += t.split('\n').length - 1;
    });
    if (input) {
      // A dead decoder (EPIPE) is reported through its exit status, not here.
      pipeline(input, child.stdin!).catch((err: unknown) => log.debug(() => `ffmpeg stdin closed: ${String(err)}`));
    }
    child.on('error', (err) => {
      this.#error = new SidewalkError('CAMERA_FFMPEG_MISSING', `cannot run ffmpeg for ${label}: ${err.message} (install ffmpeg)`, { cause: err });
      this.#signal();
    });
    child.on('close', (code, signal) => {
      this.#child = null;
      if (this.#stopped) return;
      if (code !== 0) {
        const last = this.#stderrTail.trim().split('\n').slice(-3).join(' | ');
        this.#error = new SidewalkError('CAMERA_DECODE_FAILED', `ffmpeg failed decoding ${label} (${signal ? `signal ${signal}` : `exit code ${code}`}): ${last}`, { details: { input: label } });
      } else if (this.#fillOffset > 0) {
        log.warn(`${label}: decoder ended with ${this.#fillOffset} bytes of an incomplete frame (ignored)`);
      }
      this.#ended = true;
      this.#signal();
    });
  }

  /**
   * Errors ffmpeg reported while decoding (run with `-v error`, every stderr line is one): a
   * truncated or corrupt input still ends with exit code 0, and this is how it shows.
   */
  get decodeErrors(): { count: number; last: string | null } {
    return { count: this.#stderrLines, last: this.#stderrTail.trim().split('\n').pop() || null };
  }

  /** The next frame (owned by the caller until it calls release()), or null at the end. */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.#queue.shift();
      if (frame) {
        if (this.#queue.length < READ_AHEAD_FRAMES) this.#child?.stdout?.resume();
        return frame;
      }
      if (this.#error) throw this.#error;
      if (this.#ended || this.#stopped) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  release(buffer: Uint8Array): void {
    this.#pool.release(buffer);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#signal();
    const child = this.#child;
    if (!child || child.pid === undefined) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.stdout?.destroy();
      child.kill('SIGKILL');
    });
  }

  #onData(chunk: Buffer): void {
    const { frameBytes } = this.#options;
    let pos = 0;
    while (pos < chunk.length) {
      this.#filling ??= this.#pool.acquire();
      const n = Math.min(chunk.length - pos, frameBytes - this.#fillOffset);
      this.#filling.set(chunk.subarray(pos, pos + n), this.#fillOffset);
      this.#fillOffset += n;
      pos += n;
      if (this.#fillOffset === frameBytes) {
        this.#queue.push(this.#filling);
        this.#filling = null;
        this.#fillOffset = 0;
      }
    }
    if (this.#queue.length >= READ_AHEAD_FRAMES) this.#child?.stdout?.pause();
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
