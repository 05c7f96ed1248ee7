import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildAppArtifact, buildRootfsArtifact } from '../../build/artifact-app.js';
import { buildModelArtifact } from '../../build/artifact-model.js';
import { writeArtifact } from '../../build/mender-artifact-cli.js';
import { isSidewalkError } from '../../lib/errors.js';
import { inspectArtifact, openArtifact } from '../../ota/artifact/index.js';
import type { ModelManifest } from '../../runtime/inference/manifest-types.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { cliValidates, collect, makeKeys, makeTempDir, type TestKeys } from '../ota/artifact/fixtures.js';

const run = promisify(execFile);
let dir: string;
let cleanup: () => Promise<void>;
let keys: TestKeys;

/** A copy of the inference area's float fixture bundle (a real TFLite model) with manifest changes. */
async function writeBundle(bundle: string, patch: Partial<ModelManifest> = {}): Promise<Buffer> {
  const src = join(REPO_ROOT, 'test', 'fixtures', 'models', 'float');
  await mkdir(bundle, { recursive: true });
  await cp(join(src, 'model.tflite'), join(bundle, 'model.tflite'));
  const manifest = {
    ...(JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8')) as ModelManifest),
    name: 'sidewalk-la',
    version: '1.2.0',
    location: 'LA',
    min_app_version: '0.3.0',
    demo_only: false,
    ...patch,
  };
  await writeFile(join(bundle, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return readFile(join(bundle, 'model.tflite'));
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-build-'));
  keys = await makeKeys(dir);
});
after(() => cleanup());

describe('artifacts written by build/', () => {
  test('model bundle -> signed sidewalk-model module-image', async () => {
    const bundle = join(dir, 'bundle');
    const model = await writeBundle(bundle);
    const out = join(dir, 'model.mender');
    const info = await buildModelArtifact({ bundleDir: bundle, deviceTypes: ['raspberrypi4', 'raspberrypi5'], output: out, privateKeyPath: keys.ecPrivate });
    assert.ok(await cliValidates(out, keys.ecPublic));
    assert.equal(info.name, 'sidewalk-model-sidewalk-la-1.2.0');
    assert.equal(info.payloadType, 'sidewalk-model');
    assert.equal(info.provides['rootfs-image.sidewalk-model.version'], '1.2.0');
    assert.equal(info.provides['rootfs-image.sidewalk-model.location'], 'LA');
    assert.deepEqual(info.clearsProvides, ['rootfs-image.sidewalk-model.*']);
    assert.equal(info.metaData.min_app_version, '0.3.0');
    assert.deepEqual(
      info.files.map((f) => f.name),
      ['manifest.json', 'model.tflite'],
    );
    // The device side: min_app_version is enforced against the installed app's version.
    const policy = { publicKeys: [keys.ecPublicPem], deviceType: 'raspberrypi5' };
    await assert.rejects(
      inspectArtifact(out, { ...policy, deviceProvides: { 'rootfs-image.sidewalk-app.version': '0.2.9' } }),
      (err) => isSidewalkError(err, 'ARTIFACT_DEPENDS_UNMET') && /min_app_version/.test(err.message),
    );
    assert.equal((await inspectArtifact(out, { ...policy, deviceProvides: { 'rootfs-image.sidewalk-app.version': '0.10.0' } })).name, info.name);
    const opened = await openArtifact(createReadStream(out), policy);
    for await (const p of opened.payloads()) if (p.name === 'model.tflite') assert.ok((await collect(p.stream)).equals(model));
  });

  test('bundles that do not match their manifest, and demo models, are refused', async () => {
    const bundle = join(dir, 'bad-bundle');
    const model = await writeBundle(bundle);
    model[model.length - 1] = model[model.length - 1]! ^ 1;
    await writeFile(join(bundle, 'model.tflite'), model);
    await assert.rejects(
      buildModelArtifact({ bundleDir: bundle, deviceTypes: ['d'], output: join(dir, 'x.mender'), privateKeyPath: keys.ecPrivate }),
      (err) => isSidewalkError(err) && err.code.startsWith('MODEL_') && /model\.tflite/.test(err.message),
    );
    const spaced = join(dir, 'spaced-bundle');
    await writeBundle(spaced, { version: '1.2.0 beta' });
    await assert.rejects(
      buildModelArtifact({ bundleDir: spaced, deviceTypes: ['d'], output: join(dir, 'x.mender'), privateKeyPath: keys.ecPrivate }),
      (err) => isSidewalkError(err) && /version/.test(err.message),
    );
    const demo = join(dir, 'demo-bundle');
    await writeBundle(demo, { demo_only: true });
    await assert.rejects(buildModelArtifact({ bundleDir: demo, deviceTypes: ['d'], output: join(dir, 'y.mender'), privateKeyPath: keys.ecPrivate }), (err) => isSidewalkError(err, 'BUILD_DEMO_MODEL'));
    const info = await buildModelArtifact({ bundleDir: demo, deviceTypes: ['d'], output: join(dir, 'y.mender'), privateKeyPath: keys.ecPrivate, allowDemo: true });
    assert.equal(info.metaData.demo_only, true);
  });

  test('app -> sidewalk-app module-image whose payload is a tarball of the runtime', async () => {
    const root = join(dir, 'repo');
    await mkdir(join(root, 'dist', 'bin'), { recursive: true });
    await mkdir(join(root, 'dist', 'test'), { recursive: true });
    await writeFile(join(root, 'dist', 'bin', 'sidewalk.js'), 'console.log(1)\n');
    await writeFile(join(root, 'dist', 'test', 'x.test.js'), '');
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'sidewalk-guard', version: '0.4.1' }));
    await writeFile(join(root, 'package-lock.json'), '{}');
    const out = join(dir, 'app.mender');
    const info = await buildAppArtifact({ repoRoot: root, deviceTypes: ['raspberrypi5'], output: out, privateKeyPath: keys.rsaPrivate, compression: 'lzma' });
    assert.equal(info.name, 'sidewalk-app-0.4.1');
    assert.equal(info.payloadType, 'sidewalk-app');
    assert.equal(info.compression, 'xz');
    assert.equal(info.provides['rootfs-image.sidewalk-app.version'], '0.4.1');
    assert.ok(await cliValidates(out, keys.rsaPublic));
    const opened = await openArtifact(createReadStream(out), { publicKeys: [keys.rsaPublicPem] });
    for await (const p of opened.payloads()) {
      const tgz = join(dir, p.name);
      await writeFile(tgz, await collect(p.stream));
      const { stdout } = await run('tar', ['-tzf', tgz]);
      const names = stdout.split('\n').filter(Boolean);
      assert.ok(names.includes('dist/bin/sidewalk.js') && names.includes('package.json') && names.includes('package-lock.json'), names.join(' '));
      assert.ok(!names.some((n) => n.startsWith('dist/test')), 'tests are not shipped');
    }
  });

  test('rootfs: rootfs-image and module rootfs-tryboot with the standard version key', async () => {
    const image = join(dir, 'rootfs.ext4');
    await writeFile(image, randomBytes(10_000));
    const plain = await buildRootfsArtifact({ image, name: 'os-2025.01', deviceTypes: ['raspberrypi4'], output: join(dir, 'os.mender'), privateKeyPath: keys.ecPrivate });
    assert.equal(plain.payloadType, 'rootfs-image');
    assert.equal(plain.provides['rootfs-image.version'], 'os-2025.01');
    const tb = await buildRootfsArtifact({
      image,
      name: 'os-2025.02',
      softwareVersion: '2025.02',
      tryboot: true,
      deviceTypes: ['raspberrypi5'],
      output: join(dir, 'tb.mender'),
      privateKeyPath: keys.ecPrivate,
      compression: 'none',
    });
    assert.equal(tb.payloadType, 'rootfs-tryboot');
    assert.deepEqual(tb.provides, { artifact_name: 'os-2025.02', 'rootfs-image.version': '2025.02' });
    assert.deepEqual(tb.clearsProvides, ['rootfs-image.*']);
    assert.equal(tb.compression, 'none');
  });

  test('CLI failures surface as errors even where 3.9.0 is unreliable', async () => {
    const script = join(dir, 'Download_Enter_00');
    await writeFile(script, '#!/bin/sh\n');
    await assert.rejects(
      writeArtifact({ kind: 'module-image', type: 'x', name: 'n', deviceTypes: ['d'], output: join(dir, 'bad.mender'), scripts: [script] }),
      (err) => isSidewalkError(err, 'BUILD_CLI_FAILED') && /Download/.test(err.message),
    );
    await assert.rejects(writeArtifact({ kind: 'module-image', type: 'x', name: 'n', deviceTypes: ['d'], output: join(dir, 'bad.mender'), files: [join(dir, 'nope')] }), (err) =>
      isSidewalkError(err, 'BUILD_CLI_FAILED'),
    );
  });
});

describe('`sidewalk artifact` commands', () => {
  const cli = join(REPO_ROOT, 'dist', 'test', 'build', 'artifact-cli-entry.js');
  test('keygen, rootfs, verify --json; verify exits non-zero with the code on a wrong key or device type', async () => {
    const keyDir = join(dir, 'cli-keys');
    await run(process.execPath, [cli, 'artifact', 'keygen', '--type', 'ec', '--out', keyDir]);
    const image = join(dir, 'img.bin');
    await writeFile(image, 'image');
    const out = join(dir, 'cli.mender');
    await run(process.execPath, [cli, 'artifact', 'rootfs', image, '-n', 'os-9', '-t', 'pi5', '-k', join(keyDir, 'ec-private.pem'), '-o', out]);
    const { stdout } = await run(process.execPath, [cli, 'artifact', 'verify', out, '-k', join(keyDir, 'ec-public.pem'), '-t', 'pi5', '--json']);
    const info = JSON.parse(stdout) as { name: string; signature: { scheme: string } };
    assert.equal(info.name, 'os-9');
    assert.equal(info.signature.scheme, 'ecdsa-p256-raw');
    await assert.rejects(run(process.execPath, [cli, 'artifact', 'verify', out, '-k', keys.ecPublic]), (err: { code?: number; stderr?: string }) => {
      assert.notEqual(err.code, 0);
      assert.match(err.stderr ?? '', /ARTIFACT_SIGNATURE_INVALID/);
      return true;
    });
    await assert.rejects(run(process.execPath, [cli, 'artifact', 'verify', out, '-k', join(keyDir, 'ec-public.pem'), '-t', 'pi4']), (err: { stderr?: string }) =>
      /ARTIFACT_DEVICE_TYPE/.test(err.stderr ?? ''),
    );
    await assert.rejects(run(process.execPath, [cli, 'artifact', 'rootfs', image, '-n', 'x', '-t', 'pi5', '-o', out]), (err: { stderr?: string }) => /--key/.test(err.stderr ?? ''));
  });
});
