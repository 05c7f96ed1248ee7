/**
 * The arm64 app bundle's pieces on small inputs (fast tier): which packages and files go in, the
 * import-closure guard, the manifest and the reproducible tarball, the Node pin, and the CLI's errors.
 * The full bundle (cross-compiled, run under qemu-user) is tested in test/build/arm64-bundle.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deviceClosureExtras, deviceAreaModules, deviceDistFiles, devicePackages, moduleSpecifiers, packageFiles } from '../../build/bundle/contents.js';
import { DEFAULT_EPOCH, MANIFEST_NAME, normalise, packBundle, verifyBundle, writeManifest } from '../../build/bundle/manifest.js';
import { NODE_ARM64, fetchNodeArm64 } from '../../build/bundle/node-arm64.js';
import { isSidewalkError } from '../../lib/errors.js';
import { expectCleanFailure } from '../helpers/cli-guard.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../ota/artifact/fixtures.js';

const run = promisify(execFile);
let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await makeTempDir('sidewalk-bundle-')));
after(() => cleanup());

async function put(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

/** A tiny repository: package.json + lock with a nested dependency, and installed package folders. */
async function fakeRepo(name: string, deps: Record<string, string>, lockExtra: Record<string, object> = {}): Promise<string> {
  const root = join(dir, name);
  const packages = {
    '': { dependencies: deps },
    'node_modules/a': { version: '1.0.0', dependencies: { b: '^2' } },
    'node_modules/b': { version: '1.0.0' },
    'node_modules/a/node_modules/b': { version: '2.0.0', peerDependencies: { c: '*' } },
    'node_modules/c': { version: '3.0.0' },
    'node_modules/better-sqlite3': { version: '12.0.0' },
    ...lockExtra,
  };
  await put(root, {
    'package.json': JSON.stringify({ name: 'x', version: '1.0.0', dependencies: deps }),
    'package-lock.json': JSON.stringify({ lockfileVersion: 3, packages }),
  });
  return root;
}

describe('what goes into the bundle', () => {
  test("the repository's device packages: runtime/updater/telemetry needs, no host-only or type packages", async () => {
    const names = (await devicePackages(REPO_ROOT)).map((p) => p.name);
    for (const need of ['tfjs-tflite-node', 'unix-dgram', 'bindings', 'node-addon-api', '@tensorflow/tfjs-core', 'commander', 'ajv', 'yaml', 'mqtt', 'prom-client']) {
      assert.ok(names.includes(need), `${need} missing from ${names.join(' ')}`);
    }
    for (const never of ['better-sqlite3', 'playwright-core', 'typescript']) assert.ok(!names.includes(never), `${never} is in the bundle`);
    assert.ok(!names.some((n) => n.startsWith('@types/')));
  });

  test('lock walk: nested versions win like Node resolves them, peers are followed, host-only leaks and gaps are errors', async () => {
    const ok = await devicePackages(await fakeRepo('ok', { a: '^1', 'better-sqlite3': '^12' }));
    assert.deepEqual(
      ok.map((p) => `${p.path}@${p.version}`),
      ['node_modules/a@1.0.0', 'node_modules/a/node_modules/b@2.0.0', 'node_modules/c@3.0.0'],
    );
    const leak = await fakeRepo('leak', { a: '^1' }, { 'node_modules/c': { version: '3.0.0', dependencies: { 'better-sqlite3': '*' } } });
    await assert.rejects(devicePackages(leak), (e) => isSidewalkError(e, 'BUILD_BUNDLE_HOST_ONLY') && /node_modules\/better-sqlite3/.test(e.message));
    const gap = await fakeRepo('gap', { a: '^1', zzz: '^1' });
    await assert.rejects(devicePackages(gap), (e) => isSidewalkError(e, 'BUILD_BUNDLE_INPUT') && /zzz/.test(e.message));
  });

  test('package files: host builds, other platforms and unused browser bundles are left out', async () => {
    const root = join(dir, 'prune');
    await put(root, {
      'node_modules/tfjs-tflite-node/package.json': '{}',
      'node_modules/tfjs-tflite-node/dist/index.js': '',
      'node_modules/tfjs-tflite-node/dist/index.js.map': '',
      'node_modules/tfjs-tflite-node/dist/index.d.ts': '',
      'node_modules/tfjs-tflite-node/build/Release/node_tflite_binding.node': 'x86',
      'node_modules/tfjs-tflite-node/cc_deps/linux_amd64/libtensorflowlite_c.so': '',
      'node_modules/tfjs-tflite-node/cc_deps/linux_arm64/libtensorflowlite_c.so': '',
      'node_modules/@tensorflow/tfjs-core/package.json': '{}',
      'node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js': '',
      'node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js': '',
      'node_modules/@tensorflow/tfjs-core/node_modules/node-fetch/index.js': '',
    });
    assert.deepEqual(await packageFiles(root, { path: 'node_modules/tfjs-tflite-node', name: 'tfjs-tflite-node', version: '0' }), [
      'cc_deps/linux_arm64/libtensorflowlite_c.so',
      'dist/index.js',
      'package.json',
    ]);
    assert.deepEqual(await packageFiles(root, { path: 'node_modules/@tensorflow/tfjs-core', name: '@tensorflow/tfjs-core', version: '0' }), ['dist/tf-core.node.js', 'package.json']);
  });

  test('the device folders hold no tests, benchmarks, host tools or source maps', async () => {
    const files = await deviceDistFiles(REPO_ROOT);
    assert.ok(files.includes('dist/bin/sidewalk.js') && files.includes('dist/runtime/inference/classifier-worker.js'));
    assert.ok(files.some((f) => f.startsWith('dist/ota/')) && files.some((f) => f.startsWith('dist/telemetry/')));
    const bad = files.filter((f) => /^dist\/(test|bench|host-tools|build|native|telemetry\/grafana|telemetry\/fleet\/sim)\//.test(f) || f.endsWith('.map') || f.endsWith('.d.ts'));
    assert.deepEqual(bad, []);
  });
});

describe('import closure guard', () => {
  test('module specifiers: imports, re-exports, dynamic imports, workers by URL, createRequire', () => {
    const src = [
      "import { a } from '../lib/a.js';",
      "import {\n  b,\n  c,\n} from 'commander';",
      "export { d } from './d.js';",
      "import './side.js';",
      "const m = await import('../runtime/cli.js');",
      "const w = new URL('./worker.js', import.meta.url);",
      "const t = createRequire(import.meta.url)('tfjs-tflite-node');",
      "const u = require('unix-dgram');",
      "import { join } from 'node:path';",
    ].join('\n');
    assert.deepEqual(moduleSpecifiers(src).sort(), ['../lib/a.js', '../runtime/cli.js', './d.js', './side.js', './worker.js', 'commander', 'node:path', 'tfjs-tflite-node', 'unix-dgram'].sort());
    assert.deepEqual(
      deviceAreaModules(
        "  { commands: ['run'], device: true, load: async () => (await import('../runtime/cli.js')).x },\n  { commands: ['train'], load: async () => (await import('../host-tools/train/cli.js')).y },",
      ),
      ['dist/runtime/cli.js'],
    );
  });

  test("the repository's device CLI loads only what the bundle carries", async () => {
    // First-boot provisioning and data partition growth live in image/ beside their units; they are the device
    // modules outside the device folders, and ship as loaded extras (anything else appearing here is a new dependency to review).
    assert.deepEqual(await deviceClosureExtras(REPO_ROOT, await deviceDistFiles(REPO_ROOT), await devicePackages(REPO_ROOT)), [
      'dist/image/device-paths.js',
      'dist/image/grow-data-cli.js',
      'dist/image/grow-data.js',
      'dist/image/provision-cli.js',
      'dist/image/provision.js',
    ]);
  });

  test('device code reaching into host tools or a host-only package is refused; other loaded files ship', async () => {
    const root = join(dir, 'closure');
    await put(root, {
      'dist/bin/sidewalk.js': "import { x } from '../lib/x.js';",
      'dist/bin/areas.js':
        "{ commands: ['run'], device: true, load: async () => (await import('../runtime/cli.js')).r },\n{ commands: ['data'], load: async () => (await import('../host-tools/data/cli.js')).d },",
      'dist/lib/x.js': '',
      'dist/runtime/cli.js': "import Database from 'better-sqlite3';",
      'dist/host-tools/data/cli.js': '',
      'dist/image/provision.js': "import { y } from './paths.js';",
      'dist/image/paths.js': '',
    });
    const files = ['dist/bin/areas.js', 'dist/bin/sidewalk.js', 'dist/lib/x.js', 'dist/runtime/cli.js'];
    await assert.rejects(deviceClosureExtras(root, files, []), (e) => isSidewalkError(e, 'BUILD_BUNDLE_INCOMPLETE') && /package better-sqlite3/.test(e.message));
    await writeFile(join(root, 'dist/runtime/cli.js'), "import { d } from '../host-tools/data/cli.js';");
    await assert.rejects(deviceClosureExtras(root, files, []), (e) => isSidewalkError(e, 'BUILD_BUNDLE_INCOMPLETE') && /dist\/host-tools\/data\/cli\.js, which is host-only/.test(e.message));
    await writeFile(join(root, 'dist/runtime/cli.js'), "const p = await import('../image/provision.js');");
    assert.deepEqual(await deviceClosureExtras(root, files, []), ['dist/image/paths.js', 'dist/image/provision.js']);
  });
});

describe('manifest and reproducible tarball', () => {
  const head = {
    app: { name: 'sidewalk-guard', version: '9.9.9' },
    arch: 'arm64' as const,
    node: { package: NODE_ARM64.package, version: NODE_ARM64.version, integrity: NODE_ARM64.integrity },
    entry: 'bin/sidewalk',
  };

  async function tree(name: string, when: number, execMode: number): Promise<string> {
    const root = join(dir, name);
    await put(root, { 'bin/sidewalk': '#!/bin/sh\n', 'dist/b.js': 'b', 'dist/a.js': 'a', 'node_modules/z/index.js': 'z' });
    await chmod(join(root, 'bin/sidewalk'), execMode);
    await chmod(join(root, 'dist/a.js'), 0o600);
    for (const f of ['bin/sidewalk', 'dist/a.js', 'dist/b.js', 'node_modules/z/index.js']) await utimes(join(root, f), when, when);
    return root;
  }

  test('same files with other modes and times give the same manifest and the same tarball bytes', async () => {
    const sums: string[] = [];
    for (const [name, when, mode] of [
      ['one', 1_000_000, 0o700],
      ['two', 1_800_000_000, 0o755],
    ] as const) {
      const root = await tree(name, when, mode);
      await normalise(root, DEFAULT_EPOCH);
      const m = await writeManifest(root, head, DEFAULT_EPOCH);
      assert.deepEqual(
        m.files.map((f) => `${f.path} ${f.mode}`),
        ['bin/sidewalk 0755', 'dist/a.js 0644', 'dist/b.js 0644', 'node_modules/z/index.js 0644'],
      );
      assert.equal(m.files[1]!.sha256, createHash('sha256').update('a').digest('hex'));
      await packBundle(root, join(dir, `${name}.tar.gz`), m.epoch);
      sums.push(
        createHash('sha256')
          .update(await readFile(join(dir, `${name}.tar.gz`)))
          .digest('hex'),
      );
    }
    assert.equal(sums[0], sums[1]);
    const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvzf', join(dir, 'one.tar.gz')], { env: { ...process.env, TZ: 'UTC' } });
    const lines = stdout.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(/\s+/).at(-1)),
      ['./', './bin/', './bin/sidewalk', `./${MANIFEST_NAME}`, './dist/', './dist/a.js', './dist/b.js', './node_modules/', './node_modules/z/', './node_modules/z/index.js'],
    );
    for (const l of lines) {
      assert.match(l, /^[d-]r/, 'only folders and regular files (what the updater installs)');
      assert.match(l, / 0\/0 .* 2024-01-01 00:00:00 /);
    }
    assert.ok(!existsSync(join(dir, 'one.tar.gz.partial')));
  });

  test('verifyBundle names a changed, an extra and a missing file', async () => {
    const root = await tree('verify', 5, 0o755);
    await normalise(root, DEFAULT_EPOCH);
    await writeManifest(root, head, DEFAULT_EPOCH);
    assert.equal((await verifyBundle(root)).files.length, 4);
    const copy = async (n: string): Promise<string> => {
      await cp(root, join(dir, n), { recursive: true });
      return join(dir, n);
    };
    const changed = await copy('v-changed');
    await writeFile(join(changed, 'dist/b.js'), 'B');
    await assert.rejects(verifyBundle(changed), (e) => isSidewalkError(e, 'BUILD_BUNDLE_INVALID') && /dist\/b\.js: sha256/.test(e.message));
    const extra = await copy('v-extra');
    await writeFile(join(extra, 'dist/evil.js'), '');
    await assert.rejects(verifyBundle(extra), (e) => isSidewalkError(e, 'BUILD_BUNDLE_INVALID') && /evil\.js: not in/.test(e.message));
    const missing = await copy('v-missing');
    await writeFile(join(missing, 'dist/a.js'), 'a');
    await rm(join(missing, 'node_modules/z/index.js'));
    await assert.rejects(verifyBundle(missing), (e) => isSidewalkError(e, 'BUILD_BUNDLE_INVALID') && /missing, first node_modules\/z\/index\.js/.test(e.message));
  });
});

describe('Node pin and CLI errors', () => {
  test('a cached Node package whose integrity is not the pinned one is refused and removed', async () => {
    const cache = join(dir, 'cache-bad');
    const tgz = join(cache, `${NODE_ARM64.package}-${NODE_ARM64.version}.tgz`);
    await put(cache, { [`${NODE_ARM64.package}-${NODE_ARM64.version}.tgz`]: 'not node' });
    await assert.rejects(fetchNodeArm64(cache), (e) => isSidewalkError(e, 'BUILD_NODE_INTEGRITY') && e.message.includes(NODE_ARM64.integrity));
    assert.ok(!existsSync(tgz));
  });

  test('bad input to `artifact bundle` and `artifact app --bundle` fails cleanly, writing nothing', async () => {
    await put(dir, { 'not-a-bundle/keep.txt': 'mine', [`cli-cache/arm64/${NODE_ARM64.package}-${NODE_ARM64.version}.tgz`]: 'tampered' });
    await expectCleanFailure({ name: 'output holds other files', args: ['artifact', 'bundle', '-o', join(dir, 'not-a-bundle')], code: 'BUILD_BUNDLE_OUTPUT' });
    assert.equal(await readFile(join(dir, 'not-a-bundle/keep.txt'), 'utf8'), 'mine');
    await expectCleanFailure({
      name: 'bad SOURCE_DATE_EPOCH',
      args: ['artifact', 'bundle', '-o', join(dir, 'b1')],
      env: { SOURCE_DATE_EPOCH: 'yesterday' },
      code: 'BUILD_INVALID_OPTION',
      mustNotExist: [join(dir, 'b1')],
    });
    await expectCleanFailure({
      name: 'tampered Node download',
      args: ['artifact', 'bundle', '-o', join(dir, 'b2'), '--cache', join(dir, 'cli-cache')],
      code: 'BUILD_NODE_INTEGRITY',
      mustNotExist: [join(dir, 'b2')],
    });
    const out = join(dir, 'app.mender');
    await expectCleanFailure({
      name: 'not a bundle',
      args: ['artifact', 'app', '--bundle', join(dir, 'not-a-bundle'), '--unsigned', '-t', 'pi4', '-o', out],
      code: 'BUILD_BUNDLE_INVALID',
      mustNotExist: [out],
    });
  });
});
