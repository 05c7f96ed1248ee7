import { SidewalkError, isInternalError, isSidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { PositionalSource } from './source.js';

/** Read size from a positional source: headers and small members only (payloads are read pooled). */
const FILL_BYTES = 64 * 1024;

/** A source's own failure (I/O, network), as the reader reports it. */
export function readFailed(label: string, offset: number, err: unknown): SidewalkError {
  return new SidewalkError(E.READ_FAILED, `${label}: reading failed at byte ${offset}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * Pull-based reader over an async iterable of chunks, or over a positional source: exact reads and
 * bounded chunk streaming, never more than one source chunk buffered. Over a positional source,
 * skips cost nothing and `source` lets a caller read the bytes ahead itself. `label` names the
 * stream in error messages.
 */
export class ByteReader {
  readonly label: string;
  #it: AsyncIterator<Buffer>;
  /** atPositions only: the source, and how a skip moves its next read. */
  #positional: { source: PositionalSource; seek(position: number): void } | null = null;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;
  #offset = 0;

  /** Reads `source` from position 0 (its positions are this reader's offsets). */
  static atPositions(source: PositionalSource, label: string): ByteReader {
    let position = 0;
    async function* fills(): AsyncGenerator<Buffer> {
      while (position < source.size) {
        const buffer = Buffer.allocUnsafe(Math.min(FILL_BYTES, source.size - position));
        const n = await source.read(buffer, position);
        if (n === 0) return; // the file shrank: the caller's read reports what is missing
        position += n;
        yield buffer.subarray(0, n);
      }
    }
    const reader = new ByteReader(fills(), label);
    reader.#positional = {
      source,
      seek: (to) => {
        position = to;
      },
    };
    return reader;
  }

  constructor(source: AsyncIterable<Buffer | Uint8Array | string>, label: string) {
    this.label = label;
    const inner = source[Symbol.asyncIterator]();
    this.#it = {
      next: async () => {
        let r: IteratorResult<Buffer | Uint8Array | string>;
        try {
          r = await inner.next();
        } catch (err) {
          if (isSidewalkError(err) || isInternalError(err)) throw err;
          throw readFailed(label, this.#offset, err);
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

  /** The positional source behind this reader (its position `offset` is the next unconsumed byte), or null for a stream. */
  get source(): PositionalSource | null {
    return this.#positional?.source ?? null;
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
    if (this.#positional === null) {
      for await (const _ of this.chunks(n, what)) void _;
      return;
    }
    // Past what is buffered, a positional skip only moves the position (the bytes are never read).
    const rest = n - this.#take(Math.min(n, this.#buf.length)).length;
    if (rest === 0) return;
    const size = this.#positional.source.size;
    const to = Math.min(this.#offset + rest, size);
    const missing = this.#offset + rest - to;
    this.#offset = to;
    this.#positional.seek(to);
    if (missing > 0) throw new SidewalkError(E.TRUNCATED, `${this.label}: ${what} ends at byte ${size}, ${missing} of ${n} bytes missing`);
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
