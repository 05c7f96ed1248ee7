import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { ByteReader } from './byte-reader.js';
import { compressionOf, decompress } from './decompress.js';
import { ArtifactErrorCodes as E } from './errors.js';
import { parseHeader } from './header.js';
import { parseManifest, parseVersion, type Manifest } from './manifest.js';
import { PayloadCursor, type PayloadSource } from './payload-stream.js';
import { checkPolicy } from './policy.js';
import { PooledRange } from './pooled-range.js';
import { parsePublicKeys, signatureSchemeOf, verifyManifestSignature } from './signature.js';
import { openFileSource, windowOf } from './source.js';
import { TarReader, type TarEntry } from './tar.js';
import type { ArtifactInfo, ArtifactPayload, ArtifactPolicy, OpenedArtifact } from './types.js';

const log = createLogger('ota:artifact');

const MAX_VERSION_BYTES = 4096;
const MAX_MANIFEST_BYTES = 1 << 20;
const MAX_SIG_BYTES = 8192;
const MAX_HEADER_BYTES = 16 << 20;
/** Zero padding accepted after an end-of-archive marker (writers pad to at most a 10 KiB record). */
const MAX_TRAILING_BYTES = 1 << 20;
/** Read size when an artifact has to be streamed (a pipe, not a file). */
const STREAM_READ_BYTES = 64 * 1024;
const HEADER = /^header\.tar(\.[a-z]+)?$/;
const DATA = /^data\/(\d{4})\.tar(\.[a-z]+)?$/;
const KNOWN = /^(version|manifest|manifest\.sig|manifest-augment|header\.tar.*|header-augment\.tar.*|data\/\d{4}\.tar.*)$/;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Wrong or unknown member where `expected` should be. */
function misplaced(e: TarEntry | null, expected: string): SidewalkError {
  if (e === null) return new SidewalkError(E.TRUNCATED, `artifact: ends before ${expected}`);
  const what = `artifact: member ${JSON.stringify(e.name)} at byte ${e.headerOffset} where ${expected} was expected`;
  if (/^(manifest-augment|header-augment)/.test(e.name)) return new SidewalkError(E.UNSUPPORTED, `${what}: augmented artifacts are not supported`);
  return new SidewalkError(KNOWN.test(e.name) ? E.BAD_MEMBER_ORDER : E.UNEXPECTED_MEMBER, what);
}

function checkMember(manifest: Manifest, name: string, bytes: Buffer): void {
  const want = manifest.entries.get(name);
  if (want === undefined) throw new SidewalkError(E.MANIFEST_CHECKSUM, `${name}: no manifest entry`);
  const got = sha256(bytes);
  if (got !== want) throw new SidewalkError(E.MANIFEST_CHECKSUM, `${name}: sha256 ${got} does not match the manifest's ${want}`);
}

async function readRegular(tar: TarReader, e: TarEntry, max: number): Promise<Buffer> {
  if (e.type !== '0') throw new SidewalkError(E.UNEXPECTED_MEMBER, `artifact: member ${e.name} at byte ${e.headerOffset} is not a regular file`);
  return tar.readBody(e, max);
}

/**
 * Opens a Mender Artifact v3 stream: reads and verifies everything up to the first payload file
 * (version, manifest, signature, header checksum, header, device policy) and returns; payload bytes
 * are verified while they stream. Memory stays bounded: only version/manifest/sig/header are buffered.
 */
export function openArtifact(source: Readable, policy: ArtifactPolicy): Promise<OpenedArtifact> {
  return openFrom(new ByteReader(source, 'artifact'), async () => void source.destroy(), policy);
}

/**
 * openArtifact() for a file: the same checks, but read at positions, so an uncompressed payload is
 * copied in large reads into reused buffers (see ArtifactPayload.chunks) and skipped members are
 * never read. A pipe or device that cannot be read at positions is streamed.
 */
export async function openArtifactFile(path: string, policy: ArtifactPolicy): Promise<OpenedArtifact> {
  const source = await openFileSource(path);
  if (source === null) return openArtifact(createReadStream(path, { highWaterMark: STREAM_READ_BYTES }), policy);
  return openFrom(ByteReader.atPositions(source, 'artifact'), () => source.close(), policy);
}

/** `releaseSource` runs first on close or failure (so a read stalled on a stream settles). */
async function openFrom(outer: ByteReader, releaseSource: () => Promise<void>, policy: ArtifactPolicy): Promise<OpenedArtifact> {
  const tar = new TarReader(outer);
  let inner: ByteReader | undefined;
  try {
    const keys = parsePublicKeys(policy.publicKeys, policy.publicKeyNames);
    let e = await tar.next();
    if (e?.name !== 'version') throw misplaced(e, 'version (first member)');
    const versionBytes = await readRegular(tar, e, MAX_VERSION_BYTES);
    parseVersion(versionBytes);

    e = await tar.next();
    if (e?.name !== 'manifest') throw misplaced(e, 'manifest');
    const manifestBytes = await readRegular(tar, e, MAX_MANIFEST_BYTES);

    e = await tar.next();
    let signature: ArtifactInfo['signature'] = null;
    if (e === null || (e.name !== 'manifest.sig' && !HEADER.test(e.name))) throw misplaced(e, 'manifest.sig or header.tar[.gz|.xz]');
    if (e.name === 'manifest.sig') {
      const sig = await readRegular(tar, e, MAX_SIG_BYTES);
      if (keys.length > 0) signature = { scheme: verifyManifestSignature(manifestBytes, sig, keys), verified: true };
      else if (policy.allowUnsigned) signature = { scheme: signatureSchemeOf(sig), verified: false };
      else throw new SidewalkError(E.NO_VERIFY_KEY, 'manifest.sig: artifact is signed but no verification key is configured');
      e = await tar.next();
    } else if (!policy.allowUnsigned) {
      throw new SidewalkError(E.UNSIGNED, `artifact: no manifest.sig after manifest${keys.length > 0 ? ' (a signed artifact is required)' : ''}`);
    }

    // Only now (signature checked) is the manifest trusted enough to parse.
    const manifest = parseManifest(manifestBytes);
    checkMember(manifest, 'version', versionBytes);

    if (e === null || !HEADER.test(e.name)) throw misplaced(e, 'header.tar[.gz|.xz]');
    const headerName = e.name;
    let compression = compressionOf(headerName, 'header.tar');
    const headerBytes = await readRegular(tar, e, MAX_HEADER_BYTES);
    checkMember(manifest, headerName, headerBytes);
    for (const name of manifest.entries.keys()) {
      // Like mender-artifact's FilesNotMarked: a manifest entry nothing in the file answers to.
      if (HEADER.test(name) && name !== headerName) throw new SidewalkError(E.MANIFEST_CHECKSUM, `manifest: entry ${name} but the artifact holds ${headerName}`);
    }
    const header = await parseHeader(headerBytes, compression, headerName);

    const sizes = new Map<string, number>();
    const files = manifest.dataFiles.map((f) => ({ name: f.name, size: -1, sha256: f.sha256 }));
    const info: ArtifactInfo = { formatVersion: 3, ...header, files, signature, compression };
    checkPolicy(info, policy);

    e = await tar.next();
    let dataTar: TarReader | null = null;
    if (e !== null) {
      const m = DATA.exec(e.name);
      if (!m) throw misplaced(e, 'data/0000.tar[.gz|.xz]');
      if (m[1] !== '0000') throw new SidewalkError(E.UNSUPPORTED, `artifact: member ${e.name}: only payload 0000 is supported`);
      if (e.type !== '0') throw new SidewalkError(E.UNEXPECTED_MEMBER, `artifact: member ${e.name} is not a regular file`);
      const dataCompression = compressionOf(e.name, 'data/0000.tar');
      info.compression = compression = dataCompression;
      // Uncompressed in a file: the data tar is a window of it (its bodies are read where they lie).
      const file = outer.source;
      if (file !== null && dataCompression === 'none') inner = ByteReader.atPositions(windowOf(file, outer.offset, e.size), e.name);
      else inner = new ByteReader(decompress(tar.body(e), dataCompression, e.name), e.name);
      dataTar = new TarReader(inner);
    } else if (files.length > 0) {
      throw new SidewalkError(E.TRUNCATED, `artifact: ends after ${headerName}, but the manifest lists ${files.length} payload file(s)`);
    }

    const expected = new Map(manifest.dataFiles.map((f) => [f.name, f.sha256]));
    const nextFile = async (): Promise<TarEntry | null> => {
      if (dataTar === null) return null;
      const f = await dataTar.next();
      if (f === null) return null;
      const where = `${dataTar.label}: ${JSON.stringify(f.name)} (header at byte ${f.headerOffset})`;
      if (f.type !== '0') throw new SidewalkError(E.UNEXPECTED_MEMBER, `${where}: not a regular file`);
      if (!expected.has(f.name) || sizes.has(f.name)) {
        throw new SidewalkError(E.UNEXPECTED_MEMBER, `${where}: ${sizes.has(f.name) ? 'duplicate' : 'not listed in the manifest'}`);
      }
      sizes.set(f.name, f.size);
      const entry = files.find((x) => x.name === f.name);
      if (entry) entry.size = f.size;
      return f;
    };
    // Reveal the first file's size before returning (the common single-file payload).
    let pending = await nextFile();

    let started = false;
    let closed = false;
    const finish = async (): Promise<void> => {
      if (inner) {
        const rest = await inner.restIsZero(MAX_TRAILING_BYTES); // also runs the decompressor to its end (CRC check)
        if (!rest.zero) throw new SidewalkError(E.TAR_INVALID, `${inner.label}: data after the end-of-archive marker at byte ${rest.offset}`);
      }
      for (const f of manifest.dataFiles) {
        if (!sizes.has(f.name)) throw new SidewalkError(E.MANIFEST_CHECKSUM, `data/0000/${f.name}: listed in the manifest but missing from the data member`);
      }
      const after = await tar.next();
      if (after !== null) {
        if (DATA.test(after.name)) throw new SidewalkError(E.UNSUPPORTED, `artifact: member ${after.name} at byte ${after.headerOffset}: only one payload is supported`);
        throw new SidewalkError(
          KNOWN.test(after.name) ? E.BAD_MEMBER_ORDER : E.UNEXPECTED_MEMBER,
          `artifact: member ${JSON.stringify(after.name)} at byte ${after.headerOffset} after the data member`,
        );
      }
      const rest = await outer.restIsZero(MAX_TRAILING_BYTES);
      if (!rest.zero) throw new SidewalkError(E.TAR_INVALID, `artifact: data after the end-of-archive marker at byte ${rest.offset}`);
      log.debug(() => `artifact ${info.name}: all ${files.length} payload file(s) verified`);
    };

    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await releaseSource().catch(() => undefined);
      await inner?.close().catch(() => undefined);
      await outer.close().catch(() => undefined);
    };

    // A body read where it lies is skipped by the data tar afterwards, at no cost.
    const payloadSource = (f: TarEntry): PayloadSource => {
      const file = inner?.source ?? null;
      if (file === null) return { streamed: dataTar!.body(f) };
      const what = `member ${f.name} (header at byte ${f.headerOffset})`;
      return { pooled: new PooledRange(file, f.bodyOffset, f.size, { label: inner!.label, what, offset: f.bodyOffset }) };
    };

    async function* payloads(): AsyncGenerator<ArtifactPayload> {
      if (started || closed) throw new SidewalkError(E.CLOSED, started ? 'artifact: payloads() can be iterated only once' : 'artifact: already closed');
      started = true;
      try {
        while (pending !== null) {
          const f: TarEntry = pending;
          const cursor = new PayloadCursor(f.name, payloadSource(f), expected.get(f.name)!);
          try {
            yield { name: f.name, size: f.size, stream: cursor.stream(), chunks: () => cursor.chunks() };
            if (closed) throw new SidewalkError(E.CLOSED, 'artifact: closed while reading payloads');
            await cursor.drain();
          } finally {
            cursor.dispose();
          }
          pending = await nextFile();
        }
        await finish();
      } catch (err) {
        await close();
        throw err;
      }
    }

    return { info, payloads, close };
  } catch (err) {
    await releaseSource().catch(() => undefined);
    await inner?.close().catch(() => undefined);
    await outer.close().catch(() => undefined);
    throw err;
  }
}

/** Reads a whole artifact file once, verifying everything (payload checksums included); returns its description. */
export async function inspectArtifact(path: string, policy: ArtifactPolicy): Promise<ArtifactInfo> {
  const artifact = await openArtifactFile(path, policy);
  try {
    for await (const p of artifact.payloads()) p.stream.destroy(); // payloads() drains and verifies
  } finally {
    await artifact.close();
  }
  return artifact.info;
}
