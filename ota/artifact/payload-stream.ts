import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { PooledRange } from './pooled-range.js';
import type { PayloadChunk } from './types.js';
import { WorkerSha256 } from './worker-sha256.js';

/** Where a payload's chunks come from: a tar stream (fresh buffers, nothing to give back) or a pooled range of the artifact file. */
export type PayloadSource = { streamed: AsyncIterable<Buffer> } | { pooled: PooledRange };

const keep = () => {};

/**
 * One payload file: pulls chunks from its source, hashes every chunk it pulls and checks the sha256
 * when the body ends. The Readable, chunks() and drain() share the same pull, so whatever part the
 * consumer did not read is still hashed when the reader moves on. Pooled chunks (shared memory) are
 * hashed on the hashing thread while the consumer writes them; such a chunk goes back to the pool
 * once both the consumer has released it and its hash is done.
 */
export class PayloadCursor {
  readonly name: string;
  #next: () => Promise<PayloadChunk | null>;
  /** A WorkerSha256 exactly when the chunks are lent from a pool. */
  #hash: Hash | WorkerSha256;
  #expected: string;
  #finished = false;
  #failure: unknown;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(name: string, source: PayloadSource, expectedSha256: string) {
    this.name = name;
    if ('pooled' in source) {
      const range = source.pooled;
      this.#next = () => range.next();
      this.#hash = new WorkerSha256(`data/0000/${name}`);
    } else {
      const it = source.streamed[Symbol.asyncIterator]();
      this.#next = async () => {
        const r = await it.next();
        return r.done ? null : { data: r.value, release: keep };
      };
      this.#hash = createHash('sha256');
    }
    this.#expected = expectedSha256;
  }

  /** Next chunk, null at the (verified) end; serialised so drain(), chunks() and the stream never race. */
  pull(): Promise<PayloadChunk | null> {
    const p = this.#tail.then(() => this.#pullOne());
    this.#tail = p.catch(() => undefined);
    return p;
  }

  async #pullOne(): Promise<PayloadChunk | null> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#finished) return null;
    try {
      const chunk = await this.#next();
      if (chunk !== null) return this.#hashed(chunk);
      this.#finished = true;
      const actual = this.#hash instanceof WorkerSha256 ? await this.#hash.digest() : this.#hash.digest('hex');
      if (actual !== this.#expected) {
        throw new SidewalkError(E.PAYLOAD_CHECKSUM, `data/0000/${this.name}: sha256 ${actual} does not match the manifest's ${this.#expected}`);
      }
      return null;
    } catch (err) {
      this.#failure = err;
      throw err;
    }
  }

  #hashed(chunk: PayloadChunk): PayloadChunk {
    if (!(this.#hash instanceof WorkerSha256)) {
      this.#hash.update(chunk.data);
      return chunk;
    }
    // A failed hash shows at the digest; the buffer goes back either way.
    const hashed = this.#hash.update(chunk.data).catch(() => undefined);
    let released = false;
    return {
      data: chunk.data,
      release: () => {
        if (released) return;
        released = true;
        void hashed.then(() => chunk.release());
      },
    };
  }

  /** Frees the hashing thread's state when the payload was left unfinished (an aborted read). */
  dispose(): void {
    if (!this.#finished && this.#hash instanceof WorkerSha256) this.#hash.abandon();
  }

  async drain(): Promise<void> {
    for (let chunk = await this.pull(); chunk !== null; chunk = await this.pull()) chunk.release();
  }

  async *chunks(): AsyncGenerator<PayloadChunk> {
    for (let chunk = await this.pull(); chunk !== null; chunk = await this.pull()) yield chunk;
  }

  stream(): Readable {
    const readable: Readable = new Readable({
      highWaterMark: 1 << 20,
      read: () => {
        this.pull().then(
          (chunk) => {
            // Pooled chunks are copied: a Readable's consumers keep what they get.
            if (chunk === null || !(this.#hash instanceof WorkerSha256)) return readable.push(chunk?.data ?? null);
            const copy = Buffer.from(chunk.data);
            chunk.release();
            return readable.push(copy);
          },
          (err: unknown) => readable.destroy(err as Error),
        );
      },
    });
    return readable;
  }
}
