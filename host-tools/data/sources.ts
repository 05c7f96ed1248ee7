/**
 * Turns the three kinds of input into one shape for ingest: new-format rides (ride.json), legacy run
 * folders (raw_data.txt) and plain videos (+ optional CSV/GPX sensor log, frames extracted by ffmpeg).
 * Every source yields a content hash of its input bytes first, so a known ride is skipped before any
 * decoding, and then its frames.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { readLegacyRun } from '../../runtime/recorder/legacy-run.js';
import { frameFileName, readRide, RIDE_META_FILE, SENSORS_FILE, type SensorRecord } from '../../runtime/recorder/ride-format.js';
import { sha256 } from './images.js';
import { readSensorLog, sampleAt, type SensorSample } from './sensor-log.js';

export interface IngestFrame {
  index: number;
  /** JPEG file to store. */
  file: string;
  timeMs: number | null;
  lat: number | null;
  lon: number | null;
  altM: number | null;
  speedRaw: number | null;
  speedKph: number | null;
  /** What the rider pressed: a class name or a joystick/button code (mapped by the labelling config). */
  riderInput: string | number | null;
  scores: number[] | null;
  trueLabel: string | null;
  legacy: unknown;
}

export interface IngestSource {
  kind: 'ride' | 'legacy' | 'video';
  path: string;
  /** sha256 over the input bytes that define the ride. */
  contentHash: string;
  rideKey: string;
  location: string | null;
  device: string | null;
  model: { name: string; version: string } | null;
  labels: string[] | null;
  startedAt: string | null;
  endedAt: string | null;
  synthetic: boolean;
  frames(): Promise<IngestFrame[]>;
  /** True when frames() extracted its files into a temporary folder: ingest may move them into the store. */
  readonly temporaryFrames: boolean;
  cleanup(): Promise<void>;
}

const VIDEO_RE = /\.(mp4|mkv|mov|avi|h264|webm)$/i;
const isFile = (p: string): Promise<boolean> => stat(p).then((s) => s.isFile(), () => false);

export type SourceKind = IngestSource['kind'];

export async function detectKind(path: string): Promise<SourceKind | null> {
  if (await isFile(join(path, RIDE_META_FILE))) return 'ride';
  if (await isFile(join(path, 'raw_data.txt'))) return 'legacy';
  if (VIDEO_RE.test(path) && (await isFile(path))) return 'video';
  return null;
}

/** Expands ingest arguments: a ride/run/video itself, or a folder whose children are. */
export async function expandInputs(paths: string[]): Promise<{ path: string; kind: SourceKind }[]> {
  const out: { path: string; kind: SourceKind }[] = [];
  for (const p of paths) {
    const kind = await detectKind(p);
    if (kind) {
      out.push({ path: p, kind });
      continue;
    }
    const children = await readdir(p).catch(() => null);
    if (!children) throw new SidewalkError('DATA_INPUT_UNKNOWN', `${p}: not a ride folder, legacy run folder, video or folder of those`);
    let found = 0;
    for (const c of children.sort()) {
      const k = await detectKind(join(p, c));
      if (k) {
        out.push({ path: join(p, c), kind: k });
        found++;
      }
    }
    if (found === 0) throw new SidewalkError('DATA_INPUT_UNKNOWN', `${p}: holds no ride folder, legacy run folder or video`);
  }
  return out;
}

async function hashFiles(files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) out.push(sha256(await readFile(f)));
  return out;
}

const nul = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

async function legacySource(dir: string): Promise<IngestSource> {
  const run = await readLegacyRun(dir);
  const rawFile = join(dir, 'raw_data.txt');
  const byFrame = new Map<number, (typeof run.raw)[number]>();
  for (const r of run.raw) if (!byFrame.has(r.frame)) byFrame.set(r.frame, r);
  const outByFrame = new Map((run.out ?? []).map((o) => [o.frame, o]));
  const lastLine = run.raw.length ? run.raw[run.raw.length - 1]!.line : 0;
  for (const img of run.images) {
    if (!byFrame.has(img.frame)) {
      throw new SidewalkError('DATA_LEGACY_MALFORMED', `${rawFile} line ${lastLine + 1}: no row for frame ${img.frame} (${img.name}); the sensor log is truncated or out of step`, {
        details: { file: rawFile, line: lastLine + 1 },
      });
    }
  }
  const rawText = await readFile(rawFile);
  const outText = await readFile(join(dir, 'out_data.txt')).catch(() => Buffer.alloc(0));
  const imageHashes = await hashFiles(run.images.map((i) => i.path));
  const t0 = run.raw.length ? run.raw[0]!.time : 0;
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return {
    kind: 'legacy',
    path: dir,
    contentHash: sha256(['legacy', sha256(rawText), sha256(outText), ...imageHashes].join('\n')),
    rideKey: `legacy:${basename(dir)}`,
    location: null,
    device: null,
    model: null,
    labels: null,
    startedAt: Number.isFinite(t0) && t0 > 1e9 ? new Date(t0 * 1000).toISOString() : null,
    endedAt: null,
    synthetic: false,
    frames: async () => run.images.map((img, index) => {
      const r = byFrame.get(img.frame)!;
      const o = outByFrame.get(img.frame);
      return {
        index,
        file: img.path,
        timeMs: Number.isFinite(r.time - t0) ? (r.time - t0) * 1000 : null,
        lat: finite(r.lat),
        lon: finite(r.lon),
        altM: finite(r.alt),
        speedRaw: finite(r.speed),
        speedKph: null,
        riderInput: r.joystick,
        scores: null,
        trueLabel: null,
        legacy: { frame: img.frame, gpsExtra: r.gpsExtra, imu: r.imu, ...(o ? { out: { label: o.label, scores: o.scores, sidewalk: o.sidewalk, pos: o.pos, vel: o.vel } } : {}) },
      };
    }),
    temporaryFrames: false,
    cleanup: async () => {},
  };
}

function extractFrames(video: string, outDir: string, fps: number | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const vf = fps ? ['-vf', `fps=${fps}`] : [];
    const ff = spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-i', video, ...vf, '-an', '-q:v', '2', '-start_number', '0', join(outDir, '%06d.jpg')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    ff.stderr.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-2000); });
    ff.on('error', (e) => reject(new SidewalkError('DATA_FFMPEG', `cannot run ffmpeg: ${e.message}`)));
    ff.on('close', (code) => (code === 0 ? resolve() : reject(new SidewalkError('DATA_VIDEO_DECODE', `${video}: ffmpeg exited ${code}: ${err.trim()}`))));
  });
}

async function extracted(video: string, fps: number | null): Promise<{ dir: string; files: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'sidewalk-frames-'));
  try {
    await extractFrames(video, dir, fps);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(dir, f));
  return { dir, files };
}

async function rideSource(dir: string): Promise<IngestSource> {
  const ride = await readRide(dir);
  const { meta } = ride;
  const frameRecords = new Map<number, SensorRecord>();
  const samples: SensorRecord[] = [];
  ride.records.forEach((r) => (r.frame === undefined ? samples.push(r) : frameRecords.set(r.frame, r)));
  samples.sort((a, b) => a.t_ms - b.t_ms);
  const sensorsFile = join(dir, SENSORS_FILE);
  let frameFiles: string[] = [];
  let tmpDir: string | null = null;
  let hashParts: string[];
  if (meta.frames.kind === 'jpeg') {
    frameFiles = Array.from({ length: meta.frames.count }, (_, i) => join(dir, meta.frames.kind === 'jpeg' ? meta.frames.dir : '', frameFileName(i)));
    for (const f of frameFiles) {
      if (!(await isFile(f))) throw new SidewalkError('DATA_RIDE_MALFORMED', `${f}: missing (ride.json says ${meta.frames.count} frames)`, { details: { file: f } });
    }
    hashParts = await hashFiles(frameFiles);
  } else {
    hashParts = await hashFiles([join(dir, meta.frames.file)]);
  }
  const contentHash = sha256(['ride', sha256(await readFile(join(dir, RIDE_META_FILE))), sha256(await readFile(sensorsFile)), ...hashParts].join('\n'));
  const fill = (r: SensorRecord | undefined, key: 'lat' | 'lon' | 'alt_m' | 'speed_kph', tMs: number): number | null => {
    const own = r?.[key];
    if (own !== undefined && own !== null) return own;
    // Latest sample at or before tMs that has the field (binary search, then a short walk back).
    let lo = 0;
    let hi = samples.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (samples[mid]!.t_ms <= tMs) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const v = samples[i]![key];
      if (v !== undefined && v !== null) return v;
    }
    return null;
  };
  return {
    kind: 'ride',
    path: dir,
    contentHash,
    rideKey: meta.ride_id,
    location: meta.location,
    device: meta.device,
    model: meta.model,
    labels: meta.labels ?? null,
    startedAt: meta.started_at,
    endedAt: meta.ended_at,
    synthetic: meta.synthetic === true,
    frames: async () => {
      if (meta.frames.kind === 'video') {
        const ex = await extracted(join(dir, meta.frames.file), null);
        tmpDir = ex.dir;
        frameFiles = ex.files;
      }
      return frameFiles.map((file, index) => {
        const r = frameRecords.get(index);
        if (!r) throw new SidewalkError('DATA_RIDE_MALFORMED', `${sensorsFile}: no record for frame ${index} (truncated?)`, { details: { file: sensorsFile } });
        return {
          index,
          file,
          timeMs: r.t_ms,
          lat: fill(r, 'lat', r.t_ms),
          lon: fill(r, 'lon', r.t_ms),
          altM: fill(r, 'alt_m', r.t_ms),
          speedRaw: null,
          speedKph: fill(r, 'speed_kph', r.t_ms),
          riderInput: nul(r.rider_label),
          scores: r.scores ?? null,
          trueLabel: r.true_label ?? null,
          legacy: null,
        };
      });
    },
    get temporaryFrames() {
      return tmpDir !== null;
    },
    cleanup: async () => {
      if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
    },
  };
}

async function videoSource(file: string, opts: { fps: number; sensorLog?: string }): Promise<IngestSource> {
  let samples: SensorSample[] = [];
  let logHash = '';
  if (opts.sensorLog) {
    const log = await readSensorLog(opts.sensorLog);
    samples = log.samples;
    logHash = sha256(log.bytes);
  }
  let tmpDir: string | null = null;
  return {
    kind: 'video',
    path: file,
    contentHash: sha256(['video', sha256(await readFile(file)), logHash, String(opts.fps)].join('\n')),
    rideKey: `video:${basename(file)}`,
    location: null,
    device: null,
    model: null,
    labels: null,
    startedAt: null,
    endedAt: null,
    synthetic: false,
    frames: async () => {
      const ex = await extracted(file, opts.fps);
      tmpDir = ex.dir;
      return ex.files.map((f, index) => {
        const tMs = (index * 1000) / opts.fps;
        const s = sampleAt(samples, tMs);
        return {
          index, file: f, timeMs: tMs, lat: s?.lat ?? null, lon: s?.lon ?? null, altM: s?.altM ?? null,
          speedRaw: null, speedKph: s?.speedKph ?? null, riderInput: s?.label ?? null, scores: null, trueLabel: null, legacy: null,
        };
      });
    },
    get temporaryFrames() {
      return tmpDir !== null;
    },
    cleanup: async () => {
      if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
    },
  };
}

export async function openSource(path: string, kind: SourceKind, opts: { fps: number; sensorLog?: string }): Promise<IngestSource> {
  if (kind === 'legacy') return legacySource(path);
  if (kind === 'ride') return rideSource(path);
  return videoSource(path, opts);
}
