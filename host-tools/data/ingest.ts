/**
 * Ingest: rides, legacy runs and videos into the dataset database. Per ride: content hash (a known
 * ride is skipped: idempotent and resumable); then per frame, as soon as its JPEG is complete (for a
 * video while ffmpeg still extracts the rest): JPEG check naming the bad file, sha256, copy (or move)
 * into the content-addressed store; quality metrics come from the video extraction's own decode, or from
 * one ffmpeg over the ride's JPEG files; then ONE transaction for the ride, its frames, flags and labels.
 * If anything fails, the transaction rolls back and the objects this ride added are removed, so a bad
 * ride never half-lands.
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SidewalkError, errorMessage } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { DataConfig } from './config.js';
import { getSetting, locationId, type Db } from './db.js';
import { flagRide, reflagAll } from './filters.js';
import { checkJpeg, measureJpegs, sha256 } from './images.js';
import { decideLabel, scoresByClass } from './labels.js';
import { findCrossRideDuplicates, INSERT_CROSS_RIDE_FLAG_SQL } from './near-duplicates.js';
import { Progress } from './progress.js';
import { expandInputs, openSource, type SourceKind } from './sources.js';
import type { LegacyOutLayout } from '../../runtime/recorder/legacy-run.js';
import type { FrameStore } from './store.js';

/** The statements a ride lands with (shared with bench:data so it measures this exact path). */
export const INSERT_RIDE_SQL = `INSERT INTO rides (content_hash, source_kind, source_path, ride_key, location_id, device, model_name, model_version,
  labels_json, started_at, ended_at, frame_count, synthetic, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
export const INSERT_FRAME_SQL = `INSERT INTO frames (ride_id, idx, time_ms, lat, lon, alt_m, speed_raw, speed_kph, rider_label, model_scores,
  model_version, label, label_source, review_state, content_hash, path, width, height, luma_mean, blur_var, dhash, legacy_json)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
export const INSERT_FLAG_SQL = 'INSERT INTO frame_flags (frame_id, flag) VALUES (?, ?)';

const log = createLogger('data:ingest');

export interface IngestOptions {
  db: Db;
  store: FrameStore;
  config: DataConfig;
  /** Location for rides that do not name one (legacy runs, videos); overrides ride.json when set. */
  location?: string;
  /** Frame rate for extracting video frames (default 5). */
  fps?: number;
  /** Sensor log (CSV or GPX) for a plain video; default: <video>.csv / <video>.gpx beside it. */
  sensorLog?: string;
  /** Show a progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Layout of legacy out_data.txt files that fit both scooter.py layouts (default: refuse them). */
  legacyLayout?: LegacyOutLayout;
}

export interface IngestResult {
  path: string;
  kind: SourceKind;
  status: 'added' | 'skipped' | 'failed';
  rideId?: number;
  frames: number;
  error?: SidewalkError | Error;
}

async function siblingLog(video: string): Promise<string | undefined> {
  const base = video.replace(/\.[^.]+$/, '');
  for (const ext of ['.csv', '.gpx']) {
    if (
      await stat(base + ext).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return base + ext;
  }
  return undefined;
}

export async function ingestOne(path: string, kind: SourceKind, opts: IngestOptions): Promise<IngestResult> {
  const { db, store, config } = opts;
  const sensorLog = kind === 'video' ? (opts.sensorLog ?? (await siblingLog(path))) : undefined;
  const src = await openSource(path, kind, { fps: opts.fps ?? 5, ...(sensorLog ? { sensorLog } : {}), ...(opts.legacyLayout ? { legacyLayout: opts.legacyLayout } : {}) });
  const known = db.prepare('SELECT id, frame_count FROM rides WHERE content_hash = ?');
  const existing = known.get(src.contentHash) as { id: number; frame_count: number } | undefined;
  if (existing) return { path, kind, status: 'skipped', rideId: existing.id, frames: 0 };
  // --location only fills in for inputs that do not name one (legacy runs, videos): a ride's own wins.
  const location = src.location ?? opts.location;
  if (src.location && opts.location && src.location !== opts.location)
    log.info(`${path}: location ${src.location} from the ride itself (--location ${opts.location} applies to inputs that name none)`);
  if (!location) throw new SidewalkError('DATA_LOCATION_REQUIRED', `${path}: a ${kind} input does not name its location; pass --location`);
  const added: string[] = [];
  try {
    const hashes: string[] = [];
    const sizes: { width: number; height: number }[] = [];
    const paths: string[] = [];
    const frames = await src.frames(async (f) => {
      const bytes = readFileSync(f.file); // sync: a small local file; a threadpool round trip costs more than the read
      sizes.push(checkJpeg(bytes, f.file));
      const hash = sha256(bytes);
      hashes.push(hash);
      const [rel, isNew] = await store.put(f.file, hash, { move: src.temporaryFrames });
      if (isNew) added.push(rel);
      paths.push(rel);
    });
    if (frames.length === 0) throw new SidewalkError('DATA_RIDE_EMPTY', `${path}: no frames`);
    // JPEGs that came without metrics (rides, legacy runs) are decoded by one ffmpeg for the ride.
    const measured = await measureJpegs(frames.filter((f) => f.metrics === null).map((f) => f.file));
    let next = 0;
    const metrics = frames.map((f) => f.metrics ?? measured[next++]!);
    const flags = flagRide(
      kind,
      frames.map((f, i) => ({ speedRaw: f.speedRaw, speedKph: f.speedKph, ...metrics[i]! })),
      config.filters,
    );
    // Read before the write transaction: at a million frames the lookup takes seconds.
    const duplicateOf = findCrossRideDuplicates(
      db,
      location,
      metrics.map((m) => m.dhash),
      config.filters.duplicateMaxDistance,
    );
    const insertRide = db.prepare(INSERT_RIDE_SQL);
    const insertFrame = db.prepare(INSERT_FRAME_SQL);
    const insertFlag = db.prepare(INSERT_FLAG_SQL);
    const insertDuplicateFlag = db.prepare(INSERT_CROSS_RIDE_FLAG_SQL);
    const rideId = db.transaction((): number => {
      if (known.get(src.contentHash)) throw new SidewalkError('DATA_RIDE_RACE', `${path}: ingested concurrently`);
      const rideId = Number(
        insertRide.run(
          src.contentHash,
          kind,
          path,
          src.rideKey,
          locationId(db, location),
          src.device,
          src.model?.name ?? null,
          src.model?.version ?? null,
          src.labels ? JSON.stringify(src.labels) : null,
          src.startedAt,
          src.endedAt,
          frames.length,
          src.synthetic ? 1 : 0,
          new Date().toISOString(),
        ).lastInsertRowid,
      );
      frames.forEach((f, i) => {
        const scores = f.scores ? scoresByClass(f.scores, src.labels ?? config.labels) : null;
        const d = decideLabel({ riderInput: f.riderInput, scores, trueLabel: f.trueLabel, sampleKey: hashes[i] }, config);
        const m = metrics[i]!;
        const frameId = Number(
          insertFrame.run(
            rideId,
            f.index,
            f.timeMs,
            f.lat,
            f.lon,
            f.altM,
            f.speedRaw,
            f.speedKph,
            d.riderLabel,
            scores ? JSON.stringify(scores) : null,
            scores && src.model ? `${src.model.name}@${src.model.version}` : null,
            d.label,
            d.source,
            d.reviewState,
            hashes[i],
            paths[i],
            sizes[i]!.width,
            sizes[i]!.height,
            m.lumaMean,
            m.blurVar,
            m.dhash,
            f.legacy ? JSON.stringify(f.legacy) : null,
          ).lastInsertRowid,
        );
        for (const fl of flags[i]!) insertFlag.run(frameId, fl);
        if (duplicateOf[i] != null) insertDuplicateFlag.run(frameId, duplicateOf[i]);
      });
      return rideId;
    })();
    return { path, kind, status: 'added', rideId, frames: frames.length };
  } catch (err) {
    await store.remove(added);
    throw err;
  } finally {
    await src.cleanup();
  }
}

/**
 * Ingests every input (a ride/run/video, or a folder of them). Orphaned store files from an earlier
 * interrupted run are removed first. A failed ride is reported and the others continue.
 */
export async function ingestPaths(paths: string[], opts: IngestOptions): Promise<IngestResult[]> {
  const orphans = await opts.store.removeOrphans(opts.db);
  if (orphans > 0) log.info(`removed ${orphans} orphaned store files from an interrupted ingest`);
  const inputs = await expandInputs(paths);
  const bar = new Progress('ingest', inputs.length, opts.progress);
  const results: IngestResult[] = [];
  for (const input of inputs) {
    try {
      const r = await ingestOne(input.path, input.kind, opts);
      results.push(r);
      log.info(`${r.status} ${input.kind} ${input.path}${r.status === 'added' ? ` (${r.frames} frames)` : ''}`);
    } catch (err) {
      results.push({ path: input.path, kind: input.kind, status: 'failed', frames: 0, error: err as Error });
      log.error(`failed ${input.path}: ${errorMessage(err)}`);
    }
    bar.tick(1, input.path);
  }
  bar.done();
  // Flags of earlier rides follow the thresholds in use now, so the whole database stays consistent.
  const stored = getSetting<DataConfig['filters']>(opts.db, 'filters');
  if (JSON.stringify(stored) !== JSON.stringify(opts.config.filters)) {
    if (stored) log.info('filter thresholds changed: re-flagging every frame');
    reflagAll(opts.db, opts.config.filters);
  }
  return results;
}
