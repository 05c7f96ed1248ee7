import { SidewalkError, isInternalError, isSidewalkError } from '../../lib/errors.js';
import { readFailed } from './byte-reader.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { PositionalSource } from './source.js';
import type { PayloadChunk } from './types.js';

/** Read size, buffers in the pool, reads kept in flight: bench:ota's best at 256 MB (2 MiB reads, or 12-16 buffers, were no faster). */
export const POOL_CHUNK_BYTES = 1 << 20;
export const POOL_BUFFERS = 8;
const READS_AHEAD = 4;

/** Where a range's bytes sit, for error messages: `label` (the stream), `what` (the member), `offset` (its first byte in `label`). */
export interface RangeLabel {
  label: string;
  what: string;
  offset: number;
}

/**
 * A byte range of a positional source, read ahead into a fixed pool of reused buffers: how an
 * uncompressed payload is copied (few large reads, no allocation per chunk, memory bounded by the
 * pool). The buffers are shared memory, so a chunk can be hashed on another thread. Each chunk is
 * lent to the consumer until it calls release(); only then is its buffer read into again. A
 * consumer holding every buffer of the pool stalls next() until it releases one.
 */
export class PooledRange {
  #source: PositionalSource;
  #start: number;
  #size: number;
  #where: RangeLabel;
  #free: Buffer[] = [];
  #allocated = 0;
  #issued = 0;
  #consumed = 0;
  #reads: { buffer: Buffer; bytes: number; done: Promise<number> }[] = [];
  #wake: (() => void) | null = null;

  constructor(source: PositionalSource, start: number, size: number, where: RangeLabel) {
    this.#source = source;
    this.#start = start;
    this.#size = size;
    this.#where = where;
  }

  /** The next chunk in order, or null after the last one. */
  async next(): Promise<PayloadChunk | null> {
    for (;;) {
      this.#issueReads();
      const read = this.#reads.shift();
      if (read !== undefined) return this.#lend(read.buffer, read.bytes, await this.#settle(read.done));
      if (this.#issued >= this.#size) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve)); // every buffer is lent out
    }
  }

  #issueReads(): void {
    while (this.#issued < this.#size && this.#reads.length < READS_AHEAD) {
      const buffer = this.#free.pop() ?? this.#allocate();
      if (buffer === null) return;
      const bytes = Math.min(buffer.length, this.#size - this.#issued);
      const done = this.#source.read(buffer.subarray(0, bytes), this.#start + this.#issued);
      done.catch(() => undefined); // awaited in order by next(); a read failing ahead must not go unhandled
      this.#reads.push({ buffer, bytes, done });
      this.#issued += bytes;
    }
  }

  #allocate(): Buffer | null {
    if (this.#allocated >= POOL_BUFFERS) return null;
    this.#allocated++;
    // Shared memory: the hashing thread reads a chunk where it lies (no copy).
    return Buffer.from(new SharedArrayBuffer(Math.min(POOL_CHUNK_BYTES, this.#size)));
  }

  async #settle(done: Promise<number>): Promise<number> {
    const { label, offset } = this.#where;
    try {
      return await done;
    } catch (err) {
      if (isSidewalkError(err) || isInternalError(err)) throw err;
      throw readFailed(label, offset + this.#consumed, err);
    }
  }

  #lend(buffer: Buffer, bytes: number, got: number): PayloadChunk {
    if (got < bytes) {
      const { label, what, offset } = this.#where;
      const at = this.#consumed + got;
      throw new SidewalkError(E.TRUNCATED, `${label}: ${what} ends at byte ${offset + at}, ${this.#size - at} of ${this.#size} bytes missing`);
    }
    this.#consumed += got;
    let lent = true;
    return {
      data: buffer.subarray(0, got),
      release: () => {
        if (!lent) return;
        lent = false;
        this.#free.push(buffer);
        const wake = this.#wake;
        this.#wake = null;
        wake?.();
      },
    };
  }
}
