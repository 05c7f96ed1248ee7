/**
 * The one atomic file replace: write a temp file in the same folder, fsync it, rename it over the
 * target, fsync the folder. After a power cut the target holds the old or the new content, never a
 * mix, and once this returns the new content survives one (a rename is durable only after its folder
 * is fsynced on ext4 and FAT alike). The filesystem calls go through `AtomicWriteFs` so the OTA
 * power-cut tests can inject theirs (ota/fs.ts's OtaFs is one).
 */
import { constants, promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteFs {
  open(path: string, flags: 'w'): Promise<{ write(data: Uint8Array, position?: number): Promise<void>; sync(): Promise<void>; close(): Promise<void> }>;
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a folder, so its renamed entries survive a power cut. */
  syncDir(path: string): Promise<void>;
}

/** fsync of a folder (open O_DIRECTORY, fsync, close). */
export async function syncDir(path: string): Promise<void> {
  const handle = await fsp.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** node:fs/promises behind AtomicWriteFs. */
export const nodeAtomicWriteFs: AtomicWriteFs = {
  async open(path, flags) {
    const handle = await fsp.open(path, flags);
    return {
      // A fresh 'w' handle writes from 0, the only position writeFileAtomic asks for.
      write: (data) => handle.writeFile(data),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  chmod: (path, mode) => fsp.chmod(path, mode),
  unlink: (path) => fsp.unlink(path),
  syncDir,
};

export interface AtomicWriteOptions {
  fs?: AtomicWriteFs;
  /** Permission bits of the new file (set before the rename; not subject to the umask). */
  mode?: number;
  /**
   * The temp file. Default `<name>.tmp-<pid>-<n>`, unique per call, removed when the write fails.
   * A fixed name (the OTA's `<name>.tmp`) suits a single writer that a power cut may stop: the next
   * write truncates the leftover instead of leaving one per boot.
   */
  tmpPath?: string;
}

let tmpCounter = 0;

/** Replaces `path` with `data` atomically and durably (see the file comment). */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeAtomicWriteFs;
  const tmp = options.tmpPath ?? join(dirname(path), `${basename(path)}.tmp-${process.pid}-${tmpCounter++}`);
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.write(typeof data === 'string' ? Buffer.from(data) : data, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.mode !== undefined) await fs.chmod(tmp, options.mode);
    await fs.rename(tmp, path);
  } catch (err) {
    // A unique temp name would never be reused, so it must not be left behind.
    if (options.tmpPath === undefined) await fs.unlink(tmp).catch(() => {});
    throw err;
  }
  await fs.syncDir(dirname(path));
}
