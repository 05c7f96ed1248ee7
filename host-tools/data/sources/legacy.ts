/** A legacy run folder (raw_data.txt, out_data.txt, the JPEGs the legacy Pi wrote) as an ingest source. */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SidewalkError } from '../../../lib/errors.js';
import { readLegacyRun, type LegacyOutLayout } from '../../../runtime/recorder/legacy-run.js';
import { sha256 } from '../images.js';
import { feed, hashFiles, type IngestSource } from './source.js';

export async function legacySource(dir: string, layout?: LegacyOutLayout): Promise<IngestSource> {
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
