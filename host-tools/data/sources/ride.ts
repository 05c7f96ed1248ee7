/** A new-format ride folder (ride.json, sensors.jsonl, JPEG frames or one video) as an ingest source. */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../../lib/errors.js';
import { frameFileName, readRide, RIDE_META_FILE, SENSORS_FILE, type SensorRecord } from '../../../runtime/recorder/ride-format.js';
import { sha256, type FrameMetrics } from '../images.js';
import { feed, hashFiles, isFile, nul, type IngestFrame, type IngestSource } from './source.js';
import { extracted } from './video.js';

export async function rideSource(dir: string): Promise<IngestSource> {
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
