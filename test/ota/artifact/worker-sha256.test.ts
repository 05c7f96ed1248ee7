import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { WorkerSha256 } from '../../../ota/artifact/worker-sha256.js';

/** Bytes in shared memory, as the reader's pool holds them. */
function shared(bytes: number): Buffer {
  return randomFillSync(Buffer.from(new SharedArrayBuffer(bytes)));
}

test('interleaved hashes on the hashing thread equal node:crypto sha256, each in its own order', async () => {
  const inputs = [shared(3 << 20), shared(777), shared(0), shared(1 << 20)];
  const hashes = inputs.map((_b, i) => new WorkerSha256(`input ${i}`));
  // Feed the inputs in uneven pieces, round robin, without waiting between updates.
  const updates: Promise<void>[] = [];
  const pieces = inputs.map((b) => Array.from({ length: Math.ceil(b.length / 100_000) }, (_x, k) => b.subarray(k * 100_000, (k + 1) * 100_000)));
  for (let round = 0; pieces.some((p) => round < p.length); round++) {
    pieces.forEach((p, i) => {
      if (round < p.length) updates.push(hashes[i]!.update(p[round]!));
    });
  }
  await Promise.all(updates);
  const digests = await Promise.all(hashes.map((h) => h.digest()));
  assert.deepEqual(
    digests,
    inputs.map((b) => createHash('sha256').update(b).digest('hex')),
  );
});

test('bytes outside shared memory are refused; a finished hash takes no more updates', async () => {
  const h = new WorkerSha256('plain');
  assert.throws(() => h.update(Buffer.alloc(16)), /SharedArrayBuffer/);
  await h.update(shared(16));
  await h.digest();
  assert.throws(() => h.update(shared(16)), /already finished/);
  const abandoned = new WorkerSha256('abandoned');
  await abandoned.update(shared(32));
  abandoned.abandon();
  assert.throws(() => abandoned.update(shared(16)), /already finished/);
});
