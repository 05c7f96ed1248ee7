/**
 * Turns the three kinds of input into one shape for ingest: new-format rides (ride.json), legacy run
 * folders (raw_data.txt) and plain videos (+ optional CSV/GPX sensor log, frames extracted by ffmpeg).
 * Every source yields a content hash of its input bytes first, so a known ride is skipped before any
 * decoding, and then its frames, handed over one by one as each JPEG is complete (for a video: while
 * ffmpeg is still extracting the later ones).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { readLegacyRun, type LegacyOutLayout } from '../../runtime/recorder/legacy-run.js';
import { frameFileName, readRide, RIDE_META_FILE, SENSORS_FILE, type SensorRecord } from '../../runtime/recorder/ride-format.js';
import { GreyFrameReader, METRIC_FILTER, metricsOf, sha256, type FrameMetrics } from './images.js';
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
  /** Quality metrics from the extraction's own decode (video frames); null: measure the JPEG file. */
  metrics: FrameMetrics | null;
}

/** Receives each frame, in order, once its JPEG file is complete. */
export type FrameSink = (frame: IngestFrame) => Promise<void>;

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
  /** Hands every frame to `sink` (in order, as soon as its file is complete) and returns them all. */
  frames(sink: FrameSink): Promise<IngestFrame[]>;
  /** True when frames() extracts its files into a temporary folder: ingest may move them into the store. */
  readonly temporaryFrames: boolean;
  cleanup(): Promise<void>;
}

const VIDEO_RE = /\.(mp4|mkv|mov|avi|h264|webm)$/i;
const isFile = (p: string): Promise<boolean> =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

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

async function feed(frames: IngestFrame[], sink: FrameSink): Promise<IngestFrame[]> {
  for (const f of frames) await sink(f);
  return frames;
}

async function legacySource(dir: string, layout?: LegacyOutLayout): Promise<IngestSource> {
  const run = await readLegacyRun(dir, layout ? { layout } : {});
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
    frames: (sink) =>
      feed(
        run.images.map((img, index) => {
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
            legacy: { frame: img.frame, gpsExtra: r.gpsExtra, imu: r.imu, ...(o ? { out: { layout: run.outLayout, joystick: o.joystick, scores: o.scores, sidewalk: o.sidewalk } } : {}) },
            metrics: null,
          };
        }),
        sink,
      ),
    temporaryFrames: false,
    cleanup: async () => {},
  };
}

const frameFile = (dir: string, index: number): string => join(dir, frameFileName(index)); // ffmpeg's %06d.jpg

/**
 * Extracts a video's frames into `outDir` with ONE decode: a split filter feeds both the JPEG files
 * (the settings of a bare `ffmpeg -vf fps=N -q:v 2` extraction) and a grey 160x120 raw stream on stdout,
 * from which the quality metrics are taken while ffmpeg runs. Frame i goes to `onFrame` as soon as its
 * file is complete: the image2 muxer writes files one after another, so file i is complete once file
 * i+1 exists or ffmpeg has exited. Returns the number of frames.
 */
export async function extractFrames(video: string, outDir: string, fps: number | null, onFrame: (index: number, file: string, metrics: FrameMetrics) => Promise<void>): Promise<number> {
  // ffmpeg converts to one of these (full-range YUV) for its JPEG encoder anyway; doing it once before the
  // split serves both branches, and the metric branch then sees what a decoded JPEG holds (measureJpegs).
  const jpegFormats = 'format=yuvj420p|yuvj422p|yuvj444p';
  const graph = `[0:v]${fps ? `fps=${fps},` : ''}${jpegFormats},split=2[jpeg][grey];[grey]${METRIC_FILTER}[metrics]`;
  const ff = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-v',
      'error',
      '-i',
      video,
      '-filter_complex',
      graph,
      '-map',
      '[jpeg]',
      '-an',
      '-q:v',
      '2',
      '-start_number',
      '0',
      join(outDir, '%06d.jpg'),
      '-map',
      '[metrics]',
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Every metric frame and the exit wake the loop below (events counts them, so none is missed).
  const state: { exit: { code: number | null; error?: Error } | null; events: number; wake: (() => void) | null } = { exit: null, events: 0, wake: null };
  const signal = (): void => {
    state.events++;
    state.wake?.();
    state.wake = null;
  };
  const closed = new Promise<void>((resolve) => {
    ff.on('close', (code) => {
      state.exit ??= { code };
      signal();
      resolve();
    });
    ff.on('error', (e) => {
      state.exit ??= { code: null, error: e };
      signal();
      resolve();
    });
  });
  const metrics: FrameMetrics[] = [];
  const reader = new GreyFrameReader((_i, grey) => {
    metrics.push(metricsOf(grey));
    signal();
  });
  let err = '';
  ff.stdout.on('data', (c: Buffer) => reader.push(c));
  ff.stderr.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-2000);
  });
  const fail = (msg: string): never => {
    throw new SidewalkError('DATA_VIDEO_DECODE', `${video}: ${msg}`, { details: { file: video } });
  };
  try {
    // existsSync: one stat per frame while this thread mostly waits on ffmpeg; cheaper than a threadpool round trip.
    let i = 0;
    for (;;) {
      const seen = state.events;
      const exit = state.exit;
      if (exit) {
        if (exit.error) throw new SidewalkError('DATA_FFMPEG', `cannot run ffmpeg: ${exit.error.message}`);
        if (exit.code !== 0) fail(`ffmpeg exited ${exit.code}: ${err.trim()}`);
        if (i >= metrics.length) break;
        if (!existsSync(frameFile(outDir, i))) fail(`ffmpeg wrote ${i} JPEGs but ${metrics.length} metric frames`);
      } else if (i >= metrics.length || !existsSync(frameFile(outDir, i + 1))) {
        if (seen === state.events) await new Promise<void>((r) => (state.wake = r));
        continue;
      }
      await onFrame(i, frameFile(outDir, i), metrics[i]!);
      i++;
    }
    if (reader.partialBytes !== 0) fail(`the metric stream ended inside frame ${reader.frames} (byte ${reader.partialBytes} of it)`);
    if (existsSync(frameFile(outDir, i))) fail(`ffmpeg wrote more JPEGs than the ${i} metric frames`);
    return i;
  } finally {
    // A frame was refused: stop ffmpeg, and wait so it writes nothing into a folder being removed.
    if (!state.exit) ff.kill('SIGKILL');
    await closed;
  }
}

/** Extracts into a new temporary folder (recorded in `tmp` first, so cleanup() removes it whatever happens). */
async function extracted(
  video: string,
  fps: number | null,
  tmp: { dir: string | null },
  toFrame: (index: number, file: string, metrics: FrameMetrics) => IngestFrame,
  sink: FrameSink,
): Promise<IngestFrame[]> {
  tmp.dir = await mkdtemp(join(tmpdir(), 'sidewalk-frames-'));
  const frames: IngestFrame[] = [];
  await extractFrames(video, tmp.dir, fps, async (index, file, metrics) => {
    const f = toFrame(index, file, metrics);
    frames.push(f);
    await sink(f);
  });
  return frames;
}

async function rideSource(dir: string): Promise<IngestSource> {
  const ride = await readRide(dir);
  const { meta } = ride;
  const frameRecords = new Map<number, SensorRecord>();
  const samples: SensorRecord[] = [];
  for (const r of ride.records) {
    if (r.frame === undefined) samples.push(r);
    else frameRecords.set(r.frame, r);
  }
  samples.sort((a, b) => a.t_ms - b.t_ms);
  const sensorsFile = join(dir, SENSORS_FILE);
  let frameFiles: string[] = [];
  const tmp: { dir: string | null } = { dir: null };
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
    frames: (sink) => {
      const toFrame = (index: number, file: string, metrics: FrameMetrics | null): IngestFrame => {
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
          metrics,
        };
      };
      if (meta.frames.kind === 'video') return extracted(join(dir, meta.frames.file), null, tmp, toFrame, sink);
      return feed(
        frameFiles.map((file, index) => toFrame(index, file, null)),
        sink,
      );
    },
    get temporaryFrames() {
      return tmp.dir !== null;
    },
    cleanup: async () => {
      if (tmp.dir) await rm(tmp.dir, { recursive: true, force: true });
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
  const tmp: { dir: string | null } = { dir: null };
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
    frames: (sink) =>
      extracted(
        file,
        opts.fps,
        tmp,
        (index, f, metrics) => {
          const tMs = (index * 1000) / opts.fps;
          const s = sampleAt(samples, tMs);
          return {
            index,
            file: f,
            timeMs: tMs,
            lat: s?.lat ?? null,
            lon: s?.lon ?? null,
            altM: s?.altM ?? null,
            speedRaw: null,
            speedKph: s?.speedKph ?? null,
            riderInput: s?.label ?? null,
            scores: null,
            trueLabel: null,
            legacy: null,
            metrics,
          };
        },
        sink,
      ),
    get temporaryFrames() {
      return tmp.dir !== null;
    },
    cleanup: async () => {
      if (tmp.dir) await rm(tmp.dir, { recursive: true, force: true });
    },
  };
}

export async function openSource(path: string, kind: SourceKind, opts: { fps: number; sensorLog?: string; legacyLayout?: LegacyOutLayout }): Promise<IngestSource> {
  if (kind === 'legacy') return legacySource(path, opts.legacyLayout);
  if (kind === 'ride') return rideSource(path);
  return videoSource(path, opts);
}
