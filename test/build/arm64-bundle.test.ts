/**
 * The real arm64 app bundle (default suite, build/README.md; about 100 s on a quiet 2-core machine).
 * Built twice into different folders -> byte-identical tarballs; only device code, every binary
 * AArch64; then the bundle's own Node and CLI run under qemu-user, and its `sidewalk replay` of the
 * sample ride gives exactly the x86-64 run's class counts and limit activations. Needs the Debian
 * packages qemu-user-static, libc6-arm64-cross, libstdc++6-arm64-cross, g++-aarch64-linux-gnu and
 * gcc-aarch64-linux-gnu (scripts/apt-packages.txt) and, on first use, the npm registry for the pinned Node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildBundleArtifact } from '../../build/bundle/artifact.js';
import { buildAppBundle, packBundle, verifyBundle, type BundleManifest } from '../../build/bundle/index.js';
import { EM_AARCH64, NODE_ARM64, elfMachine } from '../../build/bundle/node-arm64.js';
import { createReadStream } from 'node:fs';
import { ByteReader } from '../../ota/artifact/byte-reader.js';
import { decompress } from '../../ota/artifact/decompress.js';
import { inspectArtifact } from '../../ota/artifact/index.js';
import { TarReader } from '../../ota/artifact/tar.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeKeys, makeTempDir, type TestKeys } from '../ota/artifact/fixtures.js';

const run = promisify(execFile);
/** Debian's arm64 cross libc (libc6-arm64-cross) is the sysroot qemu-user loads the dynamic Node with. */
const SYSROOT = process.env.SIDEWALK_ARM64_SYSROOT ?? '/usr/aarch64-linux-gnu';
const QEMU = process.env.SIDEWALK_QEMU_AARCH64 ?? 'qemu-aarch64-static';

let dir: string;
let cleanup: () => Promise<void>;
let keys: TestKeys;
let bundle: string;
let manifest: BundleManifest;
const tarballs: string[] = [];
const sha256 = async (f: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

/** Runs the bundle's Node under qemu-user (no binfmt needed; spawned host binaries such as ffmpeg run natively). */
function qemuNode(args: string[], cwd = REPO_ROOT): Promise<{ stdout: string; stderr: string }> {
  return run(QEMU, ['-L', SYSROOT, join(bundle, 'node/bin/node'), ...args], { cwd, maxBuffer: 16 << 20, env: { ...process.env, SIDEWALK_LOG: 'info' } });
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-arm64-'));
  keys = await makeKeys(dir);
  for (const name of ['first', 'second']) {
    const started = Date.now();
    const r = await buildAppBundle({ out: join(dir, name, 'opt-sidewalk') });
    const tarball = join(dir, `${name}.tar.gz`);
    await packBundle(r.dir, tarball, r.manifest.epoch);
    tarballs.push(tarball);
    const { size } = await stat(tarball);
    console.log(`# ${name} bundle: ${r.manifest.files.length} files, ${(r.bytes / 1e6).toFixed(1)} MB, tarball ${(size / 1e6).toFixed(1)} MB, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    bundle = r.dir;
    manifest = r.manifest;
  }
});
after(() => cleanup());

describe('arm64 app bundle', () => {
  test('two builds in different folders give byte-identical tarballs; the folder matches its manifest', async () => {
    assert.equal(await sha256(tarballs[0]!), await sha256(tarballs[1]!));
    const checked = await verifyBundle(bundle);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    assert.deepEqual(checked.app, { name: pkg.name, version: pkg.version });
    assert.equal(checked.arch, 'arm64');
    assert.deepEqual(checked.node, { package: NODE_ARM64.package, version: NODE_ARM64.version, integrity: NODE_ARM64.integrity });
  });

  test("the updater's tar reader reads the tarball: folders and files only, each matching the manifest", async () => {
    const tar = new TarReader(new ByteReader(decompress(createReadStream(tarballs[0]!), 'gzip', 'bundle'), 'bundle'));
    const expected = new Map(manifest.files.map((f) => [f.path, f]));
    let files = 0;
    for (let e = await tar.next(); e; e = await tar.next()) {
      assert.ok(e.type === '0' || e.type === '5', `${e.name}: tar type ${e.type}`);
      if (e.type === '5') continue;
      const name = e.name.replace(/^\.\//, '');
      const hash = createHash('sha256');
      for await (const chunk of tar.body(e)) hash.update(chunk);
      if (name === 'bundle-manifest.json') continue;
      const f = expected.get(name);
      assert.ok(f, `${name} is not in the manifest`);
      assert.equal(e.size, f.size, name);
      assert.equal(hash.digest('hex'), f.sha256, name);
      files++;
    }
    assert.equal(files, manifest.files.length);
  });

  test('device code only, and every binary in it is AArch64', async () => {
    const paths = manifest.files.map((f) => f.path);
    const hostOnly = paths.filter((p) => /^(node_modules\/(better-sqlite3|playwright-core|typescript)|dist\/(host-tools|test|bench|build))\//.test(p));
    assert.deepEqual(hostOnly, []);
    const natives = [
      'node/bin/node',
      'node_modules/tfjs-tflite-node/build/Release/node_tflite_binding.node',
      'node_modules/unix-dgram/build/Release/unix_dgram.node',
      'dist/native/libsidewalk_xnnpack.so',
      'node_modules/tfjs-tflite-node/cc_deps/linux_arm64/libtensorflowlite_c.so',
    ];
    for (const p of natives) assert.equal(await elfMachine(join(bundle, p)), EM_AARCH64, p);
    let elves = 0;
    for (const p of paths) {
      const m = await elfMachine(join(bundle, p));
      if (m !== null) {
        elves++;
        assert.equal(m, EM_AARCH64, p);
      }
    }
    assert.ok(elves >= natives.length);
    assert.equal(manifest.files.find((f) => f.path === 'bin/sidewalk')?.mode, '0755');
  });

  test("the bundle's CLI offers only the device commands (host Node, JS only)", async () => {
    const { stdout } = await run(process.execPath, [join(bundle, 'dist/bin/sidewalk.js'), '--help']);
    for (const c of ['run', 'replay', 'config', 'ota']) assert.match(stdout, new RegExp(`^  ${c}\\b`, 'm'));
    for (const c of ['train', 'data', 'artifact', 'models', 'pipeline', 'eval']) assert.doesNotMatch(stdout, new RegExp(`^  ${c}\\b`, 'm'));
  });

  test("under qemu-aarch64: the bundle's Node is the pinned arm64 one and loads its arm64 addons", async () => {
    const { stdout } = await qemuNode(
      ['-e', ["require('unix-dgram');", "const t = require('tfjs-tflite-node');", 'console.log(process.version, process.arch, typeof t.TFLiteNodeModelRunner);'].join('\n')],
      bundle,
    );
    assert.equal(stdout.trim(), `v${NODE_ARM64.version} arm64 function`);
  });

  test("under qemu-aarch64: the bundle's `sidewalk replay` of the sample ride matches the x86-64 run exactly", async () => {
    const args = ['replay', 'demo/sample-ride.mp4', '--model', 'demo/model', '--json'];
    const x86 = JSON.parse((await run(process.execPath, [join(REPO_ROOT, 'dist/bin/sidewalk.js'), ...args], { cwd: REPO_ROOT })).stdout) as Record<string, unknown>;
    const arm = await qemuNode([join(bundle, 'dist/bin/sidewalk.js'), ...args]);
    const arm64 = JSON.parse(arm.stdout) as Record<string, unknown>;
    assert.match(arm.stderr, /xnnpack/, 'the arm64 XNNPACK shim was used');
    for (const key of ['frames', 'classCounts', 'limitActivations', 'sidewalkShare', 'failSafeFrames', 'timeToLimitS']) {
      assert.deepEqual(arm64[key], x86[key], key);
    }
    assert.ok((x86.frames as number) > 0 && (x86.limitActivations as number) > 0);
    console.log(`# replay fps: x86-64 ${String(x86.processingFps)}, arm64 under qemu-user ${String(arm64.processingFps)} (sanity numbers, not a Pi figure)`);
  });

  test('sidewalk-app artifact from the bundle: signed, verifiable, its payload the reproducible tarball', async () => {
    const out = join(dir, 'app.mender');
    const info = await buildBundleArtifact({ bundleDir: bundle, deviceTypes: ['raspberrypi4'], output: out, privateKeyPath: keys.ecPrivate });
    assert.equal(info.payloadType, 'sidewalk-app');
    assert.equal(info.provides['rootfs-image.sidewalk-app.version'], manifest.app.version);
    const verified = await inspectArtifact(out, { publicKeys: [keys.ecPublicPem], deviceType: 'raspberrypi4' });
    assert.equal(verified.signature?.verified, true);
    assert.equal(verified.files.length, 1);
    assert.equal(verified.files[0]!.sha256, await sha256(tarballs[0]!));
  });
});
