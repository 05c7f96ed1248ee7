import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, readFile, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SidewalkError } from '../../lib/errors.js';
import { TOOL_PACKAGES } from './exec.js';

/**
 * The bundle's manifest (bundle-manifest.json at its root) and the reproducible tarball of a bundle.
 * Reproducible: modes normalised to 0755/0644, every mtime set to one fixed epoch, names sorted,
 * numeric root owner, GNU tar format, gzip without name or time stamp.
 */
export const MANIFEST_NAME = 'bundle-manifest.json';
export const MANIFEST_FORMAT = 'sidewalk-app-bundle/1';
/** 2024-01-01T00:00:00Z: a fixed time for every file (also representable on FAT, unlike 1970). */
export const DEFAULT_EPOCH = 1704067200;

export interface BundleFile {
  path: string;
  size: number;
  mode: '0644' | '0755';
  sha256: string;
}

export interface BundleManifest {
  format: typeof MANIFEST_FORMAT;
  app: { name: string; version: string };
  arch: 'arm64';
  node: { package: string; version: string; integrity: string };
  /** What to run: the launcher, relative to the bundle root. */
  entry: string;
  /** The time stamp of every file (seconds): SOURCE_DATE_EPOCH. */
  epoch: number;
  files: BundleFile[];
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file under dir (posix paths, sorted by byte order), refusing anything but files and folders. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const child = rel ? posix.join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile()) out.push(child);
      else throw new SidewalkError('BUILD_BUNDLE_INVALID', `${join(dir, child)}: not a regular file or folder`);
    }
  }
  await walk('');
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Modes to 0755 (folders, executables) or 0644, and every mtime to `epoch`; folders after their contents. */
export async function normalise(dir: string, epoch: number): Promise<void> {
  async function walk(path: string): Promise<void> {
    const st = await lstat(path);
    if (st.isDirectory()) {
      for (const name of await readdir(path)) await walk(join(path, name));
      await chmod(path, 0o755);
    } else {
      await chmod(path, st.mode & 0o111 ? 0o755 : 0o644);
    }
    await utimes(path, epoch, epoch);
  }
  await walk(dir);
}

/** Hashes every file (after normalise) and writes the manifest; returns it. */
export async function writeManifest(dir: string, head: Omit<BundleManifest, 'format' | 'files' | 'epoch'>, epoch: number): Promise<BundleManifest> {
  const files: BundleFile[] = [];
  for (const path of await listFiles(dir)) {
    if (path === MANIFEST_NAME) continue;
    const st = await lstat(join(dir, path));
    files.push({ path, size: st.size, mode: st.mode & 0o111 ? '0755' : '0644', sha256: await sha256(join(dir, path)) });
  }
  const manifest: BundleManifest = { format: MANIFEST_FORMAT, ...head, epoch, files };
  const file = join(dir, MANIFEST_NAME);
  await writeFile(file, `${JSON.stringify(manifest, null, 1)}\n`, { mode: 0o644 });
  await utimes(file, epoch, epoch);
  await utimes(dir, epoch, epoch);
  return manifest;
}

/** Checks a bundle folder against its manifest: every listed file present with its hash, nothing extra. */
export async function verifyBundle(dir: string): Promise<BundleManifest> {
  const path = join(dir, MANIFEST_NAME);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(path, 'utf8')) as BundleManifest;
  } catch (err) {
    throw new SidewalkError('BUILD_BUNDLE_INVALID', `${path}: ${(err as Error).message}`);
  }
  if (manifest.format !== MANIFEST_FORMAT || !Array.isArray(manifest.files)) {
    throw new SidewalkError('BUILD_BUNDLE_INVALID', `${path}: format is ${JSON.stringify(manifest.format)}, expected ${MANIFEST_FORMAT}`);
  }
  if (!Number.isSafeInteger(manifest.epoch) || manifest.epoch < 0 || typeof manifest.app?.version !== 'string') {
    throw new SidewalkError('BUILD_BUNDLE_INVALID', `${path}: epoch must be a whole number of seconds and app.version a string`);
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  for (const rel of await listFiles(dir)) {
    if (rel === MANIFEST_NAME) continue;
    const f = listed.get(rel);
    if (!f) throw new SidewalkError('BUILD_BUNDLE_INVALID', `${join(dir, rel)}: not in ${MANIFEST_NAME}`);
    const got = await sha256(join(dir, rel));
    if (got !== f.sha256) throw new SidewalkError('BUILD_BUNDLE_INVALID', `${join(dir, rel)}: sha256 ${got}, ${MANIFEST_NAME} says ${f.sha256}`);
    listed.delete(rel);
  }
  const missing = [...listed.keys()];
  if (missing.length > 0) throw new SidewalkError('BUILD_BUNDLE_INVALID', `${dir}: ${missing.length} file(s) of ${MANIFEST_NAME} missing, first ${missing[0]}`);
  return manifest;
}

/** Writes dir as a reproducible .tar.gz (entries ./...), through a temporary name. */
export async function packBundle(dir: string, tarball: string, epoch = DEFAULT_EPOCH): Promise<void> {
  const tmp = `${tarball}.partial`;
  const tar = spawn('tar', ['--sort=name', '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${epoch}`, '-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const gzip = spawn('gzip', ['-n', '-6'], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess;
  let stderr = '';
  tar.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  gzip.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = (c: ChildProcess, name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      c.on('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new SidewalkError('BUILD_TOOL_MISSING', `${name} not found: install it (Debian: apt-get install ${TOOL_PACKAGES[name]})`) : err),
      );
      c.on('close', (code) => (code === 0 ? resolve() : reject(new SidewalkError('BUILD_TAR_FAILED', `${name}: exit ${code}: ${stderr.trim()}`))));
    });
  try {
    tar.stdout.pipe(gzip.stdin!);
    await Promise.all([exited(tar, 'tar'), exited(gzip, 'gzip'), pipeline(gzip.stdout!, createWriteStream(tmp))]);
    await rename(tmp, tarball);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
