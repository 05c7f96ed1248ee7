import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { inspectArtifact, openArtifact, type ArtifactPolicy } from '../../../ota/artifact/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { chunked, cliValidates, collect, makeKeys, makeTempDir, menderArtifact, type TestKeys } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
let keys: TestKeys;
const big = randomBytes(300_000); // crosses many chunk and tar block boundaries
const small = Buffer.from('{"hello":"sidewalk"}\n');

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function moduleImage(out: string, extra: string[] = []): Promise<string> {
  const file = join(dir, out);
  await menderArtifact([
    'write',
    'module-image',
    '-T',
    'app-bundle',
    '-t',
    'raspberrypi4',
    '-t',
    'raspberrypi5',
    '-n',
    'sidewalk-app-1.0.0',
    '--software-name',
    'sidewalk-app',
    '--software-version',
    '1.0.0',
    '-p',
    'app.build:42',
    '-d',
    'rootfs-image.version:base-os-1',
    '-f',
    join(dir, 'big.bin'),
    '-f',
    join(dir, 'app.json'),
    '-m',
    join(dir, 'meta.json'),
    '-o',
    file,
    ...extra,
  ]);
  return file;
}

async function readAll(file: string, policy: ArtifactPolicy): Promise<Map<string, Buffer>> {
  const opened = await openArtifact(chunked(await readFile(file)), policy);
  const out = new Map<string, Buffer>();
  for await (const p of opened.payloads()) out.set(p.name, await collect(p.stream));
  return out;
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-artifact-reader-'));
  keys = await makeKeys(dir);
  await writeFile(join(dir, 'big.bin'), big);
  await writeFile(join(dir, 'app.json'), small);
  await writeFile(join(dir, 'meta.json'), JSON.stringify({ target: '/opt/app', restart: true }));
  await writeFile(join(dir, 'ArtifactInstall_Enter_00'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await writeFile(join(dir, 'ArtifactCommit_Leave_10_notify'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
});
after(() => cleanup());

describe('reader on artifacts written by mender-artifact 3.9.0', () => {
  test('EC-signed module-image: description, raw ECDSA signature, payload bytes', async () => {
    const file = await moduleImage('ec.mender', ['-k', keys.ecPrivate]);
    assert.ok(await cliValidates(file, keys.ecPublic));
    const info = await inspectArtifact(file, { publicKeys: [keys.ecPublicPem], deviceType: 'raspberrypi5' });
    assert.equal(info.name, 'sidewalk-app-1.0.0');
    assert.equal(info.payloadType, 'app-bundle');
    assert.deepEqual(info.deviceTypes, ['raspberrypi4', 'raspberrypi5']);
    assert.deepEqual(info.signature, { scheme: 'ecdsa-p256-raw', verified: true });
    assert.equal(info.compression, 'gzip');
    assert.equal(info.provides['app.build'], '42');
    assert.equal(info.provides['rootfs-image.sidewalk-app.version'], '1.0.0');
    assert.equal(info.provides.artifact_name, 'sidewalk-app-1.0.0');
    assert.deepEqual(info.depends, { 'rootfs-image.version': 'base-os-1' });
    assert.deepEqual(info.clearsProvides, ['rootfs-image.sidewalk-app.*']);
    assert.deepEqual(info.metaData, { restart: true, target: '/opt/app' });
    assert.deepEqual(info.files, [
      { name: 'big.bin', size: big.length, sha256: sha(big) },
      { name: 'app.json', size: small.length, sha256: sha(small) },
    ]);
    const data = await readAll(file, { publicKeys: [keys.ecPublicPem] });
    assert.ok(data.get('big.bin')!.equals(big));
    assert.ok(data.get('app.json')!.equals(small));
  });

  test('RSA-signed (PKCS#1 v1.5) and `mender-artifact sign` of an unsigned file', async () => {
    const rsa = await moduleImage('rsa.mender', ['-k', keys.rsaPrivate]);
    const info = await inspectArtifact(rsa, { publicKeys: [keys.ecPublicPem, keys.rsaPublicPem] });
    assert.deepEqual(info.signature, { scheme: 'rsa-pkcs1v15', verified: true });
    const unsigned = await moduleImage('unsigned-for-sign.mender');
    const signed = join(dir, 'signed-later.mender');
    await menderArtifact(['sign', '-k', keys.ecPrivate, '-o', signed, unsigned]);
    assert.equal((await inspectArtifact(signed, { publicKeys: [keys.ecPublicPem] })).signature?.verified, true);
  });

  for (const compression of ['gzip', 'lzma', 'none'] as const) {
    test(`compression ${compression}: data streams back intact`, async () => {
      const file = await moduleImage(`c-${compression}.mender`, ['--compression', compression, '-k', keys.ecPrivate]);
      const info = await inspectArtifact(file, { publicKeys: [keys.ecPublicPem] });
      assert.equal(info.compression, { gzip: 'gzip', lzma: 'xz', none: 'none' }[compression]);
      const data = await readAll(file, { publicKeys: [keys.ecPublicPem] });
      assert.ok(data.get('big.bin')!.equals(big));
    });
  }

  test('state scripts are listed; rootfs-image with the empty type-info type reads as rootfs-image', async () => {
    const file = join(dir, 'rootfs.mender');
    await menderArtifact([
      'write',
      'rootfs-image',
      '--no-progress',
      '-t',
      'raspberrypi4',
      '-n',
      'os-2025.01',
      '--software-version',
      '2025.01',
      '-N',
      'os-2024.12',
      '-g',
      'stable',
      '-G',
      'beta',
      '-f',
      join(dir, 'big.bin'),
      '-s',
      join(dir, 'ArtifactInstall_Enter_00'),
      '-s',
      join(dir, 'ArtifactCommit_Leave_10_notify'),
      '--compression',
      'lzma',
      '-k',
      keys.rsaPrivate,
      '-o',
      file,
    ]);
    const info = await inspectArtifact(file, { publicKeys: [keys.rsaPublicPem] });
    assert.equal(info.payloadType, 'rootfs-image');
    assert.deepEqual([...info.scripts!].sort(), ['ArtifactCommit_Leave_10_notify', 'ArtifactInstall_Enter_00']);
    assert.equal(info.provides['rootfs-image.version'], '2025.01');
    assert.equal(info.provides['rootfs-image.checksum'], sha(big));
    assert.equal(info.provides.artifact_group, 'stable');
    assert.deepEqual(info.depends, { artifact_name: ['os-2024.12'], artifact_group: ['beta'] });
    assert.deepEqual(info.metaData, {});
    // depends are checked against the device's provides
    const ok = { publicKeys: [keys.rsaPublicPem], deviceProvides: { artifact_name: 'os-2024.12', artifact_group: 'beta' } };
    assert.equal((await inspectArtifact(file, ok)).name, 'os-2025.01');
    await assert.rejects(
      inspectArtifact(file, { ...ok, deviceProvides: { artifact_name: 'os-2024.11', artifact_group: 'beta' } }),
      (err) => isSidewalkError(err, 'ARTIFACT_DEPENDS_UNMET') && /artifact_name/.test(err.message),
    );
  });

  test('bootstrap artifact: no payload type, no files', async () => {
    const file = join(dir, 'bootstrap.mender');
    await menderArtifact(['write', 'bootstrap-artifact', '--no-progress', '-t', 'raspberrypi4', '-n', 'bootstrap-1', '-k', keys.ecPrivate, '-o', file]);
    const info = await inspectArtifact(file, { publicKeys: [keys.ecPublicPem] });
    assert.equal(info.name, 'bootstrap-1');
    assert.equal(info.payloadType, '');
    assert.deepEqual(info.files, []);
  });

  test('payload streams may be skipped or half read; the reader still verifies them and reads on', async () => {
    const file = join(dir, 'ec.mender');
    const opened = await openArtifact(createReadStream(file, { highWaterMark: 4096 }), { publicKeys: [keys.ecPublicPem] });
    assert.equal(opened.info.files[0]!.size, big.length, 'first payload size known on open');
    assert.equal(opened.info.files[1]!.size, -1, 'later sizes only once reached');
    const names: string[] = [];
    for await (const p of opened.payloads()) {
      names.push(p.name);
      if (p.name === 'big.bin') {
        for await (const c of p.stream) {
          assert.ok((c as Buffer).length > 0);
          break; // read one chunk, abandon the rest
        }
      }
    }
    assert.deepEqual(names, ['big.bin', 'app.json']);
    assert.equal(opened.info.files[1]!.size, small.length);
    await opened.close();
  });

  test('close() before reading payloads releases the source', async () => {
    const source = createReadStream(join(dir, 'c-lzma.mender'));
    const opened = await openArtifact(source, { publicKeys: [keys.ecPublicPem] });
    await opened.close();
    assert.equal(source.destroyed, true);
  });

  test('close() while a payload read is stalled on the source settles and kills the decompressor', async () => {
    const bytes = await readFile(join(dir, 'c-lzma.mender'));
    const source = new Readable({ read() {} });
    source.push(bytes.subarray(0, bytes.length - 30_000)); // then the "network" stalls forever
    const opened = await openArtifact(source, { publicKeys: [keys.ecPublicPem] });
    for await (const p of opened.payloads()) {
      const failed = new Promise<unknown>((resolve) => p.stream.on('error', resolve).on('close', () => resolve(null)));
      await once(p.stream, 'data');
      await Promise.race([opened.close(), new Promise((_, reject) => AbortSignal.timeout(10_000).addEventListener('abort', () => reject(new Error('close() hung'))))]);
      await failed;
      assert.equal(p.stream.readableEnded, false, 'a cut-off payload never ends cleanly');
      break;
    }
    assert.equal(source.destroyed, true);
  });

  test('device type and type-info depends policy', async () => {
    const file = join(dir, 'ec.mender');
    await assert.rejects(
      inspectArtifact(file, { publicKeys: [keys.ecPublicPem], deviceType: 'raspberrypi3' }),
      (err) => isSidewalkError(err, 'ARTIFACT_DEVICE_TYPE') && /raspberrypi3/.test(err.message),
    );
    await assert.rejects(
      inspectArtifact(file, { publicKeys: [keys.ecPublicPem], deviceProvides: { 'rootfs-image.version': 'base-os-0' } }),
      (err) => isSidewalkError(err, 'ARTIFACT_DEPENDS_UNMET') && /rootfs-image\.version/.test(err.message),
    );
    const info = await inspectArtifact(file, { publicKeys: [keys.ecPublicPem], deviceProvides: { 'rootfs-image.version': 'base-os-1' } });
    assert.equal(info.name, 'sidewalk-app-1.0.0');
  });
});
