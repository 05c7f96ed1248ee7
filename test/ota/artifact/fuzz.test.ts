import { createPrng } from '../../../lib/prng.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openArtifact, openArtifactFile, type ArtifactPolicy, type OpenedArtifact } from '../../../ota/artifact/index.js';
import { isInternalError, isSidewalkError } from '../../../lib/errors.js';
import { ARTIFACT_ERRORS } from '../../../ota/artifact/errors.js';
import { chunked, collect, collectChunks, makeKeys, makeTempDir, menderArtifact, type TestKeys } from './fixtures.js';

/**
 * Deterministic mutations of small real artifacts: each is accepted with the exact payload, or refused
 * with a SidewalkError whose code is in the artifact catalogue, and the same verdict comes from a stream
 * and from a file (read at positions, an uncompressed payload through the reader's buffer pool and
 * hashing thread). A TypeError, RangeError or ReferenceError anywhere (thrown, or as the cause of a
 * refusal) is a bug in the reader, never a refusal.
 */
const CASES_PER_ARTIFACT = 200;
const CASE_TIMEOUT_MS = 10_000;

let dir: string;
let cleanup: () => Promise<void>;
let keys: TestKeys;

function mutate(src: Buffer, rnd: () => number): { bytes: Buffer; what: string } {
  const at = (n: number): number => Math.floor(rnd() * n);
  const kind = at(4);
  if (kind === 0) {
    const b = Buffer.from(src);
    const flips = 1 + at(4);
    const where: number[] = [];
    for (let i = 0; i < flips; i++) {
      const pos = at(b.length);
      b[pos] = b[pos]! ^ (1 + at(255));
      where.push(pos);
    }
    return { bytes: b, what: `flip ${where.join(',')}` };
  }
  if (kind === 1) {
    const cut = at(src.length);
    return { bytes: src.subarray(0, cut), what: `truncate ${cut}` };
  }
  if (kind === 2) {
    const pos = at(src.length);
    const block = Buffer.alloc(rnd() < 0.5 ? 512 : 1 + at(700));
    if (rnd() < 0.5) for (let i = 0; i < block.length; i++) block[i] = at(256);
    return { bytes: Buffer.concat([src.subarray(0, pos), block, src.subarray(pos)]), what: `insert ${block.length} at ${pos}` };
  }
  const pos = at(src.length);
  const len = 1 + at(600);
  return { bytes: Buffer.concat([src.subarray(0, pos), src.subarray(pos + len)]), what: `delete ${len} at ${pos}` };
}

type Via = 'stream' | 'file';

async function readAll(bytes: Buffer, policy: ArtifactPolicy, signal: AbortSignal, via: Via = 'stream'): Promise<Map<string, Buffer>> {
  let opened: OpenedArtifact;
  if (via === 'stream') {
    opened = await openArtifact(chunked(bytes, 300), policy);
  } else {
    const file = join(dir, 'case.mender');
    await writeFile(file, bytes);
    opened = await openArtifactFile(file, policy);
  }
  const out = new Map<string, Buffer>();
  try {
    for await (const p of opened.payloads()) {
      signal.throwIfAborted();
      out.set(p.name, via === 'stream' ? await collect(p.stream) : await collectChunks(p));
    }
  } finally {
    await opened.close();
  }
  return out;
}

/** The first internal error (TypeError, RangeError, ...) in err's cause chain, if any. */
function internalCause(err: unknown): unknown {
  for (let e = err, depth = 0; e !== undefined && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (isInternalError(e)) return e;
  }
  return undefined;
}

/** 'accepted', or the refusal's code; anything but a SidewalkError with an artifact code is a crash. */
async function verdict(bytes: Buffer, policy: ArtifactPolicy, expected: Map<string, Buffer>, name: string, via: Via): Promise<string> {
  try {
    const got = await withTimeout((signal) => readAll(bytes, policy, signal, via), name);
    assert.deepEqual([...got.keys()], [...expected.keys()], name);
    for (const [k, v] of expected) assert.ok(got.get(k)!.equals(v), `${name}: accepted with different ${k}`);
    return 'accepted';
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(isSidewalkError(err), `${name}: crashed with ${err instanceof Error ? err.stack : String(err)}`);
    const internal = internalCause(err);
    assert.equal(internal, undefined, `${name}: a bug reported as ${err.code}: ${(internal as Error | undefined)?.stack}`);
    assert.ok(Object.hasOwn(ARTIFACT_ERRORS, err.code), `${name}: refused with ${err.code}, which is not in ota/artifact/errors.ts`);
    return err.code;
  }
}

function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, what: string): Promise<T> {
  const signal = AbortSignal.timeout(CASE_TIMEOUT_MS);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`${what}: no verdict within ${CASE_TIMEOUT_MS} ms (hang)`));
    signal.addEventListener('abort', onAbort, { once: true });
    work(signal)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-artifact-fuzz-'));
  keys = await makeKeys(dir);
  await writeFile(join(dir, 'a.bin'), Buffer.from('payload a '.repeat(40)));
  await writeFile(join(dir, 'b.txt'), Buffer.from('second file\n'));
});
after(() => cleanup());

for (const [label, extra, policy, seed] of [
  ['ec-gzip', ['-k', 'EC'], 'EC', 1],
  ['rsa-lzma', ['-k', 'RSA', '--compression', 'lzma'], 'RSA', 2],
  ['unsigned-none', ['--compression', 'none'], 'NONE', 3],
] as const) {
  test(`fuzz ${label}: ${CASES_PER_ARTIFACT} seeded mutations, each accepted intact or refused with a SidewalkError, alike from a stream and a file`, async (t) => {
    const file = join(dir, `${label}.mender`);
    const args = extra.map((a) => (a === 'EC' ? keys.ecPrivate : a === 'RSA' ? keys.rsaPrivate : a));
    await menderArtifact(['write', 'module-image', '-T', 'fuzz', '-t', 'dev', '-n', label, '-f', join(dir, 'a.bin'), '-f', join(dir, 'b.txt'), ...args, '-o', file]);
    const original = await readFile(file);
    const pol: ArtifactPolicy = policy === 'EC' ? { publicKeys: [keys.ecPublicPem] } : policy === 'RSA' ? { publicKeys: [keys.rsaPublicPem] } : { publicKeys: [], allowUnsigned: true };
    const expected = await readAll(original, pol, AbortSignal.timeout(CASE_TIMEOUT_MS));
    assert.equal(expected.size, 2);
    assert.deepEqual(await readAll(original, pol, AbortSignal.timeout(CASE_TIMEOUT_MS), 'file'), expected);
    const rnd = createPrng(seed * 7919);
    const codes = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < CASES_PER_ARTIFACT; i++) {
      const { bytes, what } = mutate(original, rnd);
      const name = `${label} case ${i} (${what})`;
      const fromStream = await verdict(bytes, pol, expected, `${name}, streamed`, 'stream');
      const fromFile = await verdict(bytes, pol, expected, `${name}, from a file`, 'file');
      assert.equal(fromFile, fromStream, `${name}: a file and a stream of the same bytes get different verdicts`);
      if (fromStream === 'accepted') accepted++;
      else codes.set(fromStream, (codes.get(fromStream) ?? 0) + 1);
    }
    t.diagnostic(`${label}: ${accepted} accepted intact; refused: ${JSON.stringify(Object.fromEntries(codes))}`);
    // Both outcomes occur (padding flips are harmless; most mutations must be refused).
    assert.ok(codes.size >= 3, `refusal codes seen: ${[...codes.keys()].join(', ')}`);
    assert.ok(accepted < CASES_PER_ARTIFACT / 2, `${accepted} accepted`);
  });
}

test('a failing source is ARTIFACT_READ_FAILED, but a bug inside it (TypeError, RangeError) surfaces as itself', async () => {
  const file = join(dir, 'source-failure.mender');
  await menderArtifact(['write', 'module-image', '-T', 'fuzz', '-t', 'dev', '-n', 'source-failure', '-f', join(dir, 'a.bin'), '--compression', 'none', '-o', file]);
  const original = await readFile(file);
  const failingAfter = (bytes: number, err: Error) =>
    Readable.from(
      (async function* () {
        yield original.subarray(0, bytes);
        throw err;
      })(),
    );
  const policy: ArtifactPolicy = { publicKeys: [], allowUnsigned: true };
  const io = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
  await assert.rejects(openArtifact(failingAfter(100, io), policy), (e) => isSidewalkError(e, 'ARTIFACT_READ_FAILED') && e.cause === io);
  for (const bug of [new TypeError('Cannot read properties of undefined'), new RangeError('offset out of range')]) {
    await assert.rejects(openArtifact(failingAfter(100, bug), policy), (e) => e === bug);
  }
});
