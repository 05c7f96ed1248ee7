// Builds the project's native pieces: the XNNPACK delegate shim (runtime/inference/xnnpack-delegate.c)
// -> dist/native/libsidewalk_xnnpack.so, linked against tfjs-tflite-node's bundled libtensorflowlite_c.so.
// Rebuilds only when the .c is newer than the .so (or --force). Works on x86-64 and arm64 Linux hosts;
// CC=aarch64-linux-gnu-gcc SIDEWALK_NATIVE_ARCH=arm64 cross-compiles for the Pi.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'runtime/inference/xnnpack-delegate.c');
const output = join(root, 'dist/native/libsidewalk_xnnpack.so');
const say = (msg) => process.stderr.write(`[build-native] ${msg}\n`);
const fail = (msg) => {
  say(`error: ${msg}`);
  process.exit(1);
};

const arch = process.env.SIDEWALK_NATIVE_ARCH ?? process.arch;
const ccDir = { x64: 'linux_amd64', arm64: 'linux_arm64' }[arch];
if (process.platform !== 'linux' || ccDir === undefined) {
  fail(`the XNNPACK shim is built for Linux x64/arm64 only (this is ${process.platform}/${arch})`);
}
const tfliteRoot = join(root, 'node_modules/tfjs-tflite-node/cc_deps');
const libDir = join(tfliteRoot, ccDir);
if (!existsSync(join(libDir, 'libtensorflowlite_c.so'))) {
  fail(`${relative(root, libDir)}/libtensorflowlite_c.so not found: install npm packages first (npm ci)`);
}

const force = process.argv.includes('--force');
if (!force && existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) {
  say(`${relative(root, output)} is up to date`);
  process.exit(0);
}

const cc = process.env.CC ?? 'gcc';
const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  fail(`C compiler '${cc}' not found; install it (Debian: sudo apt-get install gcc) and run 'node scripts/build-native.mjs' again`);
}

mkdirSync(dirname(output), { recursive: true });
const args = [
  '-shared',
  '-fPIC',
  '-O2',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-std=c11',
  '-I',
  join(tfliteRoot, 'include'),
  source,
  '-o',
  output,
  '-L',
  libDir,
  '-ltensorflowlite_c',
  // The .so is found through the absolute cc_deps path here, and relative to dist/native when the
  // app is bundled with node_modules beside dist (build/ keeps that layout).
  `-Wl,-rpath,${libDir}`,
  `-Wl,-rpath,$ORIGIN/../../node_modules/tfjs-tflite-node/cc_deps/${ccDir}`,
  '-Wl,--no-undefined',
];
say(`${cc} -> ${relative(root, output)} (${arch})`);
const result = spawnSync(cc, args, { stdio: 'inherit' });
if (result.status !== 0) fail(`${cc} failed with exit code ${result.status}`);
