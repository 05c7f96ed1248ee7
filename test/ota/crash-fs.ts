/**
 * A power-cut simulator around the real filesystem: counts every mutating operation (open for
 * writing, write, fsync, rename, unlink, rm, mkdir, symlink, chmod, directory fsync) and "cuts the power"
 * at operation N. A write that is cut lands only partly (a seeded random prefix, at a byte offset).
 * After the cut every call throws. With `loseUnsynced`, powerOff() also reverts every file written
 * since its last fsync to its last fsync'd content (a page cache that never reached the card), and
 * undoes every create, rename and removal whose folder was not fsync'd since (crash-dirs.ts, with
 * ext4 or FAT rules by path), so a missing file or folder fsync shows up as lost data.
 */
import { createPrng } from '../../lib/prng.js';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { nodeFs, type OtaFileHandle, type OtaFs } from '../../ota/fs.js';
import { FolderDurability } from './crash-dirs.js';

/** A simulated power cut (or killed updater): tests let it end the run, never count it as the updater's error. */
export function isPowerLoss(err: unknown): boolean {
  return err instanceof PowerCut;
}

export class PowerCut extends Error {
  readonly powerLoss = true;
  constructor(op: string) {
    super(`power cut at ${op}`);
  }
}

/** Small deterministic PRNG (mulberry32). */
export const rng = createPrng;

export interface CrashFsOptions {
  /** 1-based index of the operation that is cut; null = never. */
  cutAt: number | null;
  random?: () => number;
  loseUnsynced?: boolean;
  /** Also fsync the real files (slow); durability is modelled by loseUnsynced either way. */
  realSync?: boolean;
  /** Folders on a FAT file system (else ext4 rules apply): see crash-dirs.ts. */
  fatPaths?: string[];
}

export class CrashFs implements OtaFs {
  ops = 0;
  /** What the cut operation was (for failure messages). */
  cutOp: string | null = null;
  /** Operation log: kind and path, for picking cut points. */
  readonly log: { kind: string; path: string }[] = [];
  #base: OtaFs;
  #cutAt: number | null;
  #random: () => number;
  #loseUnsynced: boolean;
  #realSync: boolean;
  #dead = false;
  /** path -> content at its last fsync (null: did not exist). */
  #dirty = new Map<string, Buffer | null>();
  #folders: FolderDurability;
  /** Distinct kinds of loss powerOff() applied (for tests that check the model is exercised). */
  lost = { files: 0, names: 0 };

  constructor(options: CrashFsOptions, base: OtaFs = nodeFs) {
    this.#base = base;
    this.#cutAt = options.cutAt;
    this.#random = options.random ?? Math.random;
    this.#loseUnsynced = options.loseUnsynced ?? false;
    this.#realSync = options.realSync ?? false;
    this.#folders = new FolderDurability(options.fatPaths ?? [], (path) => (this.#dirty.has(path) ? this.#dirty.get(path) : undefined));
  }

  get cut(): boolean {
    return this.#dead;
  }

  /** Stops the world now, outside any file operation (the updater killed while it waits on something else). */
  kill(what: string): PowerCut {
    this.#dead = true;
    this.cutOp = `killed: ${what}`;
    return new PowerCut(what);
  }

  #alive(op: string): void {
    if (this.#dead) throw new PowerCut(`${op} (after the cut)`);
  }

  /** Counts an operation; true when this is the one that gets cut. */
  #tick(kind: string, path: string): boolean {
    this.#alive(`${kind} ${path}`);
    this.ops++;
    this.log.push({ kind, path });
    if (this.#cutAt !== null && this.ops >= this.#cutAt) {
      this.#dead = true;
      this.cutOp = `#${this.ops} ${kind} ${path}`;
      return true;
    }
    return false;
  }

  #markDirty(path: string): void {
    if (this.#dirty.has(path)) return;
    this.#dirty.set(path, existsSync(path) ? readFileSync(path) : null);
  }

  /** Applies the loss of unsynced data (when enabled). Call once after the cut. */
  powerOff(): void {
    this.#dead = true;
    if (!this.#loseUnsynced) return;
    for (const [path, content] of this.#dirty) {
      if (!existsSync(path)) continue;
      this.lost.files++;
      if (content === null) truncateSync(path, 0);
      else writeFileSync(path, content);
    }
    this.#dirty.clear();
    this.lost.names += this.#folders.pending.length;
    this.#folders.loseUnsynced();
  }

  async open(path: string, flags: 'r' | 'w' | 'a' | 'r+'): Promise<OtaFileHandle> {
    if (flags === 'r') this.#alive(`open ${path}`);
    else {
      if (this.#tick(`open(${flags})`, path)) throw new PowerCut(`open ${path}`);
      if (flags === 'w' || !existsSync(path)) this.#markDirty(path);
      this.#folders.willCreateFile(path);
    }
    const inner = await this.#base.open(path, flags);
    return {
      write: async (data, position) => {
        this.#markDirty(path);
        if (this.#tick('write', path)) {
          const keep = Math.floor(this.#random() * data.length);
          if (keep > 0) await inner.write(data.subarray(0, keep), position);
          await inner.close();
          throw new PowerCut(`write ${path} after ${keep} of ${data.length} bytes`);
        }
        await inner.write(data, position);
      },
      read: async (buffer, position) => {
        this.#alive(`read ${path}`);
        return inner.read(buffer, position);
      },
      sync: async () => {
        if (this.#tick('fsync', path)) {
          await inner.close();
          throw new PowerCut(`fsync ${path}`);
        }
        if (this.#realSync) await inner.sync();
        this.#dirty.delete(path);
        this.#folders.syncedFile(path);
      },
      close: async () => {
        await inner.close();
      },
    };
  }

  async readFile(path: string): Promise<Buffer> {
    this.#alive(`read ${path}`);
    return this.#base.readFile(path);
  }

  async rename(from: string, to: string): Promise<void> {
    if (this.#tick('rename', `${from} -> ${to}`)) throw new PowerCut(`rename ${from}`);
    this.#folders.willRename(from, to);
    await this.#base.rename(from, to);
    // `to` is now from's file: its last synced content is from's (clean unless from was dirty).
    if (this.#dirty.has(from)) this.#dirty.set(to, this.#dirty.get(from)!);
    else this.#dirty.delete(to);
    this.#dirty.delete(from);
  }

  async unlink(path: string): Promise<void> {
    if (this.#tick('unlink', path)) throw new PowerCut(`unlink ${path}`);
    this.#folders.willRemove(path);
    await this.#base.unlink(path);
    this.#dirty.delete(path);
  }

  async rm(path: string): Promise<void> {
    if (this.#tick('rm', path)) throw new PowerCut(`rm ${path}`);
    this.#folders.willRemove(path);
    await this.#base.rm(path);
    for (const p of this.#dirty.keys()) if (p === path || p.startsWith(`${path}/`)) this.#dirty.delete(p);
  }

  async mkdir(path: string): Promise<void> {
    if (this.#tick('mkdir', path)) throw new PowerCut(`mkdir ${path}`);
    this.#folders.willMkdir(path);
    await this.#base.mkdir(path);
  }

  async symlink(target: string, path: string): Promise<void> {
    if (this.#tick('symlink', path)) throw new PowerCut(`symlink ${path}`);
    this.#folders.willSymlink(path);
    await this.#base.symlink(target, path);
  }

  async chmod(path: string, mode: number): Promise<void> {
    if (this.#tick('chmod', path)) throw new PowerCut(`chmod ${path}`);
    await this.#base.chmod(path, mode);
  }

  async readlink(path: string): Promise<string> {
    this.#alive(`readlink ${path}`);
    return this.#base.readlink(path);
  }

  async readdir(path: string): Promise<string[]> {
    this.#alive(`readdir ${path}`);
    return this.#base.readdir(path);
  }

  async stat(path: string) {
    this.#alive(`stat ${path}`);
    return this.#base.stat(path);
  }

  async syncDir(path: string): Promise<void> {
    if (this.#tick('fsync-dir', path)) throw new PowerCut(`fsync dir ${path}`);
    if (this.#realSync) await this.#base.syncDir(path);
    this.#folders.syncedDir(path);
  }
}
