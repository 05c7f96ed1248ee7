/**
 * A/B store for model bundles and app (runtime) bundles, without reboot:
 *   <root>/versions/<version>/...   complete, fsync'd bundles
 *   <root>/versions/.staging/        the one being written (removed on the next start or cleanup)
 *   <root>/current  -> versions/<v>  what the runtime loads
 *   <root>/previous -> versions/<v>  what a rollback returns to
 * Symlinks are switched atomically (symlink to .tmp, rename, fsync the directory), `previous` first,
 * so a power cut between the two renames leaves `current` on the old version.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join, normalize } from 'node:path';
import type { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import { ByteReader } from '../artifact/byte-reader.js';
import { decompress } from '../artifact/decompress.js';
import { TarReader } from '../artifact/tar.js';
import { readIfExists, replaceSymlink, type OtaFs } from '../fs.js';

export type StoreKind = 'model' | 'app';
const STAGING = '.staging';
const SAFE_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

export function checkVersionName(version: string, source: string): string {
  if (!SAFE_VERSION.test(version)) {
    throw new SidewalkError('OTA_VERSION_INVALID', `${source}: version ${JSON.stringify(version)} is not a safe directory name ([A-Za-z0-9._+-], up to 100)`);
  }
  return version;
}

export interface StagedFile {
  sha256: string;
  bytes: number;
  mode: number;
}

/**
 * The permission bits an installed file gets from its tar header: read/execute as given (an app's
 * node and launcher must stay executable), never setuid/setgid/sticky, never group/world-writable.
 */
export function installedFileMode(tarMode: number): number {
  return tarMode & 0o755;
}

export class VersionStore {
  readonly root: string;
  readonly kind: StoreKind;
  #fs: OtaFs;
  /** sha256, size and permission bits of each staged file, by relative path. */
  #staged = new Map<string, StagedFile>();

  constructor(fs: OtaFs, root: string, kind: StoreKind) {
    this.#fs = fs;
    this.root = root;
    this.kind = kind;
  }

  get fs(): OtaFs {
    return this.#fs;
  }

  get versionsDir(): string {
    return join(this.root, 'versions');
  }

  get stagingDir(): string {
    return join(this.versionsDir, STAGING);
  }

  async #link(name: 'current' | 'previous'): Promise<string | null> {
    const path = join(this.root, name);
    const st = await this.#fs.stat(path);
    if (!st?.isSymbolicLink) return null;
    return basename(await this.#fs.readlink(path));
  }

  current(): Promise<string | null> {
    return this.#link('current');
  }

  previous(): Promise<string | null> {
    return this.#link('previous');
  }

  /** Starts a fresh staging folder. */
  async beginStaging(): Promise<void> {
    await this.#mkdirDurable(this.versionsDir);
    await this.#fs.rm(this.stagingDir);
    await this.#fs.mkdir(this.stagingDir);
    this.#staged.clear();
  }

  /**
   * mkdir -p whose new folders survive a power cut: each one's parent is fsync'd (a first install
   * creates the store's folders; without this a cut could lose versions/ with the bundle in it).
   */
  async #mkdirDurable(path: string): Promise<void> {
    const missing: string[] = [];
    for (let d = path; !(await this.#fs.stat(d)); d = dirname(d)) missing.unshift(d);
    if (missing.length === 0) return;
    await this.#fs.mkdir(path);
    for (const d of missing) await this.#fs.syncDir(dirname(d));
  }

  /** What has been staged since beginStaging, by relative path. */
  get staged(): ReadonlyMap<string, StagedFile> {
    return this.#staged;
  }

  /** Removes the staging folder (a refused bundle leaves the store as it was). */
  async discardStaging(): Promise<void> {
    await this.#fs.rm(this.stagingDir);
    this.#staged.clear();
  }

  /** Streams one file into staging (write, chmod, fsync), hashing it on the way. */
  async stageFile(relPath: string, source: AsyncIterable<Buffer>, onBytes?: (n: number) => void, mode = 0o644): Promise<StagedFile> {
    const clean = normalize(relPath);
    if (clean.startsWith('..') || clean.startsWith('/') || clean === '.' || clean.split('/').includes('..')) {
      throw new SidewalkError('OTA_BUNDLE_PATH', `${this.kind} bundle: unsafe file path ${JSON.stringify(relPath)}`);
    }
    const path = join(this.stagingDir, clean);
    await this.#fs.mkdir(dirname(path));
    const hash = createHash('sha256');
    let bytes = 0;
    const handle = await this.#fs.open(path, 'w');
    try {
      for await (const chunk of source) {
        await handle.write(chunk, bytes);
        hash.update(chunk);
        bytes += chunk.length;
        onBytes?.(chunk.length);
      }
      // Before the fsync, so the mode is as durable as the content.
      await this.#fs.chmod(path, mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const result = { sha256: hash.digest('hex'), bytes, mode };
    this.#staged.set(clean, result);
    return result;
  }

  /** Extracts a (optionally gzipped) tar into staging: regular files (with their modes, see installedFileMode) and folders only. */
  async stageTar(stream: Readable, label: string, onBytes?: (n: number) => void): Promise<void> {
    const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const first = await it.next();
    const head: Buffer = first.done ? Buffer.alloc(0) : first.value;
    async function* all(): AsyncGenerator<Buffer> {
      if (head.length > 0) yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    const gz = head[0] === 0x1f && head[1] === 0x8b;
    const tar = new TarReader(new ByteReader(decompress(all(), gz ? 'gzip' : 'none', label), label));
    for (let entry = await tar.next(); entry; entry = await tar.next()) {
      const name = entry.name.replace(/^\.\//, '').replace(/\/$/, '');
      if (entry.type === '5') {
        if (name) await this.#fs.mkdir(join(this.stagingDir, name));
        continue;
      }
      if (entry.type !== '0') {
        throw new SidewalkError('OTA_BUNDLE_PATH', `${label}: ${entry.name} (header at byte ${entry.headerOffset}) is tar type ${JSON.stringify(entry.type)}; only files and folders are installed`);
      }
      await this.stageFile(name, tar.body(entry), onBytes, installedFileMode(entry.mode));
    }
    // Drain whatever follows the end-of-archive marker, so the artifact's checksum is still verified.
    for (;;) if ((await it.next()).done) break;
  }

  /** Checks a staged model bundle against its manifest.json; returns the manifest's version. */
  async validateModel(): Promise<string> {
    const manifestPath = join(this.stagingDir, 'manifest.json');
    const bytes = await readIfExists(this.#fs, manifestPath);
    if (!bytes) throw new SidewalkError('OTA_MODEL_INVALID', `model bundle has no manifest.json`);
    let manifest: { version?: unknown; files?: Record<string, { sha256?: unknown; bytes?: unknown }> };
    try {
      manifest = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new SidewalkError('OTA_MODEL_INVALID', `manifest.json: ${(err as Error).message}`);
    }
    if (typeof manifest.version !== 'string') throw new SidewalkError('OTA_MODEL_INVALID', 'manifest.json: version must be a string');
    const files = manifest.files ?? {};
    if (!files['model.tflite']) throw new SidewalkError('OTA_MODEL_INVALID', 'manifest.json: files has no model.tflite');
    for (const [name, want] of Object.entries(files)) {
      const got = this.#staged.get(normalize(name));
      if (!got) throw new SidewalkError('OTA_MODEL_INVALID', `manifest.json: files.${name} is not in the bundle`);
      if (want.sha256 !== got.sha256) throw new SidewalkError('OTA_MODEL_INVALID', `manifest.json: files.${name}.sha256 is ${String(want.sha256)}, the file's is ${got.sha256}`);
      if (want.bytes !== undefined && want.bytes !== got.bytes) throw new SidewalkError('OTA_MODEL_INVALID', `manifest.json: files.${name}.bytes is ${String(want.bytes)}, the file has ${got.bytes}`);
    }
    return checkVersionName(manifest.version, 'manifest.json');
  }

  /** Moves staging to versions/<version> (fsync'd); refuses to overwrite the current or previous version. */
  async finishStaging(version: string): Promise<void> {
    checkVersionName(version, `${this.kind} bundle`);
    const target = join(this.versionsDir, version);
    if (version === (await this.current()) || version === (await this.previous())) {
      throw new SidewalkError('OTA_VERSION_INSTALLED', `${this.kind} ${version} is already installed (current or previous); nothing to do`);
    }
    const dirs = new Set<string>([this.stagingDir]);
    for (const rel of this.#staged.keys()) {
      for (let d = dirname(join(this.stagingDir, rel)); d.startsWith(this.stagingDir); d = dirname(d)) dirs.add(d);
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await this.#fs.syncDir(d);
    await this.#fs.rm(target);
    await this.#fs.rename(this.stagingDir, target);
    await this.#fs.syncDir(this.versionsDir);
  }

  async hasVersion(version: string): Promise<boolean> {
    return (await this.#fs.stat(join(this.versionsDir, version)))?.isDirectory === true;
  }

  /** Points current (and previous) at versions; idempotent, so a resumed switch just redoes it. */
  async switchTo(current: string, previous: string | null): Promise<void> {
    if (!(await this.hasVersion(current))) throw new SidewalkError('OTA_VERSION_MISSING', `${this.kind} store ${this.root}: version ${current} is not installed`);
    if (previous !== null && previous !== (await this.previous())) await replaceSymlink(this.#fs, join(this.root, 'previous'), join('versions', previous));
    if (current !== (await this.current())) await replaceSymlink(this.#fs, join(this.root, 'current'), join('versions', current));
  }

  /**
   * Puts current and previous back to what they were before a switch; `null` removes the link (a
   * failed first install leaves no current). Idempotent, so a resumed rollback just redoes it.
   */
  async restore(current: string | null, previous: string | null): Promise<void> {
    if (current !== null) await this.switchTo(current, previous);
    else await this.#unlink('current');
    if (previous === null) await this.#unlink('previous');
  }

  async #unlink(name: 'current' | 'previous'): Promise<void> {
    const path = join(this.root, name);
    if (!(await this.#fs.stat(path))) return;
    await this.#fs.unlink(path);
    await this.#fs.syncDir(this.root);
  }

  /** Removes staging and every version except `keep` (and whatever current/previous point at). */
  async prune(keep: (string | null | undefined)[]): Promise<void> {
    const names = (await this.#fs.stat(this.versionsDir)) ? await this.#fs.readdir(this.versionsDir) : [];
    const keepSet = new Set([...keep, await this.current(), await this.previous()].filter((v): v is string => typeof v === 'string'));
    let removed = false;
    for (const name of names) {
      if (keepSet.has(name)) continue;
      await this.#fs.rm(join(this.versionsDir, name));
      removed = true;
    }
    for (const link of ['current.tmp', 'previous.tmp']) {
      if (await this.#fs.stat(join(this.root, link))) await this.#fs.unlink(join(this.root, link));
    }
    if (removed) await this.#fs.syncDir(this.versionsDir);
  }
}
