import { spawn } from 'node:child_process';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SidewalkError, isInternalError, isSidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { ArtifactCompression } from './types.js';

/**
 * Decompression of artifact members, chosen by file-name suffix (as mender-artifact does).
 * gzip: node:zlib. xz (mender-artifact "lzma"): the `xz` binary from xz-utils as a child process,
 * because node:zlib has no xz/lzma. zstd: refused (Node 20's zlib has no zstd; mender-artifact 3.9.0
 * cannot write it either).
 */
export function compressionOf(member: string, base: string): ArtifactCompression {
  const suffix = member.slice(base.length);
  if (suffix === '') return 'none';
  if (suffix === '.gz') return 'gzip';
  if (suffix === '.xz') return 'xz';
  if (suffix === '.zst') {
    throw new SidewalkError(E.UNSUPPORTED_COMPRESSION, `${member}: zstd compression is not supported (use gzip, lzma or none)`);
  }
  throw new SidewalkError(E.UNSUPPORTED_COMPRESSION, `${member}: unknown compression suffix ${JSON.stringify(suffix)}`);
}

function wrap(err: unknown, label: string): unknown {
  if (isSidewalkError(err) || isInternalError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SidewalkError(E.COMPRESSION_INVALID, `${label}: cannot decompress: ${message}`, { cause: err });
}

/** Decompresses `source` lazily; the returned iterable must be consumed to its end (or returned early). */
export async function* decompress(source: AsyncIterable<Buffer>, kind: ArtifactCompression, label: string): AsyncGenerator<Buffer> {
  if (kind === 'none') {
    yield* source;
    return;
  }
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    const input = Readable.from(source, { objectMode: false });
    let failure: unknown;
    pipeline(input, gunzip, (err) => {
      if (err) failure = err;
    });
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (err) {
      throw wrap(failure ?? err, label);
    } finally {
      input.destroy();
      gunzip.destroy();
    }
    if (failure) throw wrap(failure, label);
    return;
  }
  yield* xzDecompress(source, label);
}

async function* xzDecompress(source: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  const child = spawn('xz', ['--decompress', '--stdout', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => resolve(code));
    child.on('error', () => resolve(-1));
  });
  let failure: unknown;
  let spawnError: unknown;
  child.on('error', (err) => {
    spawnError = err;
  });
  const input = Readable.from(source, { objectMode: false });
  // xz may exit (bad data) before reading all input: EPIPE on stdin is expected then.
  const sink = new PassThrough();
  pipeline(input, sink, (err) => {
    if (err) {
      failure = err;
      child.kill('SIGKILL'); // xz would otherwise wait for the rest of its input forever
    }
  });
  sink.pipe(child.stdin);
  child.stdin.on('error', () => {});
  let done = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (failure) throw wrap(failure, label);
    if (spawnError) throw wrap(spawnError, label);
    if (code !== 0) throw new SidewalkError(E.COMPRESSION_INVALID, `${label}: xz exited ${code}: ${stderr.trim() || 'invalid xz data'}`);
    done = true;
  } catch (err) {
    throw wrap(failure ?? err, label);
  } finally {
    if (!done) {
      input.destroy();
      sink.destroy();
      child.kill('SIGKILL');
    }
  }
}
