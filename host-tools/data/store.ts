/**
 * Content-addressed frame store: objects/<2 hex>/<sha256>.jpg beside the database. Files are copied
 * in (temp + rename) BEFORE the ride's transaction commits; files that no committed frame references
 * (a crash or a rolled-back ride) are orphans and are removed by `removeOrphans`. One writer at a time.
 */
import { existsSync, renameSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
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

  /** Shard folders known to exist, so a ride's thousands of puts do not each mkdir. */
  #shards = new Set<string>();

  /**
   * Copies `src` into the store under its hash (or moves it, for temporary files); returns
   * [relative path, whether it was new].
   */
  async put(src: string, hash: string, options: { move?: boolean } = {}): Promise<[string, boolean]> {
    const rel = objectPath(hash);
    const dest = this.abs(rel);
    if (existsSync(dest)) return [rel, false];
    const shard = join(this.root, hash.slice(0, 2));
    if (!this.#shards.has(shard)) {
      await mkdir(shard, { recursive: true });
      this.#shards.add(shard);
    }
    // A rename is atomic, so a moved file can go straight to its name (on the same filesystem: extracted
    // video frames); a copy goes through a temp file so no half-written object ever has a hash's name.
    if (options.move) {
      try {
        renameSync(src, dest); // sync: one metadata call; a threadpool round trip per frame costs more
        return [rel, true];
      } catch {
        // another filesystem: copy below
      }
    }
    const tmp = `${dest}.tmp-${process.pid}`;
    await copyFile(src, tmp);
    await rename(tmp, dest);
    return [rel, true];
  }

  async remove(relPaths: Iterable<string>): Promise<void> {
    for (const rel of relPaths) await rm(this.abs(rel), { force: true });
  }

  /**
   * Deletes files (and temp files) no frame references; returns how many. Each stored name is looked
   * up by its hash through the frames_hash index, so memory stays flat however large the database.
   */
  async removeOrphans(db: Db): Promise<number> {
    const referenced = db.prepare('SELECT 1 FROM frames WHERE content_hash = ? LIMIT 1');
    let removed = 0;
    const dirs = await readdir(this.root).catch(() => [] as string[]);
    for (const d of dirs) {
      const files = await readdir(join(this.root, d)).catch(() => [] as string[]);
      for (const f of files) {
        const hash = /^([0-9a-f]{64})\.jpg$/.exec(f)?.[1];
        if (hash?.startsWith(d) && referenced.get(hash) !== undefined) continue;
        await rm(this.abs(join(d, f)), { force: true });
        removed++;
      }
    }
    return removed;
  }
}
