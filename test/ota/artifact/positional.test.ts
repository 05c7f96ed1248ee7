import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openArtifact, openArtifactFile, type ArtifactPolicy, type OpenedArtifact } from '../../../ota/artifact/index.js';
import { POOL_BUFFERS, POOL_CHUNK_BYTES, PooledRange } from '../../../ota/artifact/pooled-range.js';
import type { PositionalSource } from '../../../ota/artifact/source.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { chunked, collect, collectChunks, makeTempDir, menderArtifact } from './fixtures.js';

/** Artifact files read at positions: the same verdicts and bytes as a stream, payloads lent from a bounded pool. */
const POLICY: ArtifactPolicy = { publicKeys: [], allowUnsigned: true };
const BIG_BYTES = 5 * POOL_CHUNK_BYTES + 123;

let dir: string;
let cleanup: () => Promise<void>;
let big: Buffer;
const files = new Map<string, Buffer>();

async function writeArtifact(name: string, compression: 'none' | 'gzip'): Promise<string> {
  const out = join(dir, name);
  const args = [...files.keys()].flatMap((f) => ['-f', join(dir, f)]);
  await menderArtifact(['write', 'module-image', '-T', 'sidewalk-model', '-t', 'dev', '-n', name, ...args, '--compression', compression, '-o', out]);
  return out;
}

/** Every payload's bytes, through the lent chunks (copied, then released). */
async function readChunks(opened: OpenedArtifact): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    for await (const p of opened.payloads()) out.set(p.name, await collectChunks(p));
  } finally {
    await opened.close();
  }
  return out;
}

async function readStreams(opened: OpenedArtifact): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    for await (const p of opened.payloads()) out.set(p.name, await collect(p.stream));
  } finally {
    await opened.close();
  }
  return out;
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-artifact-positional-'));
  big = randomBytes(BIG_BYTES);
  files.set('model.tflite', big);
  files.set('empty.bin', Buffer.alloc(0));
  files.set('labels.txt', Buffer.from('bike_lane\ncrosswalk\nside\nstreet\n'));
  for (const [name, data] of files) await writeFile(join(dir, name), data);
});
after(() => cleanup());

describe('artifact files read at positions', () => {
  for (const compression of ['none', 'gzip'] as const) {
    test(`compression ${compression}: a file gives the description and bytes a stream gives, through chunks() and stream`, async () => {
      const file = await writeArtifact(`same-${compression}.mender`, compression);
      const bytes = await readFile(file);
      const fromStream = await openArtifact(chunked(bytes, 4096), POLICY);
      const streamed = await readStreams(fromStream);
      const fromFile = await openArtifactFile(file, POLICY);
      const lent = await readChunks(fromFile);
      assert.deepEqual(fromFile.info, fromStream.info);
      assert.deepEqual([...lent.keys()], [...files.keys()]);
      for (const [name, data] of files) {
        assert.ok(lent.get(name)!.equals(data), `${name} through chunks()`);
        assert.ok(streamed.get(name)!.equals(data), `${name} streamed`);
      }
      assert.deepEqual(await readStreams(await openArtifactFile(file, POLICY)), lent, 'the stream of a file payload');
    });
  }

  test('lent chunks stay intact until released, and no more than the pool is ever allocated', async () => {
    const file = await writeArtifact('lend.mender', 'none');
    const opened = await openArtifactFile(file, POLICY);
    const held: { data: Buffer; copy: Buffer; release: () => void }[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let offset = 0;
    try {
      for await (const p of opened.payloads()) {
        if (p.name !== 'model.tflite') continue;
        for await (const chunk of p.chunks()) {
          buffers.add(chunk.data.buffer);
          assert.ok(chunk.data.equals(big.subarray(offset, offset + chunk.data.length)), `chunk at ${offset}`);
          offset += chunk.data.length;
          held.push({ ...chunk, copy: Buffer.from(chunk.data) });
          // Hold all but one buffer of the pool, releasing the oldest and then the newest in turn.
          if (held.length === POOL_BUFFERS - 1) {
            const out = held.splice(offset % 2 === 0 ? 0 : held.length - 1, 1)[0]!;
            assert.ok(out.data.equals(out.copy), 'a held chunk was read over before its release');
            out.release();
          }
        }
        for (const h of held) assert.ok(h.data.equals(h.copy), 'a held chunk was read over before its release');
        for (const h of held.splice(0)) h.release();
      }
    } finally {
      await opened.close();
    }
    assert.equal(offset, BIG_BYTES);
    assert.ok(buffers.size <= POOL_BUFFERS, `${buffers.size} buffers for a pool of ${POOL_BUFFERS}`);
    assert.ok(buffers.size > 1, 'chunks come from more than one buffer');
  });

  test('a tampered uncompressed payload is refused at its end (ARTIFACT_PAYLOAD_CHECKSUM), a truncated one names the member', async () => {
    const file = await writeArtifact('tamper.mender', 'none');
    const bytes = await readFile(file);
    const at = bytes.indexOf(big.subarray(3 * POOL_CHUNK_BYTES, 3 * POOL_CHUNK_BYTES + 64));
    assert.ok(at > 0);
    const tampered = Buffer.from(bytes);
    tampered[at]! ^= 0x01;
    await writeFile(join(dir, 'tampered.mender'), tampered);
    await assert.rejects(readChunks(await openArtifactFile(join(dir, 'tampered.mender'), POLICY)), (err) => isSidewalkError(err, 'ARTIFACT_PAYLOAD_CHECKSUM') && /model\.tflite/.test(err.message));

    await writeFile(join(dir, 'cut.mender'), bytes.subarray(0, at));
    await assert.rejects(
      readChunks(await openArtifactFile(join(dir, 'cut.mender'), POLICY)),
      (err) => isSidewalkError(err, 'ARTIFACT_TRUNCATED') && /data\/0000\.tar: member model\.tflite .* ends at byte \d+, \d+ of 5243003 bytes missing/.test(err.message),
    );
  });

  test('a payload left unread is still verified when the reader moves on; closing mid-payload ends cleanly', async () => {
    const file = await writeArtifact('skip.mender', 'none');
    const names: string[] = [];
    const opened = await openArtifactFile(file, POLICY);
    for await (const p of opened.payloads()) names.push(p.name); // nothing consumed: the reader drains and verifies
    await opened.close();
    assert.deepEqual(names, [...files.keys()]);

    const bytes = await readFile(file);
    const at = bytes.indexOf(big.subarray(POOL_CHUNK_BYTES, POOL_CHUNK_BYTES + 64));
    bytes[at]! ^= 0x01;
    await writeFile(join(dir, 'skip-bad.mender'), bytes);
    const bad = await openArtifactFile(join(dir, 'skip-bad.mender'), POLICY);
    await assert.rejects(
      (async () => {
        for await (const p of bad.payloads()) void p;
      })(),
      (err) => isSidewalkError(err, 'ARTIFACT_PAYLOAD_CHECKSUM'),
    );

    const early = await openArtifactFile(file, POLICY);
    for await (const p of early.payloads()) {
      for await (const chunk of p.chunks()) {
        chunk.release();
        break;
      }
      break;
    }
    await early.close();
  });

  test('a pipe cannot be read at positions: it is streamed, with the same result', async () => {
    const file = await writeArtifact('pipe.mender', 'none');
    const fifo = join(dir, 'artifact.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = createWriteStream(fifo);
    const written = new Promise<void>((resolve, reject) => writer.on('close', resolve).on('error', reject));
    const [got] = await Promise.all([openArtifactFile(fifo, POLICY).then(readChunks), readFile(file).then((b) => writer.end(b)), written]);
    for (const [name, data] of files) assert.ok(got.get(name)!.equals(data), name);
  });
});

describe('pooled range reads', () => {
  /** A source of `size` bytes (byte i = i % 251) whose read at `failAt` rejects. */
  function source(size: number, failAt?: number): PositionalSource {
    return {
      size,
      async read(buffer, position) {
        if (failAt !== undefined && position <= failAt && failAt < position + buffer.length) throw new Error('EIO: i/o error');
        const n = Math.max(0, Math.min(buffer.length, size - position));
        for (let i = 0; i < n; i++) buffer[i] = (position + i) % 251;
        return n;
      },
      close: async () => {},
    };
  }
  const where = { label: 'data/0000.tar', what: 'member root.ext4', offset: 512 };

  test('a read failing ahead of the consumer surfaces in order as ARTIFACT_READ_FAILED, naming the byte', async () => {
    const range = new PooledRange(source(8 * POOL_CHUNK_BYTES, 2 * POOL_CHUNK_BYTES + 10), 0, 8 * POOL_CHUNK_BYTES, where);
    const first = await range.next();
    assert.equal(first!.data[5], 5);
    first!.release();
    (await range.next())!.release();
    await assert.rejects(range.next(), (err) => isSidewalkError(err, 'ARTIFACT_READ_FAILED') && err.message.includes(`data/0000.tar: reading failed at byte ${512 + 2 * POOL_CHUNK_BYTES}`));
  });

  test('a range past the end of its source is ARTIFACT_TRUNCATED with the bytes missing', async () => {
    const range = new PooledRange(source(POOL_CHUNK_BYTES + 100), 0, 2 * POOL_CHUNK_BYTES, where);
    (await range.next())!.release();
    await assert.rejects(
      range.next(),
      (err) => isSidewalkError(err, 'ARTIFACT_TRUNCATED') && err.message.includes(`ends at byte ${512 + POOL_CHUNK_BYTES + 100}, ${POOL_CHUNK_BYTES - 100} of ${2 * POOL_CHUNK_BYTES} bytes missing`),
    );
  });

  test('next() waits while the consumer holds every buffer, and goes on when one is released', async () => {
    const size = (POOL_BUFFERS + 2) * POOL_CHUNK_BYTES;
    const range = new PooledRange(source(size), 0, size, where);
    const held = [];
    for (let i = 0; i < POOL_BUFFERS; i++) held.push((await range.next())!);
    let got: { data: Buffer } | null = null;
    const next = range.next().then((c) => (got = c));
    await new Promise((r) => setImmediate(r));
    assert.equal(got, null, 'no chunk while the whole pool is lent');
    held[3]!.release();
    await next;
    assert.equal(got!.data[0], (POOL_BUFFERS * POOL_CHUNK_BYTES) % 251);
  });
});
