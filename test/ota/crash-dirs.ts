/**
 * Folder durability for the power-cut simulator (crash-fs.ts). A name created, renamed or removed
 * lives in its folder's blocks: it survives a power cut only once that folder is fsync'd. Until then
 * the cut may undo it, which is what the "lose unsynced data" cuts do: every namespace change not yet
 * made durable is undone, newest first (the worst case; with nothing undone, the best case, the two
 * bound what a journaling file system leaves).
 *  - ext4 (the data partition, the slots' file systems): create, rename, unlink, mkdir, symlink and
 *    rm need an fsync of the folder (both folders for a rename). POSIX promises no more; ext4 with
 *    delayed allocation and no folder fsync loses exactly these after a crash.
 *  - FAT (the selector partition mounted as a folder): a file's directory entry is written when the
 *    file itself is fsync'd (Linux vfat writes the entry as the inode), so a created file survives
 *    its own fsync; a rename writes the new entry before it removes the old one, so an unsynced
 *    rename can leave both names.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type FsSemantics = 'ext4' | 'fat';

type Node = { kind: 'file'; data: Buffer } | { kind: 'link'; target: string } | { kind: 'dir'; entries: Map<string, Node> };

interface PendingChange {
  what: string;
  /** Folders whose fsync this change still waits for. */
  dirs: Set<string>;
  /** FAT: the file whose own fsync makes this creation durable. */
  createdFile?: string;
  undo(): void;
}

/** What is at `path` now (files as `durable` says they were at their last fsync), or null. */
function snapshot(path: string, durable: (path: string) => Buffer | null | undefined): Node | null {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return null;
  }
  if (st.isSymbolicLink()) return { kind: 'link', target: readlinkSync(path) };
  if (st.isDirectory()) {
    const entries = new Map<string, Node>();
    for (const name of readdirSync(path)) {
      const child = snapshot(join(path, name), durable);
      if (child) entries.set(name, child);
    }
    return { kind: 'dir', entries };
  }
  const synced = durable(path);
  return { kind: 'file', data: synced === undefined ? readFileSync(path) : (synced ?? Buffer.alloc(0)) };
}

function restore(path: string, node: Node): void {
  rmSync(path, { recursive: true, force: true });
  if (node.kind === 'file') writeFileSync(path, node.data);
  else if (node.kind === 'link') symlinkSync(node.target, path);
  else {
    mkdirSync(path);
    for (const [name, child] of node.entries) restore(join(path, name), child);
  }
}

export class FolderDurability {
  #pending: PendingChange[] = [];
  #fat: string[];
  /** Content at the last fsync of a file written since (null: empty or absent then); undefined: clean. */
  #durableContent: (path: string) => Buffer | null | undefined;

  constructor(fatPrefixes: string[], durableContent: (path: string) => Buffer | null | undefined) {
    this.#fat = fatPrefixes;
    this.#durableContent = durableContent;
  }

  semantics(path: string): FsSemantics {
    return this.#fat.some((p) => path === p || path.startsWith(`${p}/`)) ? 'fat' : 'ext4';
  }

  get pending(): readonly { what: string; dirs: readonly string[] }[] {
    return this.#pending.map((p) => ({ what: p.what, dirs: [...p.dirs] }));
  }

  /** Before a file is created by open(): it exists only once its folder (FAT: the file) is fsync'd. */
  willCreateFile(path: string): void {
    if (existsSync(path)) return;
    this.#pending.push({ what: `create ${path}`, dirs: new Set([dirname(path)]), createdFile: path, undo: () => rmSync(path, { force: true }) });
  }

  /** Before mkdir -p: each folder it creates exists only once its parent is fsync'd. */
  willMkdir(path: string): void {
    const missing: string[] = [];
    for (let d = path; !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) this.#pending.push({ what: `mkdir ${d}`, dirs: new Set([dirname(d)]), undo: () => rmSync(d, { recursive: true, force: true }) });
  }

  willSymlink(path: string): void {
    this.#pending.push({ what: `symlink ${path}`, dirs: new Set([dirname(path)]), undo: () => rmSync(path, { force: true }) });
  }

  /** Before unlink or rm -r: what was there comes back unless the folder is fsync'd. */
  willRemove(path: string): void {
    const before = snapshot(path, this.#durableContent);
    if (!before) return;
    this.#pending.push({ what: `remove ${path}`, dirs: new Set([dirname(path)]), undo: () => restore(path, before) });
  }

  willRename(from: string, to: string): void {
    const replaced = snapshot(to, this.#durableContent);
    const fatFile = this.semantics(to) === 'fat' && lstatSync(from).isFile();
    this.#pending.push({
      what: `rename ${from} -> ${to}`,
      dirs: new Set([dirname(from), dirname(to)]),
      undo: () => {
        if (!existsSync(to)) return;
        // FAT: the new entry was written, the old one not yet removed: both names, same content.
        if (fatFile) writeFileSync(from, readFileSync(to));
        else {
          renameSync(to, from);
          if (replaced) restore(to, replaced);
        }
      },
    });
  }

  /** fsync of a folder: the changes of names in it are durable. */
  syncedDir(path: string): void {
    for (const p of this.#pending) p.dirs.delete(path);
    this.#pending = this.#pending.filter((p) => p.dirs.size > 0);
  }

  /** fsync of a file: on FAT its directory entry is written with it. */
  syncedFile(path: string): void {
    if (this.semantics(path) !== 'fat') return;
    this.#pending = this.#pending.filter((p) => p.createdFile !== path);
  }

  /** The power is gone: undoes every change not made durable, newest first. */
  loseUnsynced(): void {
    for (const p of this.#pending.reverse()) p.undo();
    this.#pending = [];
  }
}
