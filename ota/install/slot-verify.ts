/**
 * verify_slot: reading a written slot back from the medium, so a card that acknowledges writes it
 * never stores (fake capacity, wrap-around) is caught before the slot is booted.
 */
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { promisify } from 'node:util';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { BootControl, PartitionKind, SlotName } from '../boot/types.js';

const log = createLogger('ota:slot-verify');
const execFileAsync = promisify(execFile);
const READ_CHUNK = 1 << 20;
const READ_AHEAD = 4;
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
    const start = i === count - 1 ? size - bytes : Math.floor((((size - bytes) * i) / (count - 1)) / 4096) * 4096;
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

/**
 * Evicts the partition's cached pages (posix_fadvise DONTNEED through GNU dd), so the read-back
 * comes from the medium and not from the page cache the writes just filled; works on block devices
 * and regular files (fsync'd, hence clean, pages). Not fatal when it cannot: dd missing or not GNU,
 * or a tmpfs-backed file (dd succeeds there, the pages stay). The path comes from the slot config.
 */
async function dropCachedPages(boot: BootControl, slot: SlotName, kind: PartitionKind): Promise<void> {
  const config = boot.slots?.[slot];
  const path = kind === 'boot' ? config?.bootDevice : config?.rootDevice;
  if (!path) {
    log.debug(`slot ${slot} ${kind}: no device path (not a real or simulated boot control), no cache to drop`);
    return;
  }
  try {
    await execFileAsync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { timeout: 60_000 });
  } catch (err) {
    const detail = ((err as { stderr?: string }).stderr ?? '').trim() || (err as Error).message;
    log.warn(`${path}: could not drop cached pages before the read-back (${detail}); it may see memory, not the medium`);
  }
}

/**
 * Reads the ranges back (after evicting the cache) and compares each with its hash: a card that lost
 * writes is caught before we boot it. The ranges are read in READ_CHUNK pieces, READ_AHEAD of them in
 * flight (the sampled ranges are scattered: parallel reads hide the card's seek latency), hashed in order.
 */
async function readBack(boot: BootControl, slot: SlotName, kind: PartitionKind, ranges: ByteRange[], sha256s: string[]): Promise<void> {
  await dropCachedPages(boot, slot, kind);
  const pieces = ranges.flatMap((r, range) => {
    const out: { range: number; pos: number; bytes: number }[] = [];
    for (let pos = r.start; pos < r.end; pos += READ_CHUNK) out.push({ range, pos, bytes: Math.min(READ_CHUNK, r.end - pos) });
    return out;
  });
  const handle = await boot.openPartition(slot, kind, 'r');
  const buffers = Array.from({ length: Math.min(READ_AHEAD, pieces.length) }, () => Buffer.allocUnsafe(READ_CHUNK));
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
      if (n < piece.bytes) short = true; // a slot smaller than what was written: fails the compare below
      if (n > 0) hash.update(buffers[k % buffers.length]!.subarray(0, n));
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
  readonly policy: SlotVerify;
  #boot: BootControl;
  #slot: SlotName;
  #kind: PartitionKind;
  #ranges: ByteRange[];
  /** Null when the one range is the whole image: it is compared with the manifest's sha256. */
  #hashes: RangeHashes | null;
  #manifestSha256: string;

  constructor(boot: BootControl, slot: SlotName, kind: PartitionKind, policy: SlotVerify, size: number, manifestSha256: string) {
    this.policy = policy;
    this.#boot = boot;
    this.#slot = slot;
    this.#kind = kind;
    this.#ranges = policy === 'off' ? [] : policy === 'full' ? [{ start: 0, end: size }] : sampleRanges(size);
    this.#hashes = this.#ranges.length > 1 ? new RangeHashes(this.#ranges) : null;
    this.#manifestSha256 = manifestSha256;
  }

  /** Feeds the written bytes at `offset` to the sampled ranges' hashes (before the write is issued). */
  update(chunk: Buffer, offset: number): void {
    this.#hashes?.update(chunk, offset);
  }

  /** After the final fsync: reads the ranges back; throws OTA_SLOT_VERIFY on a mismatch. Returns what was read back, for the log. */
  async finish(): Promise<string> {
    if (this.#ranges.length === 0) return 'no read-back';
    const digests = this.#hashes ? this.#hashes.digests() : [this.#manifestSha256];
    await readBack(this.#boot, this.#slot, this.#kind, this.#ranges, digests);
    return this.#hashes === null ? 'read back all of it' : `read back ${this.#ranges.length} x ${SAMPLE_BYTES} bytes`;
  }
}
