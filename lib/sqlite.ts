/**
 * Opening the project's SQLite files (dataset database, model registry) in one place, so every way
 * it can fail ends as a coded error naming the file: missing, a folder, not a database, unreadable.
 * A read-only open never creates the file or its folder and never changes the schema.
 */
import Database from 'better-sqlite3';
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ErrorCode, SidewalkError, isSidewalkError } from './errors.js';

export interface OpenSqliteOptions {
  /** The caller's codes for: no file, cannot open (folder, permissions, ...), not an SQLite database. */
  codes: { missing: ErrorCode; open: ErrorCode; notDatabase: ErrorCode };
  /** What the file is, for messages ("dataset database"). */
  what: string;
  /** Open read-only; the file must exist. */
  readOnly?: boolean;
  /** Refuse a missing file (instead of creating it) even when writing. */
  mustExist?: boolean;
  /** Hint appended to the "missing" message (how to create one, or which option names it). */
  missingHint?: string;
  /** Pragmas, migrations or schema checks; SQLite errors from here are reported like open errors. */
  setup?: (db: Database.Database) => void;
}

export function openSqlite(file: string, o: OpenSqliteOptions): Database.Database {
  const path = resolve(file);
  let st: Stats | undefined;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    // ENOTDIR (a file where a folder should be), EACCES, ...
    throw new SidewalkError(o.codes.open, `${file}: cannot open the ${o.what} (${(err as Error).message})`, { cause: err });
  }
  if (!st && (o.readOnly || o.mustExist)) {
    throw new SidewalkError(o.codes.missing, `${file}: no ${o.what} here${o.missingHint ? `; ${o.missingHint}` : ''}`);
  }
  if (st && !st.isFile()) throw new SidewalkError(o.codes.open, `${file}: is not a file, so it cannot be a ${o.what}`);
  if (!st) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw new SidewalkError(o.codes.open, `${file}: cannot create its folder for the ${o.what} (${(err as Error).message})`, { cause: err });
    }
  }
  let db: Database.Database | null = null;
  try {
    db = new Database(path, o.readOnly ? { readonly: true, fileMustExist: true } : {});
    o.setup?.(db);
    return db;
  } catch (err) {
    db?.close();
    if (isSidewalkError(err)) throw err;
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new SidewalkError(o.codes.notDatabase, `${file}: not a ${o.what} (${(err as Error).message})`, { cause: err });
    }
    throw new SidewalkError(o.codes.open, `${file}: cannot open the ${o.what} (${(err as Error).message})`, { cause: err });
  }
}

/** The names of the tables in `db` (to tell a foreign SQLite file from ours before touching it). */
export function tableNames(db: Database.Database): Set<string> {
  return new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
}
