import { SidewalkError, isSidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';

/**
 * Pull-based reader over an async iterable of chunks: exact reads and bounded chunk streaming,
 * never more than one source chunk buffered. `label` names the stream in error messages.
 */
export class ByteReader {
  readonly label: string;
  #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;
  #offset = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array | string>, label: string) {
    this.label = label;
    const inner = source[Symbol.asyncIterator]();
    this.#it = {
      next: async () => {
        let r: IteratorResult<Buffer | Uint8Array | string>;
        try {
          r = await inner.next();
        } catch (err) {
          if (isSidewalkError(err)) throw err;
          throw new SidewalkError(E.READ_FAILED, `${label}: reading failed at byte ${this.#offset}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        }
        if (r.done) return r;
        const v = r.value;
        return { done: false, value: typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v) };
      },
      return: async () => (inner.return ? ((await inner.return()) as IteratorResult<Buffer>) : { done: true, value: undefined }),
    };
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  async #fill(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (this.#eof) return false;
      const r = await this.#it.next();
      if (r.done) {
        this.#eof = true;
        return false;
      }
      this.#buf = r.value;
    }
    return true;
  }

  #take(n: number): Buffer {
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.#offset += out.length;
    return out;
  }

  /** Exactly n bytes; null if the stream ends before the first byte and `eofOk`; else ARTIFACT_TRUNCATED. */
  async readExact(n: number, what: string, eofOk = false): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      if (!(await this.#fill())) {
        if (got === 0 && eofOk) return null;
        throw new SidewalkError(E.TRUNCATED, `${this.label}: ${what} ends at byte ${this.#offset}, ${n - got} of ${n} bytes missing`);
      }
      const part = this.#take(n - got);
      parts.push(part);
      got += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Streams the next n bytes as chunks (zero-copy slices). */
  async *chunks(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) {
        throw new SidewalkError(E.TRUNCATED, `${this.label}: ${what} ends at byte ${this.#offset}, ${left} of ${n} bytes missing`);
      }
      const part = this.#take(left);
      left -= part.length;
      yield part;
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.chunks(n, what)) void _;
  }

  /**
   * Reads what is left (up to maxBytes, then fails) without keeping it: zero padding after a tar's
   * end marker is fine, anything else is reported with its offset. Bounded so a compressed stream of
   * zeros cannot keep the reader busy.
   */
  async restIsZero(maxBytes: number): Promise<{ zero: boolean; offset: number }> {
    const start = this.#offset;
    while (await this.#fill()) {
      const at = this.#offset;
      const part = this.#take(this.#buf.length);
      const i = part.findIndex((b) => b !== 0);
      if (i >= 0) return { zero: false, offset: at + i };
      if (this.#offset - start > maxBytes) {
        throw new SidewalkError(E.TOO_LARGE, `${this.label}: more than ${maxBytes} bytes of padding after the end-of-archive marker`);
      }
    }
    return { zero: true, offset: this.#offset };
  }

  async close(): Promise<void> {
    this.#eof = true;
    this.#buf = Buffer.alloc(0);
    await this.#it.return?.();
  }
}
