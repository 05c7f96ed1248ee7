import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { deviceClosureExtras, deviceDistFiles, devicePackages, packageFiles } from './contents.js';
import { DEFAULT_EPOCH, MANIFEST_NAME, listFiles, normalise, writeManifest, type BundleManifest } from './manifest.js';
import { buildNativeArm64 } from './native-arm64.js';
import { EM_AARCH64, NODE_ARM64, defaultCacheDir, elfMachine, fetchNodeArm64 } from './node-arm64.js';

/**
 * The arm64 app bundle: a self-contained folder the image installs as /opt/sidewalk and the
 * `sidewalk-app` artifact carries. Layout (build/README.md):
 *   bin/sidewalk            launcher: runs dist/bin/sidewalk.js with the bundled Node
 *   node/bin/node, node/LICENSE   the pinned official arm64 Node
 *   dist/{bin,lib,runtime,ota,telemetry}/  device code, plus any other file the device CLI areas load
 *                           (never host-tools/ or build/); dist/native/libsidewalk_xnnpack.so (arm64)
 *   node_modules/...        production packages of that code, native addons rebuilt for arm64
 *   package.json            name, version, "type": "module"
 *   README.md               the repository's README (units name it as their documentation)
 *   bundle-manifest.json    app version, Node version, arch, sha256 of every other file
 */
export { MANIFEST_NAME, packBundle, verifyBundle, type BundleManifest } from './manifest.js';
export { NODE_ARM64 } from './node-arm64.js';

export interface BundleOptions {
  /** Output folder; replaced if it holds an earlier bundle, refused if it holds anything else. */
  out: string;
  repoRoot?: string;
  /** Where the pinned Node is cached (default ~/.cache/sidewalk/arm64, or $SIDEWALK_CACHE_DIR/arm64). */
  cacheDir?: string;
  /** Time stamp of every file, seconds (default SOURCE_DATE_EPOCH, else 2024-01-01). */
  epoch?: number;
  say?: (msg: string) => void;
}

export interface BundleResult {
  dir: string;
  manifest: BundleManifest;
  bytes: number;
}

/** The launcher: POSIX sh, resolves its own folder so /opt/sidewalk/bin/sidewalk works through symlinks. */
const LAUNCHER = `#!/bin/sh
# Sidewalk Guard: runs the CLI with the Node bundled beside it.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../node/bin/node" "$here/../dist/bin/sidewalk.js" "$@"
`;

function epochFrom(o: BundleOptions): number {
  if (o.epoch !== undefined) return o.epoch;
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env === undefined || env === '') return DEFAULT_EPOCH;
  if (!/^\d+$/.test(env)) throw new SidewalkError('BUILD_INVALID_OPTION', `SOURCE_DATE_EPOCH=${env}: not a whole number of seconds`);
  return Number(env);
}

async function copyInto(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
}

async function prepareOutput(out: string): Promise<void> {
  const st = await stat(out).catch(() => null);
  if (!st) return;
  const isBundle = st.isDirectory() && (await stat(join(out, MANIFEST_NAME)).catch(() => null)) !== null;
  const isEmpty = st.isDirectory() && (await readdir(out)).length === 0;
  if (!isBundle && !isEmpty) throw new SidewalkError('BUILD_BUNDLE_OUTPUT', `${out} exists and is not an app bundle; not replacing it`);
}

export async function buildAppBundle(o: BundleOptions): Promise<BundleResult> {
  const repoRoot = o.repoRoot ?? REPO_ROOT;
  const say = o.say ?? (() => {});
  const epoch = epochFrom(o);
  const out = resolve(o.out);
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { name?: string; version?: string; description?: string; license?: string };
  if (typeof pkg.version !== 'string' || !pkg.version || typeof pkg.name !== 'string') {
    throw new SidewalkError('BUILD_APP_INVALID', `${join(repoRoot, 'package.json')}: name or version missing`);
  }
  await prepareOutput(out);
  const packages = await devicePackages(repoRoot);
  const folders = await deviceDistFiles(repoRoot);
  const distFiles = [...folders, ...(await deviceClosureExtras(repoRoot, folders, packages))];
  const node = await fetchNodeArm64(o.cacheDir ?? defaultCacheDir(), say);

  const staging = `${out}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    say(`staging ${distFiles.length} device files and ${packages.length} npm packages in ${staging}`);
    await copyInto(node.binary, join(staging, 'node', 'bin', 'node'));
    await copyInto(node.licence, join(staging, 'node', 'LICENSE'));
    await copyInto(join(repoRoot, 'README.md'), join(staging, 'README.md'));
    for (const f of distFiles) await copyInto(join(repoRoot, f), join(staging, f));
    for (const p of packages) {
      for (const f of await packageFiles(repoRoot, p)) await copyInto(join(repoRoot, p.path, f), join(staging, p.path, f));
    }
    await buildNativeArm64({ repoRoot, nodeInclude: node.includeDir, bundleDir: staging }, say);
    const trimmed = { name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, private: true, type: 'module', engines: { node: '>=20' } };
    await writeFile(join(staging, 'package.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
    await mkdir(join(staging, 'bin'), { recursive: true });
    await writeFile(join(staging, 'bin', 'sidewalk'), LAUNCHER, { mode: 0o755 });

    let bytes = 0;
    for (const f of await listFiles(staging)) {
      const machine = await elfMachine(join(staging, f));
      if (machine !== null && machine !== EM_AARCH64) {
        throw new SidewalkError('BUILD_BUNDLE_FOREIGN_BINARY', `${f}: ELF machine 0x${machine.toString(16)}, not AArch64; it would not load on the scooter`);
      }
      bytes += (await stat(join(staging, f))).size;
    }
    await normalise(staging, epoch);
    const manifest = await writeManifest(
      staging,
      {
        app: { name: pkg.name, version: pkg.version },
        arch: 'arm64',
        node: { package: NODE_ARM64.package, version: node.version, integrity: node.integrity },
        entry: 'bin/sidewalk',
      },
      epoch,
    );
    await rm(out, { recursive: true, force: true });
    await rename(staging, out);
    return { dir: out, manifest, bytes };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}
