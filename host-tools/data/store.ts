/**
 * Content-addressed frame store: objects/<2 hex>/<sha256>.jpg beside the database. Files are copied
 * in (temp + rename) BEFORE the ride's transaction commits; files that no committed frame references
 * (a crash or a rolled-back ride) are orphans and are removed by `removeOrphans`. One writer at a time.
 */
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db.js';

export function objectPath(hash: string): string {
  return join(hash.slice(0, 2), `${hash}.jpg`);
}

export class FrameStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  abs(relPath: string): string {
    return join(this.root, relPath);
  }

  /** Copies `src` into the store under its hash; returns [relative path, whether it was new]. */
  async put(src: string, hash: string): Promise<[string, boolean]> {
    const rel = objectPath(hash);
    const dest = this.abs(rel);
    if (await stat(dest).then(() => true, () => false)) return [rel, false];
    await mkdir(join(this.root, hash.slice(0, 2)), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}`;
    await copyFile(src, tmp);
    await rename(tmp, dest);
    return [rel, true];
  }

  async remove(relPaths: Iterable<string>): Promise<void> {
    for (const rel of relPaths) await rm(this.abs(rel), { force: true });
  }

  /** Deletes files (and temp files) no frame references; returns how many. */
  async removeOrphans(db: Db): Promise<number> {
    const referenced = new Set((db.prepare('SELECT DISTINCT path FROM frames').all() as { path: string }[]).map((r) => r.path));
    let removed = 0;
    const dirs = await readdir(this.root).catch(() => [] as string[]);
    for (const d of dirs) {
      const files = await readdir(join(this.root, d)).catch(() => [] as string[]);
      for (const f of files) {
        const rel = join(d, f);
        if (!referenced.has(rel)) {
          await rm(this.abs(rel), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}
