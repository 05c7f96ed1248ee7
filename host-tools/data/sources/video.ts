/**
 * Videos as ingest sources: frames extracted by ffmpeg (one decode for the JPEGs and the quality
 * metrics), each handed over as soon as its file is complete; an optional CSV/GPX sensor log gives
 * each frame its position, speed and rider label.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SidewalkError } from '../../../lib/errors.js';
import { frameFileName } from '../../../runtime/recorder/ride-format.js';
import { GreyFrameReader, METRIC_FILTER, metricsOf, sha256, type FrameMetrics } from '../images.js';
import { readSensorLog, sampleAt, type SensorSample } from '../sensor-log.js';
import type { FrameSink, IngestFrame, IngestSource } from './source.js';

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
export async function extracted(
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

export async function videoSource(file: string, opts: { fps: number; sensorLog?: string }): Promise<IngestSource> {
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
