import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, publicKeyPemOf, toCliPrivateKeyPem, writeSigningKey } from '../../build/keys.js';
import { runMenderArtifact, validateWithCli, writeArtifact } from '../../build/mender-artifact-cli.js';
import { isSidewalkError } from '../../lib/errors.js';
import { makeTempDir } from '../ota/artifact/fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-keys-'));
  await writeFile(join(dir, 'payload.bin'), 'payload\n');
});
after(() => cleanup());

describe('signing keys for mender-artifact 3.9.0', () => {
  test('EC is SEC1 "EC PRIVATE KEY", RSA is PKCS#1 "RSA PRIVATE KEY" 3072-bit', () => {
    const ec = generateSigningKey('ec');
    assert.match(ec.privateKeyPem, /^-----BEGIN EC PRIVATE KEY-----/);
    assert.match(ec.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
    const rsa = generateSigningKey('rsa');
    assert.match(rsa.privateKeyPem, /^-----BEGIN RSA PRIVATE KEY-----/);
    assert.equal(publicKeyPemOf(rsa.privateKeyPem, 'rsa'), rsa.publicKeyPem);
  });

  test('keygen files sign artifacts that mender-artifact validates; keys are never overwritten', async () => {
    const keyDir = join(dir, 'keys');
    for (const type of ['ec', 'rsa'] as const) {
      const paths = await writeSigningKey(keyDir, type);
      assert.equal((await stat(paths.privateKeyPath)).mode & 0o777, 0o600);
      const out = join(dir, `${type}.mender`);
      const info = await writeArtifact({
        kind: 'module-image',
        type: 'x',
        name: `k-${type}`,
        deviceTypes: ['d'],
        output: out,
        files: [join(dir, 'payload.bin')],
        privateKeyPath: paths.privateKeyPath,
      });
      assert.equal(info.signature?.scheme, type === 'ec' ? 'ecdsa-p256-raw' : 'rsa-pkcs1v15');
      await validateWithCli(out, paths.publicKeyPath);
      await assert.rejects(writeSigningKey(keyDir, type), (err) => isSidewalkError(err, 'BUILD_KEY_EXISTS'));
    }
  });

  test('PKCS#8 keys (refused by 3.9.0 itself) are converted and sign fine', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const pkcs8 = join(dir, 'pkcs8.pem');
    await writeFile(pkcs8, privateKey, { mode: 0o600 });
    // The quirk we work around: the CLI refuses PKCS#8.
    const raw = await runMenderArtifact(['write', 'module-image', '-T', 'x', '-t', 'd', '-n', 'n', '-f', join(dir, 'payload.bin'), '-k', pkcs8, '-o', join(dir, 'raw.mender')]);
    assert.match(raw.stderr, /PKCS8|pkcs8/i);
    assert.match(toCliPrivateKeyPem(privateKey, pkcs8), /^-----BEGIN EC PRIVATE KEY-----/);
    const info = await writeArtifact({ kind: 'module-image', type: 'x', name: 'p8', deviceTypes: ['d'], output: join(dir, 'p8.mender'), files: [join(dir, 'payload.bin')], privateKeyPath: pkcs8 });
    assert.equal(info.signature?.verified, true);
  });

  test('ed25519 and P-384 keys are refused before the CLI runs', () => {
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(
      () => toCliPrivateKeyPem(ed, 'ed.pem'),
      (err) => isSidewalkError(err, 'BUILD_KEY_INVALID'),
    );
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    assert.throws(
      () => toCliPrivateKeyPem(p384, 'p384.pem'),
      (err) => isSidewalkError(err, 'BUILD_KEY_INVALID') && /P-256/.test(err.message),
    );
  });

  test('validate with an unreadable key exits 0 in 3.9.0 but is caught from its output', async () => {
    const info = await writeArtifact({ kind: 'module-image', type: 'x', name: 'v', deviceTypes: ['d'], output: join(dir, 'v.mender'), files: [join(dir, 'payload.bin')] });
    assert.equal(info.signature, null);
    const r = await runMenderArtifact(['validate', '-k', join(dir, 'missing.pem'), join(dir, 'v.mender')]);
    assert.equal(r.code, 0, 'the quirk this wrapper exists for');
    await assert.rejects(validateWithCli(join(dir, 'v.mender'), join(dir, 'missing.pem')), (err) => isSidewalkError(err, 'BUILD_VALIDATE_FAILED'));
    assert.ok((await readFile(join(dir, 'v.mender'))).length > 0);
  });
});
