import { readFile, readdir } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';

/**
 * What goes into the device bundle: only the code the scooter runs (runtime, updater, telemetry and
 * their shared lib/ and the CLI entry), and the npm packages that code needs, found by walking
 * package-lock.json from package.json's dependencies minus the host-only ones.
 */
export const DEVICE_DIST_AREAS = ['bin', 'lib', 'runtime', 'ota', 'telemetry'] as const;
/** Host tools' packages: never on a scooter (SQLite dataset store, browser automation). */
export const HOST_ONLY_PACKAGES = ['better-sqlite3', 'playwright-core'] as const;

/** Files never copied: source maps, type declarations, and the host build of native addons. */
export function isUnshipped(rel: string): boolean {
  return /\.(map|d\.ts|d\.mts|d\.cts|tsbuildinfo)$/.test(rel) || rel.split('/').includes('.bin');
}

/** Per-package paths left out (rebuilt for arm64, other platforms' libraries, sources, tests). */
const PACKAGE_PRUNE: Readonly<Record<string, readonly string[]>> = {
  'tfjs-tflite-node': [
    'build',
    'binding',
    'src',
    'cc_deps/include',
    'cc_deps/linux_amd64',
    'cc_deps/darwin_arm64',
    'cc_deps/windows_amd64',
    'yarn-error.log',
    'jasmine.json',
    'tslint.json',
    'tsconfig.json',
  ],
  'unix-dgram': ['build', 'src', 'test', 'binding.gyp'],
};

/**
 * Packages of which only a few files are used: tfjs-tflite-node loads tfjs-core's Node bundle (its
 * browser builds are 20 MB more), and requires nothing of tfjs-tflite (a WebAssembly runtime for
 * browsers, 25 MB) although it declares it; its Node entry stays so a require still resolves.
 */
const PACKAGE_ONLY: Readonly<Record<string, readonly string[]>> = {
  '@tensorflow/tfjs-core': ['package.json', 'README.md', 'dist/tf-core.node.js'],
  '@tensorflow/tfjs-tflite': ['package.json', 'README.md', 'dist/tf-tflite.node.js'],
};

export function isPruned(pkg: string, relInPackage: string, isDir = false): boolean {
  const only = PACKAGE_ONLY[pkg];
  if (only) return !only.some((p) => p === relInPackage || (isDir && p.startsWith(`${relInPackage}/`)));
  return (PACKAGE_PRUNE[pkg] ?? []).some((p) => relInPackage === p || relInPackage.startsWith(`${p}/`));
}

/** Files (posix paths relative to the repository) under dist/ that the device runs. */
export async function deviceDistFiles(repoRoot: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const e of await readdir(join(repoRoot, rel), { withFileTypes: true })) {
      const child = posix.join(rel, e.name);
      if (e.isDirectory()) {
        if (!HOST_ONLY_DIST.some((d) => child === `dist/${d}`)) await walk(child);
      } else if (e.isFile() && !isUnshipped(child)) out.push(child);
      else if (!e.isFile()) throw new SidewalkError('BUILD_BUNDLE_INPUT', `${child}: not a regular file (the app store installs files and folders only)`);
    }
  }
  for (const area of DEVICE_DIST_AREAS) {
    const dir = `dist/${area}`;
    if (!(await readdir(join(repoRoot, dir)).catch(() => null))) {
      throw new SidewalkError('BUILD_BUNDLE_INPUT', `${join(repoRoot, dir)} is missing (run \`npm run build\` first)`);
    }
    await walk(dir);
  }
  return out.sort();
}

interface LockEntry {
  version?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface DevicePackage {
  /** Lock key, i.e. the folder relative to the repository: node_modules/a[/node_modules/b]. */
  path: string;
  name: string;
  version: string;
}

/** Node's lookup: the nearest node_modules/<name> from the requiring package's folder upwards. */
function resolveInLock(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** The production package closure of the device code, from package.json + package-lock.json (v2/v3). */
export async function devicePackages(repoRoot: string): Promise<DevicePackage[]> {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const lockPath = join(repoRoot, 'package-lock.json');
  const lock = JSON.parse(await readFile(lockPath, 'utf8')) as { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new SidewalkError('BUILD_BUNDLE_INPUT', `${lockPath}: lockfileVersion ${lock.lockfileVersion} has no "packages" map (npm >= 7 writes one)`);
  }
  const packages = lock.packages;
  const found = new Map<string, DevicePackage>();
  const queue: Array<{ from: string; name: string; optional: boolean }> = Object.keys(pkg.dependencies ?? {})
    .filter((n) => !(HOST_ONLY_PACKAGES as readonly string[]).includes(n))
    .map((name) => ({ from: '', name, optional: false }));
  while (queue.length > 0) {
    const { from, name, optional } = queue.shift()!;
    if (name.startsWith('@types/')) continue;
    const key = resolveInLock(packages, from, name);
    if (!key) {
      if (optional) continue;
      throw new SidewalkError('BUILD_BUNDLE_INPUT', `${lockPath}: ${name} (needed by ${from || 'package.json'}) is not in the lock file; run npm install`);
    }
    if (found.has(key)) continue;
    const entry = packages[key]!;
    if (entry.link) throw new SidewalkError('BUILD_BUNDLE_INPUT', `${lockPath}: ${key} is a link; the bundle needs installed packages`);
    found.set(key, { path: key, name, version: entry.version ?? '' });
    const peerOptional = (n: string): boolean => entry.peerDependenciesMeta?.[n]?.optional === true;
    for (const n of Object.keys(entry.dependencies ?? {})) queue.push({ from: key, name: n, optional: false });
    for (const n of Object.keys(entry.optionalDependencies ?? {})) queue.push({ from: key, name: n, optional: true });
    for (const n of Object.keys(entry.peerDependencies ?? {})) queue.push({ from: key, name: n, optional: peerOptional(n) });
  }
  for (const host of HOST_ONLY_PACKAGES) {
    const leaked = [...found.values()].find((p) => p.name === host);
    if (leaked) throw new SidewalkError('BUILD_BUNDLE_HOST_ONLY', `${leaked.path}: host-only package ${host} is needed by a device package`);
  }
  return [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Files of one package (posix, relative to the package folder), without nested node_modules. */
export async function packageFiles(repoRoot: string, p: DevicePackage): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const e of await readdir(join(repoRoot, p.path, rel), { withFileTypes: true })) {
      const child = rel ? posix.join(rel, e.name) : e.name;
      if (!rel && e.name === 'node_modules') continue;
      if (isPruned(p.name, child, e.isDirectory()) || isUnshipped(child)) continue;
      if (e.isDirectory()) {
        if (!HOST_ONLY_DIST.some((d) => child === `dist/${d}`)) await walk(child);
      } else if (e.isFile()) out.push(child);
      else throw new SidewalkError('BUILD_BUNDLE_INPUT', `${p.path}/${child}: not a regular file (the app store installs files and folders only)`);
    }
  }
  await walk('');
  return out.sort();
}

/** Module specifiers a compiled file loads: static/dynamic imports, re-exports, workers by URL, require. */
export function moduleSpecifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bnew URL\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*,\s*import\.meta\.url/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bcreateRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const out = new Set<string>();
  for (const re of patterns) for (const m of source.matchAll(re)) out.add(m[1]!);
  return [...out];
}

/** The modules of the CLI areas marked `device: true` in compiled bin/areas.js (one entry per line). */
export function deviceAreaModules(areasSource: string): string[] {
  return areasSource
    .split('\n')
    .filter((line) => /\bdevice:\s*true\b/.test(line))
    .flatMap((line) => [...line.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => posix.join('dist/bin', m[1]!)));
}

const packageOf = (spec: string): string =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

/**
 * Everything the device CLI can load, from dist/bin/sidewalk.js and the device areas' modules:
 * repository files (posix, relative) and npm package names. bin/areas.js is not followed (it names
 * host areas too); the device ones are read from it instead.
 */
export async function deviceImportClosure(repoRoot: string): Promise<{ files: Map<string, string>; packages: Map<string, string> }> {
  const areas = 'dist/bin/areas.js';
  const entries = ['dist/bin/sidewalk.js', areas, ...deviceAreaModules(await readFile(join(repoRoot, areas), 'utf8'))];
  const files = new Map<string, string>(entries.map((e) => [e, 'entry']));
  const packages = new Map<string, string>();
  const queue = entries.filter((e) => e !== areas);
  while (queue.length > 0) {
    const file = queue.shift()!;
    const source = await readFile(join(repoRoot, file), 'utf8').catch(() => {
      throw new SidewalkError('BUILD_BUNDLE_INCOMPLETE', `${file} (loaded by ${files.get(file)}) does not exist; run \`npm run build\``);
    });
    for (const spec of moduleSpecifiers(source)) {
      if (spec.startsWith('.')) {
        const target = posix.join(posix.dirname(file), spec);
        if (!files.has(target)) {
          files.set(target, file);
          queue.push(target);
        }
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        if (!packages.has(packageOf(spec))) packages.set(packageOf(spec), file);
      }
    }
  }
  return { files, packages };
}

/**
 * dist/ folders that never ship, whatever loads them: host tools (trainer, dataset store), build/,
 * tests, and the Grafana dashboards as code that live beside the device's telemetry (a devDependency).
 */
export const HOST_ONLY_DIST = ['host-tools', 'build', 'test', 'bench', 'telemetry/grafana', 'telemetry/fleet/sim'] as const;

/**
 * Checks what the device CLI loads against what the bundle carries, and returns the loaded files
 * outside the device folders (e.g. a device area's module elsewhere, such as first-boot provisioning),
 * which ship too. Throws BUILD_BUNDLE_INCOMPLETE when device code loads a host-only file or a package
 * that is not a device dependency.
 */
export async function deviceClosureExtras(repoRoot: string, distFiles: readonly string[], packages: readonly DevicePackage[]): Promise<string[]> {
  const closure = await deviceImportClosure(repoRoot);
  const shipped = new Set(distFiles);
  const extras: string[] = [];
  for (const [file, by] of closure.files) {
    if (shipped.has(file)) continue;
    if (HOST_ONLY_DIST.some((d) => file.startsWith(`dist/${d}/`))) {
      throw new SidewalkError('BUILD_BUNDLE_INCOMPLETE', `${by} loads ${file}, which is host-only (dist/${HOST_ONLY_DIST.join(', dist/')} never go on a scooter)`);
    }
    extras.push(file);
  }
  const names = new Set(packages.map((p) => p.name));
  for (const [pkg, by] of closure.packages) {
    if (!names.has(pkg)) throw new SidewalkError('BUILD_BUNDLE_INCOMPLETE', `${by} loads package ${pkg}, which is not a device dependency in package.json`);
  }
  return extras.sort();
}
