/** What the `sidewalk data` subcommands share: the --db/--config options, opening the database, option parsers. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';
import { defaultDbPath, openDatabase, storeRootFor, type Db } from './db.js';
import { FrameStore } from './store.js';

export interface CommonOpts {
  db?: string;
  config?: string;
}

/** `readOnly`: commands that only read (stats, map) never create or change a database. */
export async function withDb<T>(opts: CommonOpts, fn: (db: Db, store: FrameStore) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const file = opts.db ?? defaultDbPath();
  const created = !existsSync(file) && !options.readOnly;
  const db = openDatabase(file, options);
  try {
    return await fn(db, new FrameStore(storeRootFor(file)));
  } catch (err) {
    // A database this very command created and failed before storing anything is removed: a failure leaves nothing behind.
    const empty = created && (db.prepare('SELECT COUNT(*) AS n FROM rides').get() as { n: number }).n === 0;
    db.close();
    if (empty) await removeNewDatabase(file);
    throw err;
  } finally {
    if (db.open) db.close();
  }
}

async function removeNewDatabase(file: string): Promise<void> {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) await rm(f, { force: true });
  await rmdir(storeRootFor(file)).catch(() => {}); // only when empty: objects are never thrown away
}

export function common(cmd: Command): Command {
  return cmd
    .option('--db <file>', 'dataset database (default $SIDEWALK_DATA_DB or ./sidewalk-data/dataset.db); images are stored in objects/ beside it')
    .option('--config <file>', 'data settings (YAML/JSON): filters thresholds, labelling.riderMap, labelling.modelThreshold');
}

export const positive =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!(n > 0)) throw new SidewalkError('DATA_BAD_OPTION', `${name} must be a positive number, got "${v}"`);
    return n;
  };

export const wholeNumber =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new SidewalkError('DATA_BAD_OPTION', `${name} must be a whole number >= 0, got "${v}"`);
    return n;
  };

/** Resolves on SIGINT/SIGTERM (long-running commands stop cleanly). */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
