/** Test workspace for the data pipeline: a temp folder with a dataset DB and its store. */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_DATA_CONFIG, type DataConfig } from '../../../host-tools/data/config.js';
import { openDatabase, storeRootFor, type Db } from '../../../host-tools/data/db.js';
import { FrameStore } from '../../../host-tools/data/store.js';
import { makeTempDir } from '../../helpers/temp.js';

export interface Workspace {
  dir: string;
  dbPath: string;
  db: Db;
  store: FrameStore;
  config: DataConfig;
  close(): Promise<void>;
}

export async function workspace(): Promise<Workspace> {
  const dir = await makeTempDir('sidewalk-data-');
  const dbPath = join(dir, 'db', 'dataset.db');
  const db = openDatabase(dbPath);
  return {
    dir,
    dbPath,
    db,
    store: new FrameStore(storeRootFor(dbPath)),
    config: structuredClone(DEFAULT_DATA_CONFIG),
    close: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Counts that must not change when a bad ride is refused. */
export async function snapshot(ws: Workspace): Promise<{ rides: number; frames: number; flags: number; objects: number }> {
  const count = (sql: string): number => (ws.db.prepare(sql).get() as { n: number }).n;
  let objects = 0;
  for (const d of await readdir(ws.store.root).catch(() => [] as string[])) objects += (await readdir(join(ws.store.root, d))).length;
  return { rides: count('SELECT COUNT(*) AS n FROM rides'), frames: count('SELECT COUNT(*) AS n FROM frames'), flags: count('SELECT COUNT(*) AS n FROM frame_flags'), objects };
}
