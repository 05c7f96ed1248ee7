import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';

/**
 * One payload file: pulls chunks from the data tar, hashes every chunk it pulls and checks the sha256
 * when the body ends. The Readable handed to the consumer and drain() share the same pull, so
 * whatever part the consumer did not read is still hashed when the reader moves on.
 */
export class PayloadCursor {
  readonly name: string;
  #src: AsyncIterator<Buffer>;
  #hash: Hash = createHash('sha256');
  #expected: string;
  #finished = false;
  #failure: unknown;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(name: string, src: AsyncIterable<Buffer>, expectedSha256: string) {
    this.name = name;
    this.#src = src[Symbol.asyncIterator]();
    this.#expected = expectedSha256;
  }

  /** Next chunk, null at the (verified) end; serialised so drain() and the stream never race. */
  pull(): Promise<Buffer | null> {
    const p = this.#tail.then(() => this.#pullOne());
    this.#tail = p.catch(() => undefined);
    return p;
  }

  async #pullOne(): Promise<Buffer | null> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#finished) return null;
    try {
      const r = await this.#src.next();
      if (!r.done) {
        this.#hash.update(r.value);
        return r.value;
      }
      this.#finished = true;
      const actual = this.#hash.digest('hex');
      if (actual !== this.#expected) {
        throw new SidewalkError(E.PAYLOAD_CHECKSUM, `data/0000/${this.name}: sha256 ${actual} does not match the manifest's ${this.#expected}`);
      }
      return null;
    } catch (err) {
      this.#failure = err;
      throw err;
    }
  }

  async drain(): Promise<void> {
    while ((await this.pull()) !== null);
  }

  stream(): Readable {
    const readable: Readable = new Readable({
      highWaterMark: 1 << 20,
      read: () => {
        this.pull().then(
          (chunk) => readable.push(chunk),
          (err: unknown) => readable.destroy(err as Error),
        );
      },
    });
    return readable;
  }
}
