/**
 * The narrow filesystem surface the updater writes through. Every mutation the updater makes to the
 * data partition, the selector partition or a slot goes through an OtaFs, so power-cut tests can wrap
 * it (test/ota/crash-fs.ts) and stop the world after any single operation.
 */
import { promises as fsp } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { syncDir, writeFileAtomic } from '../lib/atomic-write.js';

export interface OtaFileHandle {
  /** Writes all of `data` at `position` (or at the end for append handles). */
  write(data: Uint8Array, position?: number): Promise<void>;
  read(buffer: Buffer, position: number): Promise<number>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface OtaStat {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

export interface OtaFs {
  /** 'r' read, 'w' create/truncate, 'a' create/append, 'r+' overwrite in place (block devices, partition files). */
  open(path: string, flags: 'r' | 'w' | 'a' | 'r+'): Promise<OtaFileHandle>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  /** Sets a file's permission bits (not subject to the umask). */
  chmod(path: string, mode: number): Promise<void>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  /** lstat; null when the path does not exist. */
  stat(path: string): Promise<OtaStat | null>;
  /** fsync of a directory, so created/renamed/removed entries survive a power cut. */
  syncDir(path: string): Promise<void>;
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** node:fs/promises, unwrapped. */
export const nodeFs: OtaFs = {
  async open(path, flags) {
    const handle = await fsp.open(path, flags);
    return {
      async write(data, position) {
        let offset = 0;
        while (offset < data.length) {
          const pos = position === undefined ? null : position + offset;
          const { bytesWritten } = await handle.write(data, offset, data.length - offset, pos);
          offset += bytesWritten;
        }
      },
      async read(buffer, position) {
        return (await handle.read(buffer, 0, buffer.length, position)).bytesRead;
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
  readFile: (path) => fsp.readFile(path),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  rm: (path) => fsp.rm(path, { recursive: true, force: true }),
  mkdir: async (path) => {
    await fsp.mkdir(path, { recursive: true });
  },
  symlink: (target, path) => fsp.symlink(target, path),
  chmod: (path, mode) => fsp.chmod(path, mode),
  readlink: (path) => fsp.readlink(path),
  readdir: (path) => fsp.readdir(path),
  async stat(path) {
    try {
      const s = await fsp.lstat(path);
      return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory(), isSymbolicLink: s.isSymbolicLink() };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  },
  syncDir,
};

/** readFile, or null when the file does not exist. */
export async function readIfExists(fs: OtaFs, path: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Replaces `path` atomically through `fs` (lib/atomic-write.ts) with the fixed temp name `<name>.tmp`:
 * a power cut leaves the old or the new content plus, at worst, a stale .tmp that the next call overwrites.
 */
export function replaceFile(fs: OtaFs, path: string, data: Uint8Array | string): Promise<void> {
  return writeFileAtomic(path, data, { fs, tmpPath: join(dirname(path), `${basename(path)}.tmp`) });
}

/** Points symlink `path` at `target` atomically (symlink to .tmp, rename, fsync the directory). */
export async function replaceSymlink(fs: OtaFs, path: string, target: string): Promise<void> {
  const tmp = join(dirname(path), `${basename(path)}.tmp`);
  if (await fs.stat(tmp)) await fs.unlink(tmp);
  await fs.symlink(target, tmp);
  await fs.rename(tmp, path);
  await fs.syncDir(dirname(path));
}
