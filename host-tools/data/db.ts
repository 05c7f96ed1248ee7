/**
 * The dataset database: one SQLite file (better-sqlite3, WAL) beside a content-addressed image store.
 * Schema changes are numbered migrations recorded in `migrations`; a database newer than this code is refused.
 * Quality problems are flags (frame_flags), never deletions; a frame's final label and its source are
 * kept apart from what the rider pressed and what a model said.
 */
import type Database from 'better-sqlite3';
import { dirname, join, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { openSqlite, tableNames } from '../../lib/sqlite.js';

export type Db = Database.Database;
export type Split = 'train' | 'val' | 'test';
export type LabelSource = 'rider' | 'agreed' | 'model' | 'review' | 'synthetic';

/** Numbered schema migrations, oldest first (exported so tests can build a database at an older version). */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE locations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        test_frozen_at TEXT,
        last_training_labelled INTEGER NOT NULL DEFAULT 0,
        last_training_at TEXT
      );
      CREATE TABLE rides (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        source_kind TEXT NOT NULL CHECK (source_kind IN ('ride', 'legacy', 'video')),
        source_path TEXT NOT NULL,
        ride_key TEXT,
        location_id INTEGER NOT NULL REFERENCES locations(id),
        device TEXT,
        model_name TEXT,
        model_version TEXT,
        labels_json TEXT,
        started_at TEXT,
        ended_at TEXT,
        frame_count INTEGER NOT NULL,
        synthetic INTEGER NOT NULL DEFAULT 0,
        split TEXT CHECK (split IN ('train', 'val', 'test')),
        ingested_at TEXT NOT NULL
      );
      CREATE INDEX rides_location ON rides(location_id);
      CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        ride_id INTEGER NOT NULL REFERENCES rides(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        time_ms REAL,
        lat REAL,
        lon REAL,
        alt_m REAL,
        speed_raw REAL,
        speed_kph REAL,
        rider_label TEXT,
        model_scores TEXT,
        model_version TEXT,
        label TEXT,
        label_source TEXT CHECK (label_source IN ('rider', 'agreed', 'model', 'review', 'synthetic')),
        review_state TEXT CHECK (review_state IN ('queued', 'done')),
        content_hash TEXT NOT NULL,
        path TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        luma_mean REAL,
        blur_var REAL,
        dhash TEXT,
        legacy_json TEXT,
        UNIQUE (ride_id, idx)
      );
      CREATE INDEX frames_hash ON frames(content_hash);
      CREATE INDEX frames_review ON frames(review_state);
      CREATE TABLE frame_flags (
        frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        flag TEXT NOT NULL,
        PRIMARY KEY (frame_id, flag)
      ) WITHOUT ROWID;
      CREATE TABLE triggers (
        id INTEGER PRIMARY KEY,
        location_id INTEGER NOT NULL REFERENCES locations(id),
        created_at TEXT NOT NULL,
        labelled_frames INTEGER NOT NULL,
        new_frames INTEGER NOT NULL,
        command TEXT,
        exit_code INTEGER,
        finished_at TEXT
      );
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      -- For ad-hoc queries: a frame with its ride's split, its location and its flags.
      CREATE VIEW frames_view AS
        SELECT f.*, r.split, l.name AS location, (SELECT group_concat(flag) FROM frame_flags ff WHERE ff.frame_id = f.id) AS flags
        FROM frames f JOIN rides r ON r.id = f.ride_id JOIN locations l ON l.id = r.location_id;
    `,
  },
  {
    version: 2,
    name: 'cross-ride duplicate flags name the frame they match',
    // ref_frame_id: for duplicate_of_other_ride, the earliest matching frame of an earlier ride. The partial
    // index serves the foreign-key check when a frame is deleted without costing the other flags anything.
    // Dropping the stored thresholds makes the next ingest re-flag every frame, adding cross-ride flags.
    sql: `
      ALTER TABLE frame_flags ADD COLUMN ref_frame_id INTEGER REFERENCES frames(id) ON DELETE CASCADE;
      CREATE INDEX frame_flags_ref ON frame_flags(ref_frame_id) WHERE ref_frame_id IS NOT NULL;
      DELETE FROM settings WHERE key = 'filters';
    `,
  },
];

/** Page cache per connection (KiB). */
const PAGE_CACHE_KIB = 64 * 1024;
/** WAL size (pages of 4 KiB) that triggers a checkpoint: ~64 MiB. */
const WAL_CHECKPOINT_PAGES = 16_000;

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Default database path: $SIDEWALK_DATA_DB or ./sidewalk-data/dataset.db. */
export function defaultDbPath(): string {
  return resolve(process.env.SIDEWALK_DATA_DB ?? join('sidewalk-data', 'dataset.db'));
}

/** The content-addressed image store that belongs to a database file. */
export function storeRootFor(dbPath: string): string {
  return join(dirname(resolve(dbPath)), 'objects');
}

/**
 * Opens (creating when absent) the dataset database and brings its schema up to date. `readOnly`
 * (stats, map): the file must exist and be current; nothing is created or migrated. `mustExist`: a
 * missing file is DATA_DB_MISSING (a command that only makes sense on an existing dataset).
 */
export function openDatabase(file: string, options: { readOnly?: boolean; mustExist?: boolean } = {}): Db {
  return openSqlite(file, {
    codes: { missing: 'DATA_DB_MISSING', open: 'DATA_DB_OPEN', notDatabase: 'DATA_DB_NOT_DATABASE' },
    what: 'dataset database',
    missingHint: 'pass --db, set SIDEWALK_DATA_DB, or create one with `sidewalk data ingest`',
    ...(options.readOnly ? { readOnly: true } : {}),
    ...(options.mustExist ? { mustExist: true } : {}),
    setup: (db) => {
      const tables = tableNames(db);
      if (tables.size > 0 && !tables.has('migrations')) {
        throw new SidewalkError('DATA_DB_NOT_DATABASE', `${file}: an SQLite file, but not a dataset database (no migrations table); nothing was changed`);
      }
      if (options.readOnly) {
        if (tables.size === 0) throw new SidewalkError('DATA_DB_NOT_DATABASE', `${file}: an empty SQLite file, not a dataset database`);
        checkCurrent(db, file, tables);
        return;
      }
      db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit survives an application crash; a power cut can lose the transactions since the
      // last checkpoint but never corrupts the file. Acceptable here: ingest keeps its inputs and is idempotent
      // by content hash (a lost ride is re-ingested, its store objects swept as orphans first).
      db.pragma('synchronous = NORMAL');
      // frames_hash (random sha256 keys, the orphan sweep's lookup) puts each inserted frame on a random index
      // page, so a ride's transaction dirties ~one index page per frame once the index is large: this is why
      // rows/s fall as the table grows. A bigger page cache stops those pages being re-read (at 1M rows, 1.7 GB
      // -> 0.5 GB read per 100k rows), and checkpointing every few rides instead of after each one (a ride
      // dirties more than the default 1000 pages) copies a page dirtied by several rides back once.
      db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
      db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db, file);
    },
  });
}

function schemaVersion(db: Db): number {
  return (db.prepare('SELECT MAX(version) AS v FROM migrations').get() as { v: number | null }).v ?? 0;
}

/** A read-only command reads only a database at this tool's schema version (it may not migrate one). */
function checkCurrent(db: Db, file: string, tables: Set<string>): void {
  const version = tables.has('migrations') ? schemaVersion(db) : 0;
  if (version > SCHEMA_VERSION) throw new SidewalkError('DATA_DB_TOO_NEW', `${file}: schema version ${version} is newer than this tool's ${SCHEMA_VERSION}`);
  if (version < SCHEMA_VERSION) {
    throw new SidewalkError('DATA_DB_OUTDATED', `${file}: schema version ${version}, this tool reads ${SCHEMA_VERSION}; a writing command (e.g. \`sidewalk data filter\`) upgrades it`);
  }
  db.pragma('busy_timeout = 5000');
}

function migrate(db: Db, file: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new SidewalkError('DATA_DB_TOO_NEW', `${file}: schema version ${current} is newer than this tool's ${SCHEMA_VERSION}`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
  }
}

export function locationId(db: Db, name: string): number {
  db.prepare('INSERT OR IGNORE INTO locations (name) VALUES (?)').run(name);
  return (db.prepare('SELECT id FROM locations WHERE name = ?').get(name) as { id: number }).id;
}

export function getSetting<T>(db: Db, key: string): T | undefined {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : undefined;
}

export function setSetting(db: Db, key: string, value: unknown): void {
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify(value));
}
