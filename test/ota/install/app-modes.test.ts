/**
 * App payloads from real sidewalk-app artifacts (built by the mender-artifact CLI from a small
 * bundle-like folder, as `sidewalk artifact app --bundle DIR` does): file modes survive the install,
 * and a payload whose files do not match its bundle-manifest.json is refused before it is switched to.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBundleArtifact } from '../../../build/bundle/artifact.js';
import { normalise, packBundle, writeManifest } from '../../../build/bundle/manifest.js';
import { writeArtifact } from '../../../build/mender-artifact-cli.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { openArtifactFile } from '../../../ota/artifact/reader.js';
import { nodeFs } from '../../../ota/fs.js';
import { stageBundle } from '../../../ota/install/payloads.js';
import { installedFileMode, VersionStore } from '../../../ota/install/store.js';
import { makeTempDir } from '../artifact/fixtures.js';

const EPOCH = 1704067200;
let dir: string;
let cleanup: () => Promise<void>;

/** A bundle-like folder: an executable launcher and node, a plain data file, and its manifest. */
async function makeBundle(name: string, version: string): Promise<string> {
  const root = join(dir, name);
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'node', 'bin'), { recursive: true });
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'bin', 'sidewalk'), '#!/bin/sh\necho sidewalk\n');
  writeFileSync(join(root, 'node', 'bin', 'node'), '#!/bin/sh\necho node\n');
  writeFileSync(join(root, 'dist', 'main.js'), `console.log(${JSON.stringify(version)})\n`);
  chmodSync(join(root, 'bin', 'sidewalk'), 0o755);
  chmodSync(join(root, 'node', 'bin', 'node'), 0o755);
  chmodSync(join(root, 'dist', 'main.js'), 0o644);
  await normalise(root, EPOCH);
  await writeManifest(root, { app: { name: 'sidewalk-guard', version }, arch: 'arm64', node: { package: 'node', version: '20.0.0', integrity: 'sha512-x' }, entry: 'bin/sidewalk' }, EPOCH);
  return root;
}

const open = (path: string) => openArtifactFile(path, { publicKeys: [], allowUnsigned: true });

describe('app store: modes and bundle manifest', () => {
  before(async () => {
    ({ dir, cleanup } = await makeTempDir('sidewalk-app-modes-'));
  });
  after(() => cleanup());

  test('installed mode: rwx bits kept, setuid/setgid/sticky and group/world write dropped', () => {
    assert.equal(installedFileMode(0o755), 0o755);
    assert.equal(installedFileMode(0o644), 0o644);
    assert.equal(installedFileMode(0o4755), 0o755);
    assert.equal(installedFileMode(0o2755), 0o755);
    assert.equal(installedFileMode(0o1777), 0o755);
    assert.equal(installedFileMode(0o666), 0o644);
  });

  test('an app installed from a real artifact keeps its executables executable and 0644 files 0644', async () => {
    const bundle = await makeBundle('good', '1.2.0');
    const out = join(dir, 'good.mender');
    await buildBundleArtifact({ bundleDir: bundle, deviceTypes: ['raspberrypi4'], output: out });
    const store = new VersionStore(nodeFs, join(dir, 'store-good'), 'app');
    const artifact = await open(out);
    const version = await stageBundle(store, artifact, '1.2.0');
    await artifact.close();
    await store.switchTo(version, null);
    const current = join(store.root, 'current');
    const mode = (rel: string) => statSync(join(current, rel)).mode & 0o7777;
    assert.equal(mode('bin/sidewalk'), 0o755);
    assert.equal(mode('node/bin/node'), 0o755);
    assert.equal(mode('dist/main.js'), 0o644);
    assert.equal(mode('bundle-manifest.json'), 0o644);
    assert.equal(readFileSync(join(current, 'dist', 'main.js'), 'utf8'), 'console.log("1.2.0")\n');
  });

  test('a payload whose file does not match its manifest is refused and the store is unchanged', async () => {
    const store = new VersionStore(nodeFs, join(dir, 'store-tamper'), 'app');
    // A good first install, so "unchanged" has something to keep.
    const good = join(dir, 'v1.mender');
    await buildBundleArtifact({ bundleDir: await makeBundle('v1', '1.0.0'), deviceTypes: ['raspberrypi4'], output: good });
    const first = await open(good);
    await store.switchTo(await stageBundle(store, first, '1.0.0'), null);
    await first.close();
    const before = readdirSync(store.versionsDir).sort();

    // Tampered after the manifest was written: the artifact's own checksums are right (the CLI signs
    // what it is given), only the bundle manifest disagrees.
    const bundle = await makeBundle('v2', '2.0.0');
    writeFileSync(join(bundle, 'dist', 'main.js'), 'console.log("evil")\n');
    const tarball = join(dir, 'sidewalk-app-2.0.0-arm64.tar.gz');
    await packBundle(bundle, tarball, EPOCH);
    const bad = join(dir, 'v2.mender');
    await writeArtifact({
      kind: 'module-image',
      type: 'sidewalk-app',
      name: 'sidewalk-app-2.0.0',
      deviceTypes: ['raspberrypi4'],
      output: bad,
      files: [tarball],
      softwareName: 'sidewalk-app',
      softwareVersion: '2.0.0',
    });
    const second = await open(bad);
    await assert.rejects(stageBundle(store, second, '2.0.0'), (err) => isSidewalkError(err, 'OTA_APP_MANIFEST') && /dist\/main\.js: sha256/.test(err.message));
    await second.close();
    assert.deepEqual(readdirSync(store.versionsDir).sort(), before, 'no staging left, no new version');
    assert.equal(await store.current(), '1.0.0');
    assert.equal(readFileSync(join(store.root, 'current', 'dist', 'main.js'), 'utf8'), 'console.log("1.0.0")\n');
  });

  test('a payload with an executable the manifest lists as 0644 is refused', async () => {
    const bundle = await makeBundle('modes', '3.0.0');
    chmodSync(join(bundle, 'dist', 'main.js'), 0o755);
    const tarball = join(dir, 'sidewalk-app-3.0.0-arm64.tar.gz');
    await packBundle(bundle, tarball, EPOCH);
    const out = join(dir, 'v3.mender');
    await writeArtifact({
      kind: 'module-image',
      type: 'sidewalk-app',
      name: 'sidewalk-app-3.0.0',
      deviceTypes: ['raspberrypi4'],
      output: out,
      files: [tarball],
      softwareName: 'sidewalk-app',
      softwareVersion: '3.0.0',
    });
    const store = new VersionStore(nodeFs, join(dir, 'store-modes'), 'app');
    const artifact = await open(out);
    await assert.rejects(stageBundle(store, artifact, '3.0.0'), (err) => isSidewalkError(err, 'OTA_APP_MANIFEST') && /dist\/main\.js: mode 0644/.test(err.message));
    await artifact.close();
    assert.deepEqual(readdirSync(store.versionsDir), []);
    assert.equal(await store.current(), null);
  });
});
