/**
 * verify_slot: reading a written slot back from the medium, so a card that acknowledges writes it
 * never stores (fake capacity, wrap-around) is caught before the slot is booted.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { runProcess } from '../../lib/run-process.js';
import type { BootControl, PartitionKind, SlotName } from '../boot/types.js';

const log = createLogger('ota:slot-verify');
/** Read-back reads: at most this long, and as many in flight as fit the budget (all 16 samples at once). */
const READ_CHUNK = 1 << 20;
const READ_BUDGET_BYTES = 4 << 20;
/**
 * `sampled` read-back: this many ranges of this size, the first and the last always among them. A
 * card that loses or wraps writes is caught by where the ranges lie, not by their size; 256 KiB
 * ranges read back in ~1/3 of the time 1 MiB ranges took (bench:ota, 256 MB image).
 */
export const SAMPLE_COUNT = 16;
export const SAMPLE_BYTES = 256 * 1024;
/**
 * How a written slot is checked (ota.yaml boot.verify_slot): `full` reads it all back after the final
 * fsync against the manifest sha256, `sampled` reads back SAMPLE_COUNT ranges hashed while writing,
 * `off` trusts the card. The streamed payload checksum is checked in every case.
 */
export type SlotVerify = 'sampled' | 'full' | 'off';

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The ranges `sampled` reads back from an image of `size` bytes: `count` ranges of `bytes`, the first
 * at 0, the last ending at `size`, the rest spread evenly (4 KiB aligned) in between; one range of the
 * whole image when that is not larger. Deterministic, so a failure can be reproduced.
 */
export function sampleRanges(size: number, count = SAMPLE_COUNT, bytes = SAMPLE_BYTES): ByteRange[] {
  if (size <= 0) return [];
  if (size <= count * bytes) return [{ start: 0, end: size }];
  const ranges: ByteRange[] = [];
  for (let i = 0; i < count; i++) {
    const start = i === count - 1 ? size - bytes : Math.floor(((size - bytes) * i) / (count - 1) / 4096) * 4096;
    ranges.push({ start, end: start + bytes });
  }
  return ranges;
}

/** sha256 of each range, fed with the chunks as they are written (at their image offset). */
class RangeHashes {
  readonly ranges: ByteRange[];
  #hashes: Hash[];

  constructor(ranges: ByteRange[]) {
    this.ranges = ranges;
    this.#hashes = ranges.map(() => createHash('sha256'));
  }

  update(chunk: Buffer, offset: number): void {
    const end = offset + chunk.length;
    this.ranges.forEach((r, i) => {
      if (r.start < end && r.end > offset) this.#hashes[i]!.update(chunk.subarray(Math.max(r.start, offset) - offset, Math.min(r.end, end) - offset));
    });
  }

  digests(): string[] {
    return this.#hashes.map((h) => h.digest('hex'));
  }
}

/** Alignment of O_DIRECT offsets, lengths and memory: a 4 KiB page suits 512-byte and 4Kn media alike. */
const DIRECT_ALIGN = 4096;
const WASM_PAGE_BYTES = 64 * 1024;
/** The one part of the WebAssembly global used here (@types/node does not declare it). */
interface WasmGlobal {
  Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
}
const WasmMemory = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly.Memory;

/** How the read-back reached the medium, for the log. */
type ReadBackMode = 'O_DIRECT' | 'cache dropped' | 'through the handle';

/** What a read-back reads through. */
interface ReadHandle {
  read(buffer: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
  /** Allocates `count` read buffers of `bytes` each, as this handle needs them. */
  buffers(count: number, bytes: number): Buffer[];
}

function devicePath(boot: BootControl, slot: SlotName, kind: PartitionKind): string | undefined {
  const config = boot.slots?.[slot];
  return kind === 'boot' ? config?.bootDevice : config?.rootDevice;
}

/**
 * The partition opened with O_DIRECT: reads bypass the page cache and come from the medium, not from
 * the pages the writes just filled. Node cannot allocate aligned Buffers; a WebAssembly memory starts
 * on a page boundary, so the read buffers live in one. Null where O_DIRECT cannot be opened.
 */
async function openDirect(path: string): Promise<ReadHandle | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (err) {
    log.debug(`${path}: no O_DIRECT (${(err as Error).message}); dropping the cached pages instead`);
    return null;
  }
  return {
    read: async (buffer, position) => (await handle.read(buffer, 0, buffer.length, position)).bytesRead,
    close: () => handle.close(),
    buffers: (count, bytes) => {
      const stride = Math.ceil(bytes / DIRECT_ALIGN) * DIRECT_ALIGN;
      const pages = Math.ceil((count * stride) / WASM_PAGE_BYTES);
      const memory = Buffer.from(new WasmMemory({ initial: pages, maximum: pages }).buffer);
      return Array.from({ length: count }, (_x, i) => memory.subarray(i * stride, i * stride + bytes));
    },
  };
}

/**
 * Evicts the partition's cached pages (posix_fadvise DONTNEED through GNU dd), for a read-back
 * through the page cache where O_DIRECT is refused. Works on block devices and regular files
 * (fsync'd, hence clean, pages). Not fatal when it cannot: dd missing or not GNU, or a tmpfs-backed
 * file (dd succeeds there, the pages stay).
 */
async function dropCachedPages(path: string): Promise<void> {
  try {
    await runProcess('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { timeoutMs: 60_000, check: true, errorCode: 'OTA_DROP_CACHE_FAILED' });
  } catch (err) {
    log.warn(`${path}: could not drop cached pages before the read-back (${(err as Error).message}); it may see memory, not the medium`);
  }
}

/**
 * Reads the ranges back from the medium (O_DIRECT; else after dropping the cached pages; a handle
 * without a device path as it is) and compares each with its hash: a card that lost writes is
 * caught before we boot it. Reads are DIRECT_ALIGN aligned (only each range's own bytes are
 * hashed), at most READ_CHUNK long, as many in flight as READ_BUDGET_BYTES holds (the sampled
 * ranges are scattered: parallel reads hide the card's seek latency), and hashed in order.
 */
async function readBack(boot: BootControl, slot: SlotName, kind: PartitionKind, ranges: ByteRange[], sha256s: string[], tryDirect: boolean): Promise<ReadBackMode> {
  const path = devicePath(boot, slot, kind);
  const direct = path && tryDirect ? await openDirect(path) : null;
  if (direct) {
    try {
      await readRanges(direct, slot, kind, ranges, sha256s);
      return 'O_DIRECT';
    } catch (err) {
      // A medium whose blocks are larger than DIRECT_ALIGN refuses the reads: read through the cache.
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      log.warn(`${path}: O_DIRECT read refused (${(err as Error).message}); dropping the cached pages instead`);
    }
  }
  if (path) await dropCachedPages(path);
  else log.debug(`slot ${slot} ${kind}: no device path (not a real or simulated boot control), read through its handle`);
  const handle = await boot.openPartition(slot, kind, 'r');
  const cached: ReadHandle = {
    read: (buffer, position) => handle.read(buffer, position),
    close: () => handle.close(),
    buffers: (count, bytes) => Array.from({ length: count }, () => Buffer.allocUnsafe(bytes)),
  };
  await readRanges(cached, slot, kind, ranges, sha256s);
  return path ? 'cache dropped' : 'through the handle';
}

async function readRanges(handle: ReadHandle, slot: SlotName, kind: PartitionKind, ranges: ByteRange[], sha256s: string[]): Promise<void> {
  const pieces = ranges.flatMap((r, range) => {
    const out: { range: number; pos: number; bytes: number; from: number; to: number }[] = [];
    const alignedEnd = Math.ceil(r.end / DIRECT_ALIGN) * DIRECT_ALIGN;
    for (let pos = Math.floor(r.start / DIRECT_ALIGN) * DIRECT_ALIGN; pos < r.end; pos += READ_CHUNK) {
      const bytes = Math.min(READ_CHUNK, alignedEnd - pos);
      // This range's bytes within the piece.
      out.push({ range, pos, bytes, from: Math.max(r.start - pos, 0), to: Math.min(r.end - pos, bytes) });
    }
    return out;
  });
  const bufferBytes = pieces.reduce((most, p) => Math.max(most, p.bytes), 0);
  const inFlight = Math.min(pieces.length, Math.max(1, Math.floor(READ_BUDGET_BYTES / Math.max(bufferBytes, 1))));
  const buffers = handle.buffers(inFlight, bufferBytes);
  const reads: Promise<number>[] = [];
  const start = (k: number) => {
    const piece = pieces[k];
    if (piece) reads[k] = handle.read(buffers[k % buffers.length]!.subarray(0, piece.bytes), piece.pos);
  };
  try {
    for (let k = 0; k < buffers.length; k++) start(k);
    let hash = createHash('sha256');
    let short = false;
    for (const [k, piece] of pieces.entries()) {
      const n = await reads[k]!;
      if (n < piece.to) short = true; // a slot smaller than what was written: fails the compare below
      if (n > piece.from) hash.update(buffers[k % buffers.length]!.subarray(piece.from, Math.min(n, piece.to)));
      start(k + buffers.length);
      if (pieces[k + 1]?.range === piece.range) continue;
      const got = hash.digest('hex');
      hash = createHash('sha256');
      const want = sha256s[piece.range]!;
      if (got === want && !short) continue;
      const r = ranges[piece.range]!;
      const whole = ranges.length === 1;
      const what = whole ? 'read back sha256' : `bytes ${r.start}..${r.end} read back with sha256`;
      throw new SidewalkError('OTA_SLOT_VERIFY', `slot ${slot} ${kind}: ${what} ${got}${short ? ' (short read)' : ''}, ${whole ? "the artifact's is" : 'written with'} ${want}`);
    }
  } finally {
    await Promise.allSettled(reads);
    await handle.close();
  }
}

/**
 * The read-back of one written image, after its final fsync. Checking sampled ranges while the
 * stream went on (after background fsyncs) was tried: on bench:ota's 2 cores the cache drops and
 * reads slowed the stream by more than they saved at the end.
 */
export class SlotChecker {
  #boot: BootControl;
  #slot: SlotName;
  #kind: PartitionKind;
  #ranges: ByteRange[];
  /** Null when the one range is the whole image: it is compared with the manifest's sha256. */
  #hashes: RangeHashes | null;
  #manifestSha256: string;
  #tryDirect: boolean;

  /** `tryDirect: false` skips O_DIRECT and reads after a cache drop, as where O_DIRECT is refused (tests use it to reach that path). */
  constructor(boot: BootControl, slot: SlotName, kind: PartitionKind, policy: SlotVerify, size: number, manifestSha256: string, tryDirect = true) {
    this.#boot = boot;
    this.#slot = slot;
    this.#kind = kind;
    this.#ranges = policy === 'off' ? [] : policy === 'full' ? [{ start: 0, end: size }] : sampleRanges(size);
    this.#hashes = this.#ranges.length > 1 ? new RangeHashes(this.#ranges) : null;
    this.#manifestSha256 = manifestSha256;
    this.#tryDirect = tryDirect;
  }

  /** Feeds the written bytes at `offset` to the sampled ranges' hashes (before the write is issued). */
  update(chunk: Buffer, offset: number): void {
    this.#hashes?.update(chunk, offset);
  }

  /** After the final fsync: reads the ranges back; throws OTA_SLOT_VERIFY on a mismatch. Returns what was read back, for the log. */
  async finish(): Promise<string> {
    if (this.#ranges.length === 0) return 'no read-back';
    const digests = this.#hashes ? this.#hashes.digests() : [this.#manifestSha256];
    const mode = await readBack(this.#boot, this.#slot, this.#kind, this.#ranges, digests, this.#tryDirect);
    return `read back ${this.#hashes === null ? 'all of it' : `${this.#ranges.length} x ${SAMPLE_BYTES} bytes`} (${mode})`;
  }
}
