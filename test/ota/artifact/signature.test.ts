import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { parsePublicKeys, verifyManifestSignature } from '../../../ota/artifact/signature.js';
import { isSidewalkError } from '../../../lib/errors.js';

const manifest = Buffer.from(`${'a'.repeat(64)}  version\n`);
const b64 = (b: Buffer): Buffer => Buffer.from(b.toString('base64'));

test('ECDSA P-256: raw r||s and DER encodings both verify and are told apart', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keys = parsePublicKeys([publicKey.export({ type: 'spki', format: 'pem' }) as string]);
  const raw = sign('sha256', manifest, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const der = sign('sha256', manifest, { key: privateKey, dsaEncoding: 'der' });
  assert.equal(raw.length, 64);
  assert.equal(verifyManifestSignature(manifest, b64(raw), keys), 'ecdsa-p256-raw');
  assert.equal(verifyManifestSignature(manifest, b64(der), keys), 'ecdsa-p256-der');
  assert.throws(
    () => verifyManifestSignature(Buffer.concat([manifest, Buffer.from('x')]), b64(der), keys),
    (e) => isSidewalkError(e, 'ARTIFACT_SIGNATURE_INVALID'),
  );
});

test('RSA: PKCS#1 v1.5 verifies, PSS over the same bytes does not', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = parsePublicKeys([publicKey.export({ type: 'spki', format: 'pem' }) as string]);
  assert.equal(verifyManifestSignature(manifest, b64(sign('sha256', manifest, privateKey)), keys), 'rsa-pkcs1v15');
  const pss = sign('sha256', manifest, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING });
  assert.throws(
    () => verifyManifestSignature(manifest, b64(pss), keys),
    (e) => isSidewalkError(e, 'ARTIFACT_SIGNATURE_INVALID'),
  );
});

test('keys that cannot verify Mender artifacts are refused up front', () => {
  const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  assert.throws(
    () => parsePublicKeys([ed]),
    (e) => isSidewalkError(e, 'ARTIFACT_KEY_INVALID') && /ed25519/.test(e.message),
  );
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  assert.throws(
    () => parsePublicKeys([p384]),
    (e) => isSidewalkError(e, 'ARTIFACT_KEY_INVALID'),
  );
});

test('a private key given as a verification key is refused: the signing key must never be on a scooter', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  for (const pem of [
    ec.export({ type: 'sec1', format: 'pem' }) as string, // "BEGIN EC PRIVATE KEY", what `openssl ecparam -genkey` writes
    ec.export({ type: 'pkcs8', format: 'pem' }) as string,
    rsa.export({ type: 'pkcs1', format: 'pem' }) as string,
  ]) {
    assert.throws(
      () => parsePublicKeys([pem], ['keys: /etc/sidewalk/artifact-verify.pem']),
      (e) => isSidewalkError(e, 'ARTIFACT_KEY_PRIVATE') && /artifact-verify\.pem is a PRIVATE key: the artifact signing key must never be on a scooter/.test(e.message),
    );
  }
});
