/**
 * Database half of the data benchmark: synthetic frame rows pushed through the dataset DB exactly as
 * `ingestOne` (host-tools/data/ingest.ts) writes them: openDatabase (WAL, foreign keys, migrations),
 * flagRide + decideLabel per frame, then ONE transaction per ride with the same three INSERT
 * statements. The statements are repeated here because ingest.ts keeps them inside ingestOne; if they
 * change there, change them here.
 */
import { createPrng } from '../lib/prng.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DEFAULT_DATA_CONFIG } from '../host-tools/data/config.js';
import { locationId, type Db } from '../host-tools/data/db.js';
import { flagRide } from '../host-tools/data/filters.js';
import { decideLabel, scoresByClass } from '../host-tools/data/labels.js';
import { objectPath } from '../host-tools/data/store.js';
import { INSERT_FLAG_SQL, INSERT_FRAME_SQL, INSERT_RIDE_SQL } from '../host-tools/data/ingest.js';

export interface RowsRun {
  rows: number;
  seconds: number;
  /** Rows -> peak RSS (bytes) seen up to that row count, and rows/s of the segment ending there. */
  checkpoints: { rows: number; peakRssBytes: number; segmentRowsPerS: number }[];
  hwmBytes: number;
  /** Seconds inside the ride transactions (SQLite + labelling), the rest is making the synthetic rows. */
  transactionSeconds: number;
  /** /proc/self/status RssAnon / RssFile / RssShmem at the end, bytes. */
  rssParts: Record<string, number>;
}

/** Kernel's high-water mark of this process's RSS (VmHWM), bytes. */
export function vmHwmBytes(): number {
  return procStatus().VmHWM ?? 0;
}

/** The kB fields of /proc/self/status, in bytes. */
export function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]) * 1024;
  return out;
}

/** Small deterministic PRNG so runs are comparable. */
const mulberry32 = createPrng;

export function insertSyntheticRows(db: Db, totalRows: number, framesPerRide: number, checkpointRows: number[]): RowsRun {
  const config = DEFAULT_DATA_CONFIG;
  const rand = mulberry32(1);
  const known = db.prepare('SELECT id, frame_count FROM rides WHERE content_hash = ?');
  const insertRide = db.prepare(INSERT_RIDE_SQL);
  const insertFrame = db.prepare(INSERT_FRAME_SQL);
  const insertFlag = db.prepare(INSERT_FLAG_SQL);
  const labels = config.labels;
  const model = { name: 'bench-model', version: '1.0.0' };
  const checkpoints: RowsRun['checkpoints'] = [];
  const pending = [...checkpointRows].sort((a, b) => a - b);
  let peakRss = process.memoryUsage.rss();
  let done = 0;
  let rideNo = 0;
  const t0 = performance.now();
  let segStartRows = 0;
  let segStartMs = t0;
  let txMs = 0;

  while (done < totalRows) {
    const n = Math.min(framesPerRide, totalRows - done);
    const rideHash = createHash('sha256').update(`bench-ride-${rideNo}`).digest('hex');
    // What a ride source hands ingest: per-frame sensor fields, rider input, model scores, metrics.
    const frames = Array.from({ length: n }, (_, i) => {
      const p = [rand(), rand(), rand(), rand()];
      const s = p[0]! + p[1]! + p[2]! + p[3]!;
      return {
        index: i,
        timeMs: (i * 1000) / 15,
        lat: 39.7 + rand() * 0.01,
        lon: -105 + rand() * 0.01,
        altM: 1600 + rand() * 10,
        speedKph: rand() * 25,
        riderInput: rand() < 0.3 ? labels[Math.floor(rand() * labels.length)]! : null,
        scores: p.map((v) => v / s),
        hash: createHash('sha256').update(`${rideNo}/${i}`).digest('hex'),
        metrics: {
          lumaMean: 30 + rand() * 150,
          blurVar: rand() * 400,
          dhash:
            Math.floor(rand() * 2 ** 32)
              .toString(16)
              .padStart(8, '0') +
            Math.floor(rand() * 2 ** 32)
              .toString(16)
              .padStart(8, '0'),
        },
      };
    });
    const flags = flagRide(
      'ride',
      frames.map((f) => ({ speedRaw: null, speedKph: f.speedKph, ...f.metrics })),
      config.filters,
    );
    const tx0 = performance.now();
    db.transaction((): number => {
      if (known.get(rideHash)) throw new Error(`ride ${rideNo} already present`);
      const rideId = Number(
        insertRide.run(
          rideHash,
          'ride',
          `/bench/ride-${rideNo}`,
          `bench-${rideNo}`,
          locationId(db, 'bench'),
          'bench-device',
          model.name,
          model.version,
          JSON.stringify(labels),
          new Date(0).toISOString(),
          null,
          n,
          0,
          new Date().toISOString(),
        ).lastInsertRowid,
      );
      frames.forEach((f, i) => {
        const scores = scoresByClass(f.scores, labels);
        const d = decideLabel({ riderInput: f.riderInput, scores, trueLabel: null }, config);
        const m = f.metrics;
        const frameId = Number(
          insertFrame.run(
            rideId,
            f.index,
            f.timeMs,
            f.lat,
            f.lon,
            f.altM,
            null,
            f.speedKph,
            d.riderLabel,
            JSON.stringify(scores),
            `${model.name}@${model.version}`,
            d.label,
            d.source,
            d.reviewState,
            f.hash,
            objectPath(f.hash),
            640,
            480,
            m.lumaMean,
            m.blurVar,
            m.dhash,
            null,
          ).lastInsertRowid,
        );
        for (const fl of flags[i]!) insertFlag.run(frameId, fl);
      });
      return rideId;
    })();
    txMs += performance.now() - tx0;
    done += n;
    rideNo++;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    while (pending.length > 0 && done >= pending[0]!) {
      const now = performance.now();
      checkpoints.push({ rows: pending.shift()!, peakRssBytes: peakRss, segmentRowsPerS: ((done - segStartRows) * 1000) / (now - segStartMs) });
      segStartRows = done;
      segStartMs = now;
    }
  }
  const st = procStatus();
  return {
    rows: done,
    seconds: (performance.now() - t0) / 1000,
    checkpoints,
    hwmBytes: st.VmHWM ?? 0,
    transactionSeconds: txMs / 1000,
    rssParts: { anon: st.RssAnon ?? 0, file: st.RssFile ?? 0, shmem: st.RssShmem ?? 0 },
  };
}
