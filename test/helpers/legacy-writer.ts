/**
 * Writes legacy run folders (`runN/`: img_NNNNN.jpg, raw_data.txt, out_data.txt) for tests, in the
 * text layout the legacy Python logger is assumed to have used (runtime/recorder/legacy-run.ts):
 * Python "%d,%f,..." rows by default; whitespace separation and a header line are options.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LegacyOutRow, LegacyRawRow } from '../../runtime/recorder/legacy-run.js';

export type LegacyRawInput = Omit<LegacyRawRow, 'line' | 'gpsExtra' | 'imu'> & Partial<Pick<LegacyRawRow, 'gpsExtra' | 'imu'>>;
export type LegacyOutInput = Omit<LegacyOutRow, 'line'>;

export interface LegacyWriteOptions {
  separator?: ',' | ', ' | ' ' | '\t';
  header?: boolean;
  /** Digits after the point for floats (Python's %f is 6). */
  digits?: number;
}

const f = (v: number, digits: number): string => (Number.isNaN(v) ? 'nan' : v.toFixed(digits));

export function formatLegacyRawRow(r: LegacyRawInput, o: LegacyWriteOptions = {}): string {
  const d = o.digits ?? 6;
  const gpsExtra = r.gpsExtra ?? [0, 0, 0];
  const imu = r.imu ?? [0, 0, 9.81, 0, 0, 0, 0, 0, 0];
  return [String(r.frame), f(r.time, d), f(r.lat, d), f(r.lon, d), f(r.alt, d), ...gpsExtra.map((v) => f(v, d)),
    ...imu.map((v) => f(v, d)), f(r.speed, d), String(r.joystick)].join(o.separator ?? ',');
}

export function formatLegacyOutRow(r: LegacyOutInput, o: LegacyWriteOptions = {}): string {
  const d = o.digits ?? 6;
  return [String(r.frame), String(r.label), ...r.scores.map((v) => f(v, d)), String(r.sidewalk),
    ...r.pos.map((v) => f(v, d)), ...r.vel.map((v) => f(v, d))].join(o.separator ?? ',');
}

export function legacyRawText(rows: LegacyRawInput[], o: LegacyWriteOptions = {}): string {
  const head = o.header ? 'frame,time,lat,lon,alt,g4,g5,g6,ax,ay,az,gx,gy,gz,mx,my,mz,speed,joystick\n' : '';
  return head + rows.map((r) => `${formatLegacyRawRow(r, o)}\n`).join('');
}

export function legacyOutText(rows: LegacyOutInput[], o: LegacyWriteOptions = {}): string {
  const head = o.header ? 'frame,label,s0,s1,s2,s3,s4,s5,sidewalk,px,py,pz,vx,vy,vz\n' : '';
  return head + rows.map((r) => `${formatLegacyOutRow(r, o)}\n`).join('');
}

/** Encodes grey or RGB test images to JPEG with the real ffmpeg. */
export async function encodeTestJpegs(images: { width: number; height: number; rgb: Uint8Array }[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const img of images) {
    out.push(await new Promise<Buffer>((resolve, reject) => {
      const ff = spawn('ffmpeg', ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${img.width}x${img.height}`, '-i', '-',
        '-frames:v', '1', '-q:v', '2', '-f', 'image2pipe', '-c:v', 'mjpeg', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let err = '';
      ff.stdout.on('data', (c: Buffer) => chunks.push(c));
      ff.stderr.on('data', (c: Buffer) => { err += c.toString(); });
      ff.on('error', reject);
      ff.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg exited ${code}: ${err}`))));
      ff.stdin.end(Buffer.from(img.rgb));
    }));
  }
  return out;
}

/** A textured test image (sharp edges, mid brightness) that differs with `seed`. */
export function texturedImage(width: number, height: number, seed: number, brightness = 1): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cell = ((Math.floor(x / 8) + Math.floor(y / 8) + seed) % 2) === 0;
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
  await writeFile(join(dir, 'raw_data.txt'), legacyRawText(spec.raw, spec.options));
  if (spec.out) await writeFile(join(dir, 'out_data.txt'), legacyOutText(spec.out, spec.options));
  return dir;
}

/** A plausible legacy run: n frames at 5 fps moving north at `speed`, joystick per frame. */
export function legacyRows(n: number, opts: { speed?: (i: number) => number; joystick?: (i: number) => number; startFrame?: number } = {}): { raw: LegacyRawInput[]; out: LegacyOutInput[] } {
  const raw: LegacyRawInput[] = [];
  const out: LegacyOutInput[] = [];
  for (let i = 0; i < n; i++) {
    const frame = (opts.startFrame ?? 0) + i;
    raw.push({ frame, time: 1_600_000_000 + i * 0.2, lat: 34.05 + i * 1e-5, lon: -118.25, alt: 90 + i * 0.1, speed: opts.speed?.(i) ?? 15, joystick: opts.joystick?.(i) ?? 1 });
    out.push({ frame, label: 2, scores: [0.1, 0.1, 0.6, 0.1, 0.05, 0.05], sidewalk: 1, pos: [i, 0, 0], vel: [1, 0, 0] });
  }
  return { raw, out };
}
