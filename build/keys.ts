import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { makeDir } from '../lib/make-dir.js';
import { join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';

/**
 * Signing keys in the formats mender-artifact 3.9.0 accepts: SEC1 "EC PRIVATE KEY" (P-256) and
 * PKCS#1 "RSA PRIVATE KEY" (3072 bits). 3.9.0 refuses PKCS#8 "PRIVATE KEY" (OpenSSL 3's default),
 * so toCliPrivateKeyPem() converts such keys instead of failing.
 */
export type KeyType = 'ec' | 'rsa';

export interface KeyPairPem {
  type: KeyType;
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateSigningKey(type: KeyType): KeyPairPem {
  if (type === 'ec') {
    const { privateKey, publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'sec1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    return { type, privateKeyPem: privateKey, publicKeyPem: publicKey };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 3072,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { type, privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** Writes private.pem (0600) and public.pem into dir; returns their paths. */
export async function writeSigningKey(dir: string, type: KeyType): Promise<{ privateKeyPath: string; publicKeyPath: string }> {
  const pair = generateSigningKey(type);
  const privateKeyPath = join(dir, `${type}-private.pem`);
  const publicKeyPath = join(dir, `${type}-public.pem`);
  const unwritable = (err: Error): SidewalkError => new SidewalkError('BUILD_KEY_UNWRITABLE', `cannot write the key pair into ${dir}: ${err.message}`, { cause: err, details: { dir } });
  await makeDir(dir).catch((err: Error) => {
    throw unwritable(err);
  });
  await writeFile(privateKeyPath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new SidewalkError('BUILD_KEY_EXISTS', `${privateKeyPath}: already exists; refusing to overwrite a signing key`);
    throw unwritable(err);
  });
  await writeFile(publicKeyPath, pair.publicKeyPem, { mode: 0o644 }).catch((err: Error) => {
    throw unwritable(err);
  });
  return { privateKeyPath, publicKeyPath };
}

function parsePrivate(pem: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new SidewalkError('BUILD_KEY_INVALID', `${source}: not a PEM private key (${(err as Error).message})`, { cause: err });
  }
}

/** The private key re-encoded as mender-artifact 3.9.0 wants it (PKCS#1 / SEC1), or an error for other kinds. */
export function toCliPrivateKeyPem(pem: string, source: string): string {
  const key = parsePrivate(pem, source);
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs1', format: 'pem' }) as string;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return key.export({ type: 'sec1', format: 'pem' }) as string;
  }
  throw new SidewalkError('BUILD_KEY_INVALID', `${source}: ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''} keys cannot sign Mender artifacts (RSA or ECDSA P-256 only)`);
}

/** PKIX "PUBLIC KEY" PEM of a private key (what the device and `validate -k` need). */
export function publicKeyPemOf(privatePem: string, source: string): string {
  return createPublicKey(parsePrivate(privatePem, source)).export({ type: 'spki', format: 'pem' }) as string;
}
