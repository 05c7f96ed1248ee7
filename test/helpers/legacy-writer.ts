/**
 * Writes legacy run folders (`runN/`: img_NNNNN.jpg, raw_data.txt, out_data.txt) for tests. The two
 * text files are written by python3 itself with the legacy scooter's format strings
 * (test/helpers/legacy_scooter.py), so every test reads bytes exactly like the legacy Pi's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/paths.js';
import type { LegacyRawRow } from '../../runtime/recorder/legacy-run.js';

export const LEGACY_SCOOTER_PY = join(REPO_ROOT, 'test', 'helpers', 'legacy_scooter.py');

export type LegacyRawInput = Omit<LegacyRawRow, 'line' | 'gpsExtra' | 'imu'> & Partial<Pick<LegacyRawRow, 'gpsExtra' | 'imu'>>;
/** One out_data.txt row: `scores` is the legacy model's imclass (bike_lane, crosswalk, side, street). */
export interface LegacyOutInput {
  frame: number;
  joystick: number;
  scores: readonly number[];
  sidewalk: 0 | 1;
}

export interface LegacyWriteOptions {
  /** Which scooter.py code path wrote out_data.txt (default live). */
  path?: 'live' | 'post-process';
  /** Frame field of out_data.txt: zero-padded (str(n).zfill(5), default) or '%5s' of a number (space-padded). */
  frame?: 'zero' | 'space';
}

/** Runs one command of legacy_scooter.py (python3) and returns its JSON answer. */
export function legacyPython<T>(command: Record<string, unknown>): T {
  const r = spawnSync('python3', [LEGACY_SCOOTER_PY], { input: JSON.stringify(command), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`legacy_scooter.py ${String(command.cmd)} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const rawForPython = (r: LegacyRawInput) => ({
  frame: r.frame,
  time: r.time,
  gps: [r.lat, r.lon, r.alt, ...(r.gpsExtra ?? [0, 0, 0])],
  imu: r.imu ?? [0, 0, 0, 0, 0, 9.81, 0, 0, 0],
  speed: r.speed,
  joystick: r.joystick,
});
const outForPython = (o: LegacyOutInput) => ({ frame: o.frame, joystick: o.joystick, imclass: o.scores, swFlag: o.sidewalk });

/** Writes raw_data.txt and/or out_data.txt into `dir` with python3 and the legacy format strings. */
export function writeLegacyTexts(dir: string, raw: LegacyRawInput[] | null, out: LegacyOutInput[] | null, o: LegacyWriteOptions = {}): void {
  legacyPython({ cmd: 'write', dir, raw: raw?.map(rawForPython) ?? null, out: out?.map(outForPython) ?? null, path: o.path ?? 'live', frame: o.frame ?? 'zero' });
}

/** Encodes grey or RGB test images to JPEG with the real ffmpeg. */
export async function encodeTestJpegs(images: { width: number; height: number; rgb: Uint8Array }[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const img of images) {
    out.push(
      await new Promise<Buffer>((resolve, reject) => {
        const ff = spawn(
          'ffmpeg',
          ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${img.width}x${img.height}`, '-i', '-', '-frames:v', '1', '-q:v', '2', '-f', 'image2pipe', '-c:v', 'mjpeg', '-'],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        const chunks: Buffer[] = [];
        let err = '';
        ff.stdout.on('data', (c: Buffer) => chunks.push(c));
        ff.stderr.on('data', (c: Buffer) => {
          err += c.toString();
        });
        ff.on('error', reject);
        ff.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg exited ${code}: ${err}`))));
        ff.stdin.end(Buffer.from(img.rgb));
      }),
    );
  }
  return out;
}

/** A textured test image (sharp edges, mid brightness) that differs with `seed`. */
export function texturedImage(width: number, height: number, seed: number, brightness = 1): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cell = (Math.floor(x / 8) + Math.floor(y / 8) + seed) % 2 === 0;
      const v = Math.round((cell ? 200 : 60) * brightness) + ((x * 7 + y * 13 + seed * 31) % 17);
      const i = (y * width + x) * 3;
      rgb[i] = Math.min(255, v);
      rgb[i + 1] = Math.min(255, Math.round(v * 0.9));
      rgb[i + 2] = Math.min(255, Math.round(v * (0.5 + (seed % 5) / 10)));
    }
  }
  // Stamp the seed's bits into the first row so every seed gives a different image (and content hash).
  for (let bit = 0; bit < 16 && (bit + 1) * 2 <= width; bit++) {
    const v = (seed >> bit) & 1 ? 255 : 0;
    for (let x = bit * 2; x < bit * 2 + 2; x++) rgb.fill(v, x * 3, x * 3 + 3);
  }
  return { width, height, rgb };
}

export interface LegacyRunSpec {
  raw: LegacyRawInput[];
  out?: LegacyOutInput[];
  /** JPEG bytes per frame number; default: a textured image per raw row. */
  images?: Map<number, Buffer>;
  options?: LegacyWriteOptions;
}

/** Writes a legacy run folder; returns its path. */
export async function writeLegacyRun(dir: string, spec: LegacyRunSpec): Promise<string> {
  await mkdir(dir, { recursive: true });
  let images = spec.images;
  if (!images) {
    const jpegs = await encodeTestJpegs(spec.raw.map((r) => texturedImage(64, 48, r.frame)));
    images = new Map(spec.raw.map((r, i) => [r.frame, jpegs[i]!]));
  }
  for (const [frame, bytes] of images) await writeFile(join(dir, `img_${String(frame).padStart(5, '0')}.jpg`), bytes);
  writeLegacyTexts(dir, spec.raw, spec.out ?? null, spec.options);
  return dir;
}

/** A plausible legacy run: n frames at 5 fps moving north at `speed` (rpm column), joystick per frame. */
export function legacyRows(n: number, opts: { speed?: (i: number) => number; joystick?: (i: number) => number; startFrame?: number } = {}): { raw: LegacyRawInput[]; out: LegacyOutInput[] } {
  const raw: LegacyRawInput[] = [];
  const out: LegacyOutInput[] = [];
  for (let i = 0; i < n; i++) {
    const frame = (opts.startFrame ?? 0) + i;
    raw.push({ frame, time: i * 0.2, lat: 34.05 + i * 1e-5, lon: -118.25, alt: 90 + i * 0.1, speed: opts.speed?.(i) ?? 15, joystick: opts.joystick?.(i) ?? 1 });
    out.push({ frame, joystick: opts.joystick?.(i) ?? 1, scores: [0.1, 0.1, 0.7, 0.1], sidewalk: 1 });
  }
  return { raw, out };
}
