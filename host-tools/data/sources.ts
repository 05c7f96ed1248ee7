/**
 * Turns the three kinds of input into one shape for ingest: new-format rides (ride.json), legacy run
 * folders (raw_data.txt) and plain videos (+ optional CSV/GPX sensor log, frames extracted by ffmpeg).
 * Every source yields a content hash of its input bytes first, so a known ride is skipped before any
 * decoding, and then its frames, handed over one by one as each JPEG is complete (for a video: while
 * ffmpeg is still extracting the later ones).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import type { LegacyOutLayout } from '../../runtime/recorder/legacy-run.js';
import { RIDE_META_FILE } from '../../runtime/recorder/ride-format.js';
import { legacySource } from './sources/legacy.js';
import { rideSource } from './sources/ride.js';
import { isFile, type IngestSource, type SourceKind } from './sources/source.js';
import { videoSource } from './sources/video.js';

export type { SourceKind } from './sources/source.js';

const VIDEO_RE = /\.(mp4|mkv|mov|avi|h264|webm)$/i;

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

export async function openSource(path: string, kind: SourceKind, opts: { fps: number; sensorLog?: string; legacyLayout?: LegacyOutLayout }): Promise<IngestSource> {
  if (kind === 'legacy') return legacySource(path, opts.legacyLayout);
  if (kind === 'ride') return rideSource(path);
  return videoSource(path, opts);
}
