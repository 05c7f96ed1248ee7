/**
 * `sidewalk data watch DIR`: polls an upload folder, ingests each ride once its upload is complete,
 * and records a training trigger (and runs a command) when a location has gained enough new labelled
 * frames since its last training.
 * Complete means: the files' sizes and mtimes did not change over `stablePolls` consecutive scans, and
 * for new-format rides also ride.json says "complete" and every frame and sensor record it promises is
 * there. A ride whose ingest failed is not retried until its files change.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { readRideMetaIfPresent, SENSORS_FILE } from '../../runtime/recorder/ride-format.js';
import type { DataConfig } from './config.js';
import type { Db } from './db.js';
import { ingestOne, type IngestResult } from './ingest.js';
import { detectKind, type SourceKind } from './sources.js';
import type { FrameStore } from './store.js';

const log = createLogger('data:watch');

export interface WatchOptions {
  dir: string;
  db: Db;
  store: FrameStore;
  config: DataConfig;
  location?: string;
  fps?: number;
  pollMs?: number;
  /** Unchanged scans needed before a ride counts as uploaded (default 2). */
  stablePolls?: number;
  /** New labelled frames of a location since its last training that fire a trigger (0 = never). */
  triggerFrames?: number;
  /** Shell command run on a trigger, with SIDEWALK_LOCATION, SIDEWALK_TRIGGER_ID, SIDEWALK_DATA_DB set. */
  triggerCommand?: string;
  dbPath?: string;
}

export type WatchEvent =
  | { type: 'ingested' | 'skipped'; path: string; result: IngestResult }
  | { type: 'failed'; path: string; error: string }
  | { type: 'trigger'; location: string; triggerId: number; newFrames: number; exitCode: number | null };

async function signature(path: string, kind: SourceKind): Promise<string> {
  if (kind === 'video') {
    const s = await stat(path);
    return `${s.size}:${s.mtimeMs}`;
  }
  const parts: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const s = await stat(join(dir, name));
      if (s.isDirectory()) await walk(join(dir, name), `${prefix}${name}/`);
      else parts.push(`${prefix}${name}:${s.size}:${s.mtimeMs}`);
    }
  };
  await walk(path, '');
  return parts.join('|');
}

/** For new-format rides: does ride.json say complete, and is everything it promises present? */
async function rideLooksComplete(dir: string): Promise<boolean> {
  try {
    const meta = await readRideMetaIfPresent(dir);
    if (meta?.status !== 'complete') return false;
    if (meta.frames.kind === 'jpeg') {
      const n = (await readdir(join(dir, meta.frames.dir))).filter((f) => f.endsWith('.jpg')).length;
      if (n < meta.frames.count) return false;
    }
    if (meta.sensor_records !== undefined) {
      const text = await readFile(join(dir, SENSORS_FILE), 'utf8');
      if (text.split('\n').filter((l) => l.trim() !== '').length < meta.sensor_records || !text.endsWith('\n')) return false;
    }
    return true;
  } catch {
    return false; // mid-upload: unreadable or half-written ride.json
  }
}

export class RideWatcher {
  #opts: WatchOptions;
  #seen = new Map<string, { sig: string; polls: number }>();
  #done = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #scanning: Promise<void> | null = null;
  #listeners: ((e: WatchEvent) => void)[] = [];

  constructor(opts: WatchOptions) {
    this.#opts = opts;
  }

  onEvent(fn: (e: WatchEvent) => void): void {
    this.#listeners.push(fn);
  }

  #emit(e: WatchEvent): void {
    for (const fn of this.#listeners) fn(e);
  }

  start(): void {
    this.#running = true;
    let first = true;
    const loop = (): void => {
      // The first scan also removes store files left by an ingest that was interrupted before its commit.
      const sweep = first ? this.#opts.store.removeOrphans(this.#opts.db).then(() => undefined) : Promise.resolve();
      first = false;
      this.#scanning = sweep
        .then(() => this.scanOnce())
        .catch((err) => log.error(`scan failed: ${errorMessage(err)}`))
        .finally(() => {
          if (this.#running) this.#timer = setTimeout(loop, this.#opts.pollMs ?? 2000);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#scanning;
  }

  /** One pass over the upload folder. */
  async scanOnce(): Promise<void> {
    const names = (await readdir(this.#opts.dir).catch(() => [] as string[])).sort();
    for (const name of names) {
      const path = join(this.#opts.dir, name);
      const kind = await detectKind(path).catch(() => null);
      if (!kind) continue;
      const sig = await signature(path, kind).catch(() => null);
      if (sig === null || this.#done.get(path) === sig) continue;
      const prev = this.#seen.get(path);
      const polls = prev && prev.sig === sig ? prev.polls + 1 : 0;
      this.#seen.set(path, { sig, polls });
      if (polls < (this.#opts.stablePolls ?? 2)) continue;
      if (kind === 'ride' && !(await rideLooksComplete(path))) continue;
      this.#done.set(path, sig);
      this.#seen.delete(path);
      try {
        const result = await ingestOne(path, kind, {
          db: this.#opts.db,
          store: this.#opts.store,
          config: this.#opts.config,
          ...(this.#opts.location ? { location: this.#opts.location } : {}),
          ...(this.#opts.fps ? { fps: this.#opts.fps } : {}),
        });
        log.info(`${result.status} ${path}${result.status === 'added' ? ` (${result.frames} frames)` : ''}`);
        this.#emit({ type: result.status === 'added' ? 'ingested' : 'skipped', path, result });
        if (result.status === 'added') await this.#maybeTrigger(result.rideId!);
      } catch (err) {
        log.error(`failed ${path}: ${errorMessage(err)}`);
        this.#emit({ type: 'failed', path, error: errorMessage(err) });
      }
    }
  }

  async #maybeTrigger(rideId: number): Promise<void> {
    const threshold = this.#opts.triggerFrames ?? 0;
    if (threshold <= 0) return;
    const { db } = this.#opts;
    const loc = db.prepare('SELECT l.id, l.name, l.last_training_labelled AS last FROM locations l JOIN rides r ON r.location_id = l.id WHERE r.id = ?').get(rideId) as {
      id: number;
      name: string;
      last: number;
    };
    const labelled = (db.prepare('SELECT COUNT(*) AS n FROM frames f JOIN rides r ON r.id = f.ride_id WHERE r.location_id = ? AND f.label IS NOT NULL').get(loc.id) as { n: number }).n;
    const newFrames = labelled - loc.last;
    if (newFrames < threshold) return;
    const now = new Date().toISOString();
    const triggerId = db.transaction(() => {
      db.prepare('UPDATE locations SET last_training_labelled = ?, last_training_at = ? WHERE id = ?').run(labelled, now, loc.id);
      return Number(
        db
          .prepare('INSERT INTO triggers (location_id, created_at, labelled_frames, new_frames, command) VALUES (?, ?, ?, ?, ?)')
          .run(loc.id, now, labelled, newFrames, this.#opts.triggerCommand ?? null).lastInsertRowid,
      );
    })();
    log.info(`training trigger ${triggerId} for ${loc.name}: ${newFrames} new labelled frames`);
    let exitCode: number | null = null;
    if (this.#opts.triggerCommand) {
      exitCode = await new Promise<number | null>((resolve) => {
        const child = spawn(this.#opts.triggerCommand!, {
          shell: true,
          stdio: 'inherit',
          env: { ...process.env, SIDEWALK_LOCATION: loc.name, SIDEWALK_TRIGGER_ID: String(triggerId), ...(this.#opts.dbPath ? { SIDEWALK_DATA_DB: this.#opts.dbPath } : {}) },
        });
        child.on('error', () => resolve(-1));
        child.on('close', (code) => resolve(code));
      });
      db.prepare('UPDATE triggers SET exit_code = ?, finished_at = ? WHERE id = ?').run(exitCode, new Date().toISOString(), triggerId);
      if (exitCode !== 0) log.warn(`trigger command exited ${exitCode}`);
    }
    this.#emit({ type: 'trigger', location: loc.name, triggerId, newFrames, exitCode });
  }
}
