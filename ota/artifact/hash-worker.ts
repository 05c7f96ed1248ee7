/**
 * The hashing thread (see ota/artifact/worker-sha256.ts): sha256 of payload chunks that sit in
 * shared memory, so the main thread reads and writes the next chunks meanwhile. Messages are handled
 * in order; every update is acknowledged, so the sender knows when it may reuse the chunk's buffer.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export type HashRequest = { op: 'update'; id: number; buffer: SharedArrayBuffer; offset: number; length: number } | { op: 'digest'; id: number };
export type HashReply = { id: number; updated: true } | { id: number; digest: string } | { id: number; error: string };

const hashes = new Map<number, Hash>();

parentPort?.on('message', (m: HashRequest) => {
  try {
    if (m.op === 'update') {
      let hash = hashes.get(m.id);
      if (hash === undefined) {
        hash = createHash('sha256');
        hashes.set(m.id, hash);
      }
      hash.update(new Uint8Array(m.buffer, m.offset, m.length));
      parentPort!.postMessage({ id: m.id, updated: true } satisfies HashReply);
    } else {
      const digest = (hashes.get(m.id) ?? createHash('sha256')).digest('hex');
      hashes.delete(m.id);
      parentPort!.postMessage({ id: m.id, digest } satisfies HashReply);
    }
  } catch (err) {
    hashes.delete(m.id);
    parentPort!.postMessage({ id: m.id, error: (err as Error).message } satisfies HashReply);
  }
});
