import { SidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { ByteReader } from './byte-reader.js';

/**
 * Streaming tar reader: ustar/POSIX headers, GNU long names ('L'), PAX extended headers ('x', 'g'),
 * base-256 sizes. No buffering beyond one header block and the caller's reads; bodies are streamed.
 */
export interface TarEntry {
  name: string;
  size: number;
  /** '0' regular file, '5' directory, '2' symlink, ... ('\0' is reported as '0'). */
  type: string;
  /** Permission bits from the header (e.g. 0o755), including any setuid/setgid/sticky bits. */
  mode: number;
  /** Byte offset of this entry's (first) header in its stream. */
  headerOffset: number;
  /** Byte offset of this entry's body in its stream. */
  bodyOffset: number;
}

const BLOCK = 512;
const MAX_META_BYTES = 64 * 1024;

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function parseNumber(block: Buffer, start: number, length: number, what: string, where: string): number {
  const raw = block.subarray(start, start + length);
  if (raw[0]! & 0x80) {
    // base-256 (GNU/star) for values that do not fit in octal
    let v = raw[0]! & 0x7f;
    for (let i = 1; i < raw.length; i++) v = v * 256 + raw[i]!;
    if (!Number.isSafeInteger(v)) throw new SidewalkError(E.TAR_INVALID, `${where}: ${what} too large`);
    return v;
  }
  const text = raw
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new SidewalkError(E.TAR_INVALID, `${where}: ${what} field is not octal (${JSON.stringify(text)})`);
  return parseInt(text, 8);
}

function parsePax(body: Buffer, where: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    const len = space < 0 ? NaN : Number(body.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length || body[pos + len - 1] !== 0x0a) {
      throw new SidewalkError(E.TAR_INVALID, `${where}: malformed PAX record at byte ${pos}`);
    }
    const rec = body.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq < 0) throw new SidewalkError(E.TAR_INVALID, `${where}: PAX record without '=' at byte ${pos}`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return out;
}

export class TarReader {
  #in: ByteReader;
  #left = 0;
  #pad = 0;
  #ended = false;

  constructor(input: ByteReader) {
    this.#in = input;
  }

  get label(): string {
    return this.#in.label;
  }

  /** Next entry, or null at the end-of-archive marker (or a clean EOF at a block boundary). */
  async next(): Promise<TarEntry | null> {
    if (this.#ended) return null;
    await this.#skipRest();
    let longName: string | undefined;
    let pax = new Map<string, string>();
    for (;;) {
      const headerOffset = this.#in.offset;
      const where = `${this.#in.label} header at byte ${headerOffset}`;
      const block = await this.#in.readExact(BLOCK, `tar header at byte ${headerOffset}`, true);
      if (block === null || block.every((b) => b === 0)) {
        this.#ended = true;
        return null;
      }
      const stored = parseNumber(block, 148, 8, 'checksum', where);
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
      if (sum !== stored) throw new SidewalkError(E.TAR_INVALID, `${where}: header checksum ${stored} != computed ${sum}`);
      const magic = block.subarray(257, 263).toString('latin1');
      const isUstar = magic === 'ustar\0' || magic === 'ustar ';
      let type = String.fromCharCode(block[156]!);
      if (type === '\0' || type === '7') type = '0';
      let size = parseNumber(block, 124, 12, 'size', where);
      if (type === 'L' || type === 'x' || type === 'g') {
        if (size > MAX_META_BYTES) throw new SidewalkError(E.TOO_LARGE, `${where}: ${type} record of ${size} bytes`);
        const body = (await this.#in.readExact(size, `${type} record body`))!;
        await this.#in.skip((BLOCK - (size % BLOCK)) % BLOCK, `${type} record padding`);
        if (type === 'L') longName = body.toString('utf8').replace(/\0+$/, '');
        else if (type === 'x') pax = parsePax(body, where);
        continue; // 'g' (global) carries nothing we use
      }
      let name = field(block, 0, 100);
      const prefix = isUstar && magic === 'ustar\0' ? field(block, 345, 155) : '';
      if (prefix) name = `${prefix}/${name}`;
      if (longName !== undefined) name = longName;
      if (pax.has('path')) name = pax.get('path')!;
      if (pax.has('size')) {
        const s = pax.get('size')!;
        if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new SidewalkError(E.TAR_INVALID, `${where}: PAX size ${JSON.stringify(s)}`);
        size = Number(s);
      }
      this.#left = size;
      this.#pad = (BLOCK - (size % BLOCK)) % BLOCK;
      const mode = parseNumber(block, 100, 8, 'mode', where) & 0o7777;
      return { name, size, type, mode, headerOffset, bodyOffset: this.#in.offset };
    }
  }

  /** Streams the current entry's body. */
  async *body(entry: TarEntry): AsyncGenerator<Buffer> {
    const what = `member ${entry.name} (header at byte ${entry.headerOffset})`;
    while (this.#left > 0) {
      const n = Math.min(this.#left, 1 << 20);
      for await (const c of this.#in.chunks(n, what)) {
        this.#left -= c.length;
        yield c;
      }
    }
  }

  /** Reads the current entry's body into memory, refusing bodies above maxBytes. */
  async readBody(entry: TarEntry, maxBytes: number): Promise<Buffer> {
    if (entry.size > maxBytes) {
      throw new SidewalkError(E.TOO_LARGE, `${this.#in.label}: member ${entry.name} is ${entry.size} bytes, limit ${maxBytes}`);
    }
    const body = (await this.#in.readExact(entry.size, `member ${entry.name} (header at byte ${entry.headerOffset})`))!;
    this.#left = 0;
    return body;
  }

  async #skipRest(): Promise<void> {
    if (this.#left > 0) await this.#in.skip(this.#left, 'member body');
    this.#left = 0;
    if (this.#pad > 0) await this.#in.skip(this.#pad, 'member padding');
    this.#pad = 0;
  }
}
