/**
 * Frame image checks and quality metrics. JPEG structure is checked in JS (so a corrupt file is named
 * before anything is decoded); quality metrics are taken from a 160x120 grey copy of each frame: mean
 * luma (darkness), variance of the Laplacian (blur) and a 64-bit dHash (near-duplicates). For JPEGs on
 * disk, ONE ffmpeg per ride decodes them to that grey size (measureJpegs); video extraction gets the
 * grey frames from its own decode (sources.ts) and feeds them through a GreyFrameReader.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';

export const METRIC_WIDTH = 160;
export const METRIC_HEIGHT = 120;
/**
 * The ffmpeg filter that makes the grey metric frame: every path to the metrics must use this one.
 * Grey first, so only the luma plane is scaled (same bytes as scaling all planes, ~10% less CPU).
 */
export const METRIC_FILTER = `format=gray,scale=${METRIC_WIDTH}:${METRIC_HEIGHT}:flags=area`;

export interface FrameMetrics {
  lumaMean: number;
  blurVar: number;
  /** 16 hex digits. */
  dhash: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Walks the JPEG marker segments up to the start of scan and checks the end-of-image marker;
 * returns the frame size from the SOF segment. Throws DATA_IMAGE_CORRUPT naming the file and byte.
 */
export function checkJpeg(bytes: Uint8Array, file: string): { width: number; height: number } {
  const fail = (msg: string, offset: number): never => {
    throw new SidewalkError('DATA_IMAGE_CORRUPT', `${file} byte ${offset}: ${msg}`, { details: { file, byte: offset } });
  };
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) fail('not a JPEG (no SOI marker)', 0);
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end--; // some encoders pad with zeros
  if (bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) fail('truncated JPEG (no EOI marker at the end)', bytes.length);
  let pos = 2;
  let size: { width: number; height: number } | null = null;
  while (pos < end) {
    if (bytes[pos] !== 0xff) fail(`expected a marker, found 0x${bytes[pos]!.toString(16)}`, pos);
    while (bytes[pos] === 0xff) pos++;
    const marker = bytes[pos]!;
    pos++;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (pos + 2 > end) fail('segment length runs past the end', pos);
    const len = (bytes[pos]! << 8) | bytes[pos + 1]!;
    if (len < 2 || pos + len > end) fail(`segment 0xff${marker.toString(16)} length ${len} runs past the end`, pos);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      size = { height: (bytes[pos + 3]! << 8) | bytes[pos + 4]!, width: (bytes[pos + 5]! << 8) | bytes[pos + 6]! };
      if (size.width === 0 || size.height === 0) fail('zero image size in SOF', pos);
    }
    if (marker === 0xda) break;
    pos += len;
  }
  if (!size) fail('no SOF (frame header) before the scan', pos);
  return size!;
}

/** Mean luma, Laplacian variance and dHash of one grey METRIC_WIDTH x METRIC_HEIGHT frame. */
export function metricsOf(grey: Uint8Array): FrameMetrics {
  const w = METRIC_WIDTH;
  const h = METRIC_HEIGHT;
  let sum = 0;
  for (let i = 0; i < w * h; i++) sum += grey[i]!;
  let lapSum = 0;
  let lapSq = 0;
  const n = (w - 2) * (h - 2);
  // Runs once per video frame during ingest: the row walk keeps left/centre in registers.
  for (let y = 1; y < h - 1; y++) {
    const row = y * w;
    let left = grey[row]!;
    let mid = grey[row + 1]!;
    for (let i = row + 1; i < row + w - 1; i++) {
      const right = grey[i + 1]!;
      const lap = left + right + grey[i - w]! + grey[i + w]! - 4 * mid;
      lapSum += lap;
      lapSq += lap * lap;
      left = mid;
      mid = right;
    }
  }
  const lapMean = lapSum / n;
  return { lumaMean: sum / (w * h), blurVar: lapSq / n - lapMean * lapMean, dhash: dhashOf(grey) };
}

/** dHash: 9x8 area-averaged thumbnail, one bit per horizontal neighbour comparison. */
function dhashOf(grey: Uint8Array): string {
  const tw = 9;
  const th = 8;
  const thumb = new Float64Array(tw * th);
  for (let ty = 0; ty < th; ty++) {
    const y0 = Math.floor((ty * METRIC_HEIGHT) / th);
    const y1 = Math.floor(((ty + 1) * METRIC_HEIGHT) / th);
    for (let tx = 0; tx < tw; tx++) {
      const x0 = Math.floor((tx * METRIC_WIDTH) / tw);
      const x1 = Math.floor(((tx + 1) * METRIC_WIDTH) / tw);
      let s = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += grey[y * METRIC_WIDTH + x]!;
      thumb[ty * tw + tx] = s / ((y1 - y0) * (x1 - x0));
    }
  }
  // 64 bits as two 32-bit halves (rows 0-3, rows 4-7), most significant first.
  const half = (row0: number): string => {
    let bits = 0;
    for (let ty = row0; ty < row0 + 4; ty++) for (let tx = 0; tx < 8; tx++) bits = ((bits << 1) | (thumb[ty * tw + tx]! < thumb[ty * tw + tx + 1]! ? 1 : 0)) >>> 0;
    return bits.toString(16).padStart(8, '0');
  };
  return half(0) + half(4);
}

export function hammingHex(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let n = 0;
  while (x > 0n) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

/**
 * Cuts a raw grey METRIC_WIDTH x METRIC_HEIGHT byte stream, arriving in chunks of any size, into frames.
 * `onFrame` gets a reused buffer: it must be consumed before returning.
 */
export class GreyFrameReader {
  #frame = new Uint8Array(METRIC_WIDTH * METRIC_HEIGHT);
  #filled = 0;
  #count = 0;
  #onFrame: (index: number, grey: Uint8Array) => void;

  constructor(onFrame: (index: number, grey: Uint8Array) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      const n = Math.min(this.#frame.length - this.#filled, chunk.length - pos);
      this.#frame.set(chunk.subarray(pos, pos + n), this.#filled);
      this.#filled += n;
      pos += n;
      if (this.#filled === this.#frame.length) {
        this.#filled = 0;
        this.#onFrame(this.#count++, this.#frame);
      }
    }
  }

  /** Whole frames seen so far. */
  get frames(): number {
    return this.#count;
  }

  /** Bytes of an incomplete last frame (non-zero at the end of a stream means it was cut short). */
  get partialBytes(): number {
    return this.#filled;
  }
}

function decodeBatch(files: string[], onFrame: (index: number, grey: Uint8Array) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', '-', '-vf', METRIC_FILTER, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const reader = new GreyFrameReader(onFrame);
    let err = '';
    ff.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
    ff.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-2000);
    });
    ff.stdin.on('error', () => {
      /* ffmpeg gave up; reported by the exit code */
    });
    ff.on('error', (e) => reject(new SidewalkError('DATA_FFMPEG', `cannot run ffmpeg: ${e.message}`)));
    ff.on('close', (code) => (code === 0 ? resolve(reader.frames) : reject(new SidewalkError('DATA_IMAGE_CORRUPT', `ffmpeg exited ${code}: ${err.trim()}`))));
    void (async () => {
      for (const f of files) {
        const bytes = await readFile(f);
        if (!ff.stdin.write(bytes)) await new Promise((r) => ff.stdin.once('drain', r));
      }
      ff.stdin.end();
    })().catch((e: Error) => {
      ff.kill('SIGKILL');
      reject(e);
    });
  });
}

/**
 * Quality metrics for JPEG files, in order, with one ffmpeg for the batch. When the batch fails or
 * yields the wrong number of frames, files are decoded one by one to name the one at fault.
 */
export async function measureJpegs(files: string[]): Promise<FrameMetrics[]> {
  if (files.length === 0) return [];
  const out: FrameMetrics[] = new Array(files.length);
  let ok = false;
  try {
    ok =
      (await decodeBatch(files, (i, grey) => {
        if (i < files.length) out[i] = metricsOf(grey);
      })) === files.length;
  } catch {
    ok = false;
  }
  if (ok) return out;
  for (let i = 0; i < files.length; i++) {
    let got = 0;
    try {
      got = await decodeBatch([files[i]!], (_j, grey) => {
        out[i] = metricsOf(grey);
      });
    } catch (e) {
      throw new SidewalkError('DATA_IMAGE_CORRUPT', `${files[i]}: cannot be decoded (${(e as Error).message})`, { details: { file: files[i] } });
    }
    if (got !== 1) throw new SidewalkError('DATA_IMAGE_CORRUPT', `${files[i]}: decoded to ${got} frames, expected 1`, { details: { file: files[i] } });
  }
  return out;
}
