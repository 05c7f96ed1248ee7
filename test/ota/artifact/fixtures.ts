/**
 * Test helpers for the artifact reader: real mender-artifact invocations, a minimal ustar writer and
 * a member splitter, used to build tampered artifacts. Not a test file.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { ArtifactPayload } from '../../../ota/artifact/index.js';
import { makeTempDir as makeDir, removeTempDir } from '../../helpers/temp.js';

const run = promisify(execFile);

export interface TestKeys {
  ecPrivate: string;
  ecPublic: string;
  rsaPrivate: string;
  rsaPublic: string;
  /** PEM texts of the public keys. */
  ecPublicPem: string;
  rsaPublicPem: string;
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await makeDir(prefix);
  return { dir, cleanup: () => removeTempDir(dir) };
}

/** SEC1 EC P-256 and PKCS#1 RSA-2048 keys (RSA-2048 keeps tests fast; the scheme is the same). */
export async function makeKeys(dir: string): Promise<TestKeys> {
  const ec = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const rsa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const k: TestKeys = {
    ecPrivate: join(dir, 'ec.key'),
    ecPublic: join(dir, 'ec.pub'),
    rsaPrivate: join(dir, 'rsa.key'),
    rsaPublic: join(dir, 'rsa.pub'),
    ecPublicPem: ec.publicKey,
    rsaPublicPem: rsa.publicKey,
  };
  await writeFile(k.ecPrivate, ec.privateKey, { mode: 0o600 });
  await writeFile(k.ecPublic, ec.publicKey);
  await writeFile(k.rsaPrivate, rsa.privateKey, { mode: 0o600 });
  await writeFile(k.rsaPublic, rsa.publicKey);
  return k;
}

/** Runs the real mender-artifact; throws on a non-zero exit or any stderr text. */
export async function menderArtifact(args: string[]): Promise<string> {
  const { stdout, stderr } = await run('mender-artifact', args, { maxBuffer: 16 << 20 });
  if (stderr.trim() !== '') throw new Error(`mender-artifact ${args.join(' ')}: ${stderr}`);
  return stdout;
}

/** `mender-artifact validate` verdict from its output text (3.9.0 exit codes are unreliable). */
export async function cliValidates(file: string, publicKey?: string): Promise<boolean> {
  try {
    const { stdout, stderr } = await run('mender-artifact', ['validate', ...(publicKey ? ['-k', publicKey] : []), file]);
    return /validated successfully/.test(stdout) && stderr.trim() === '';
  } catch {
    return false;
  }
}

export interface TarMember {
  name: string;
  data: Buffer;
}

/** Splits a plain ustar archive (as written by mender-artifact) into its members. */
export function splitTar(buf: Buffer): TarMember[] {
  const out: TarMember[] = [];
  let pos = 0;
  while (pos + 512 <= buf.length) {
    const block = buf.subarray(pos, pos + 512);
    if (block.every((b) => b === 0)) break;
    const name = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    out.push({ name, data: Buffer.from(buf.subarray(pos + 512, pos + 512 + size)) });
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Writes a ustar archive with the given members (regular files, mode 0600). */
export function joinTar(members: TarMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const h = Buffer.alloc(512);
    h.write(m.name, 0, 100, 'utf8');
    h.write('0000600\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(`${m.data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    h.write('00000000000\0', 136, 'latin1');
    h.write('        ', 148, 'latin1');
    h.write('0', 156, 'latin1');
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    parts.push(h, m.data, Buffer.alloc((512 - (m.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A Readable over a buffer in small chunks, to exercise chunk boundaries. */
export function chunked(buf: Buffer, chunkBytes = 777): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += chunkBytes) yield buf.subarray(i, i + chunkBytes);
    })(),
    { objectMode: false },
  );
}

/** Collects a stream into one buffer. */
export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Collects a payload through its lent chunks (each copied, then released). */
export async function collectChunks(payload: ArtifactPayload): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of payload.chunks()) {
    parts.push(Buffer.from(chunk.data));
    chunk.release();
  }
  return Buffer.concat(parts);
}
