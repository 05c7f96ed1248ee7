/** What every kind of ingest input becomes (host-tools/data/sources.ts opens them), and helpers they share. */
import { readFile, stat } from 'node:fs/promises';
import { sha256, type FrameMetrics } from '../images.js';

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

export type SourceKind = IngestSource['kind'];

export const isFile = (p: string): Promise<boolean> =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

export async function hashFiles(files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) out.push(sha256(await readFile(f)));
  return out;
}

export const nul = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

export async function feed(frames: IngestFrame[], sink: FrameSink): Promise<IngestFrame[]> {
  for (const f of frames) await sink(f);
  return frames;
}
