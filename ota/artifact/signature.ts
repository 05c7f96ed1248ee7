import { createPrivateKey, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { SidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { SignatureScheme } from './types.js';

/**
 * manifest.sig: base64 of a signature over the raw manifest bytes, SHA-256.
 * RSA: PKCS#1 v1.5 (not PSS). ECDSA P-256: raw 64-byte r||s (what mender-artifact writes) or ASN.1 DER
 * (HSM/KMS signers, accepted by mender-artifact >= 4.0.0 only).
 */
export function parsePublicKeys(pems: string[], names: string[] = []): KeyObject[] {
  return pems.map((pem, i) => {
    const name = names[i] ?? `public key #${i + 1}`;
    // createPublicKey would accept a private key too (deriving its public half): refuse it instead, as
    // a device holding the signing key could sign any artifact it is offered.
    if (isPrivateKey(pem)) {
      throw new SidewalkError(
        E.KEY_PRIVATE,
        `${name} is a PRIVATE key: the artifact signing key must never be on a scooter; give the public key (\`openssl pkey -in KEY -pubout\`) and keep the private one on the build host`,
      );
    }
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw new SidewalkError(E.KEY_INVALID, `${name}: not a PEM public key (${(err as Error).message})`, { cause: err });
    }
    const type = key.asymmetricKeyType;
    if (type === 'rsa') return key;
    if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key;
    throw new SidewalkError(E.KEY_INVALID, `${name}: ${type} ${key.asymmetricKeyDetails?.namedCurve ?? ''} keys cannot verify Mender artifacts (RSA or ECDSA P-256 only)`);
  });
}

function isPrivateKey(pem: string): boolean {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return true;
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

function decodeSignature(sigFile: Buffer): Buffer {
  const text = sigFile.toString('latin1').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new SidewalkError(E.SIGNATURE_INVALID, `manifest.sig: not standard base64 (${sigFile.length} bytes)`);
  }
  return Buffer.from(text, 'base64');
}

/** Scheme implied by the signature's length alone (used when no key is given). */
function guessScheme(sig: Buffer): SignatureScheme {
  if (sig.length === 64) return 'ecdsa-p256-raw';
  if (sig.length >= 8 && sig.length <= 72 && sig[0] === 0x30) return 'ecdsa-p256-der';
  return 'rsa-pkcs1v15';
}

/** Returns the scheme of the first key that verifies, or throws ARTIFACT_SIGNATURE_INVALID. */
export function verifyManifestSignature(manifest: Buffer, sigFile: Buffer, keys: KeyObject[]): SignatureScheme {
  const sig = decodeSignature(sigFile);
  for (const key of keys) {
    if (key.asymmetricKeyType === 'rsa') {
      if (verify('sha256', manifest, key, sig)) return 'rsa-pkcs1v15';
      continue;
    }
    // 64 bytes is raw r||s (what mender-artifact writes); a DER signature can also be 64 bytes long
    // (short r and s), so that length tries both, like the Mender C++ client.
    const encodings: ('ieee-p1363' | 'der')[] = sig.length === 64 ? ['ieee-p1363', 'der'] : ['der'];
    for (const dsaEncoding of encodings) {
      try {
        if (verify('sha256', manifest, { key, dsaEncoding }, sig)) return dsaEncoding === 'der' ? 'ecdsa-p256-der' : 'ecdsa-p256-raw';
      } catch {
        // malformed DER: same as a failed verification
      }
    }
  }
  throw new SidewalkError(E.SIGNATURE_INVALID, `manifest.sig: ${sig.length}-byte ${guessScheme(sig)} signature does not verify with any of the ${keys.length} configured key(s)`);
}

export function signatureSchemeOf(sigFile: Buffer): SignatureScheme {
  return guessScheme(decodeSignature(sigFile));
}
