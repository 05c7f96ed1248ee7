/**
 * Moving an opened artifact's payloads to where they are installed: OS images streamed onto the
 * inactive slot's partitions (and read back), model/app bundles into a store's staging folder.
 * Memory stays bounded by the artifact reader's chunk size times the write window.
 */
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { promisify } from 'node:util';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { OpenedArtifact } from '../artifact/types.js';
import type { BootControl, PartitionKind, SlotName } from '../boot/types.js';
import type { OtaFileHandle } from '../fs.js';
import { checkVersionName, type VersionStore } from './store.js';

const log = createLogger('ota:payloads');
const execFileAsync = promisify(execFile);
const READ_CHUNK = 1 << 20;
const READ_AHEAD = 4;
/** Positional writes in flight while the next chunks are pulled and hashed (bytes, and operations for small chunks). */
const WRITE_WINDOW_BYTES = 4 << 20;
const WRITE_WINDOW_OPS = 16;
const SYNC_EVERY_BYTES = 64 << 20;
/** `sampled` read-back: this many ranges of this size, the first and last MiB always among them. */
export const SAMPLE_COUNT = 16;
export const SAMPLE_BYTES = 1 << 20;

type Progress = (doneBytes: number, totalBytes: number | null) => void;

/**
 * How a written slot is checked after its fsync (ota.yaml boot.verify_slot): `full` reads it all
 * back against the manifest sha256, `sampled` reads back SAMPLE_COUNT ranges hashed while writing,
 * `off` trusts the card. The streamed payload checksum is checked in every case.
 */
export type SlotVerify = 'sampled' | 'full' | 'off';

export interface SlotWriteOptions {
  verifySlot?: SlotVerify;
}

/** Adds up the bytes moved so far and reports them against the artifact's payload total. */
function progressCounter(artifact: OpenedArtifact, onProgress?: Progress): (bytes: number) => void {
  const total = artifact.info.files.reduce((sum, f) => sum + Math.max(0, f.size), 0) || null;
  let done = 0;
  return (bytes) => {
    done += bytes;
    onProgress?.(done, total);
  };
}

/** `boot.vfat` / `*.vfat` / `boot*` go to the slot's boot partition, the other file to its root partition. */
export function partitionFor(payloadName: string): PartitionKind {
  return /(^boot\b|\.vfat$)/i.test(payloadName) ? 'boot' : 'root';
}

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

/** A write (or background fsync) in flight; `failure` is set when it rejected. */
interface InFlight {
  done: Promise<void>;
  bytes: number;
  failure?: { error: unknown };
}

/**
 * Keeps a bounded number of positional writes in flight, so the partition is written while the
 * reader pulls and hashes the next chunks. Each chunk buffer is handed to the write as is and never
 * touched again; that is safe because no producer reuses a buffer it has yielded: fs.ReadStream
 * allocates a fresh buffer per read (Buffer.allocUnsafeSlow), zlib's gunzip slices a fresh output
 * buffer and moves on, the xz child's stdout gets a fresh buffer per socket read, and the tar and
 * byte readers only hand out subarrays of those. A failed write is reported by the earliest failing
 * write in issue order (the one the serial loop would have hit first).
 */
class WriteWindow {
  #handle: OtaFileHandle;
  #queue: InFlight[] = [];
  #bytes = 0;
  #failed = false;
  #firstFailure: { error: unknown } | undefined;
  /** A background fsync, started every SYNC_EVERY_BYTES written: writeback overlaps the stream and the final fsync is short. */
  #sync: InFlight | null = null;
  #unsyncedBytes = 0;

  constructor(handle: OtaFileHandle) {
    this.#handle = handle;
  }

  /** The error of the earliest write that failed, once it is known. */
  get failure(): { error: unknown } | undefined {
    return this.#firstFailure;
  }

  async write(chunk: Buffer, offset: number, onWritten: (bytes: number) => void): Promise<void> {
    if (this.#failed) await this.flush();
    while (this.#queue.length > 0 && (this.#queue.length >= WRITE_WINDOW_OPS || this.#bytes + chunk.length > WRITE_WINDOW_BYTES)) await this.#retireOldest();
    const entry: InFlight = { done: Promise.resolve(), bytes: chunk.length };
    entry.done = this.#handle.write(chunk, offset).then(
      () => onWritten(chunk.length),
      (error: unknown) => {
        entry.failure = { error };
        this.#failed = true;
      },
    );
    this.#queue.push(entry);
    this.#bytes += chunk.length;
    this.#unsyncedBytes += chunk.length;
    if (this.#unsyncedBytes >= SYNC_EVERY_BYTES && this.#sync === null) {
      this.#unsyncedBytes = 0;
      const sync: InFlight = { done: Promise.resolve(), bytes: 0 };
      sync.done = this.#handle.sync().then(
        () => {
          if (this.#sync === sync) this.#sync = null;
        },
        (error: unknown) => {
          sync.failure = { error };
          this.#failed = true;
        },
      );
      this.#sync = sync;
    }
  }

  async #retireOldest(): Promise<void> {
    const entry = this.#queue.shift()!;
    await entry.done;
    this.#bytes -= entry.bytes;
    if (entry.failure) {
      this.#firstFailure ??= entry.failure;
      throw entry.failure.error;
    }
    // A failed background fsync surfaces with the next write retired after it.
    if (this.#sync?.failure) {
      this.#firstFailure ??= this.#sync.failure;
      throw this.#sync.failure.error;
    }
  }

  async #awaitSync(): Promise<void> {
    const sync = this.#sync;
    if (sync === null) return;
    await sync.done;
    this.#sync = null;
    if (sync.failure) {
      this.#firstFailure ??= sync.failure;
      throw sync.failure.error;
    }
  }

  /** Waits for every write (and background fsync) in flight; throws the earliest failure. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0) await this.#retireOldest();
    await this.#awaitSync();
  }

  /** Waits for everything in flight without throwing (before the handle is closed on an error). */
  async settle(): Promise<void> {
    while (this.#queue.length > 0) await this.#retireOldest().catch(() => undefined);
    await this.#awaitSync().catch(() => undefined);
  }
}

export async function writeRootfsPayloads(
  boot: BootControl,
  slot: SlotName,
  artifact: OpenedArtifact,
  onProgress?: Progress,
  options: SlotWriteOptions = {},
): Promise<void> {
  const verify = options.verifySlot ?? 'sampled';
  const seen = new Set<PartitionKind>();
  const onWritten = progressCounter(artifact, onProgress);
  for await (const payload of artifact.payloads()) {
    const kind = partitionFor(payload.name);
    if (seen.has(kind)) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: more than one ${kind} image (${payload.name})`);
    seen.add(kind);
    const capacity = await boot.partitionSize(slot, kind);
    if (payload.size > capacity) {
      throw new SidewalkError('OTA_IMAGE_TOO_LARGE', `${payload.name}: ${payload.size} bytes do not fit slot ${slot} ${kind} partition (${capacity} bytes)`);
    }
    // The reader checks the payload against the signed manifest while streaming. A read-back of the
    // whole image (or of one range covering it) is compared with that same checksum; only the ranges
    // of a larger sampled image need hashing here.
    const expected = artifact.info.files.find((f) => f.name === payload.name)?.sha256;
    if (expected === undefined) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: ${payload.name} is not in its manifest`);
    const ranges = verify === 'off' ? [] : verify === 'full' ? [{ start: 0, end: payload.size }] : sampleRanges(payload.size);
    const sampler = ranges.length > 1 ? new RangeHashes(ranges) : null;
    const handle = await boot.openPartition(slot, kind, 'r+');
    const window = new WriteWindow(handle);
    let offset = 0;
    const t0 = performance.now();
    let tSync = t0;
    try {
      for await (const chunk of payload.stream as AsyncIterable<Buffer>) {
        if (offset + chunk.length > capacity) throw new SidewalkError('OTA_IMAGE_TOO_LARGE', `${payload.name}: more than ${capacity} bytes for slot ${slot} ${kind}`);
        sampler?.update(chunk, offset);
        await window.write(chunk, offset, onWritten);
        offset += chunk.length;
      }
      await window.flush();
      tSync = performance.now();
      // Durable before the caller journals the slot as written (power-cut contract).
      await handle.sync();
    } catch (err) {
      // Nothing may still be writing when the handle closes; a write that failed first wins over a
      // later stream error (as in a serial loop, which would never have pulled that far).
      await window.settle();
      throw window.failure ? window.failure.error : err;
    } finally {
      await handle.close();
    }
    const tRead = performance.now();
    if (offset !== payload.size) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `${payload.name}: streamed ${offset} bytes, its tar header says ${payload.size}`);
    if (ranges.length > 0) {
      const digests = sampler ? sampler.digests() : [expected];
      await readBack(boot, slot, kind, ranges, digests);
    }
    const checked = verify === 'off' ? 'no read-back' : `read back ${sampler ? `${ranges.length} x ${SAMPLE_BYTES} bytes` : 'all of it'}`;
    log.info(`wrote ${payload.name} (${offset} bytes) to slot ${slot} ${kind}, ${checked} (verify_slot: ${verify})`, {
      streamMs: Math.round(tSync - t0),
      fsyncMs: Math.round(tRead - tSync),
      readBackMs: Math.round(performance.now() - tRead),
    });
  }
  if (!seen.has('root')) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: no root filesystem image`);
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
      const what = ranges.length === 1 && r.start === 0 ? 'read back sha256' : `bytes ${r.start}..${r.end} read back with sha256`;
      throw new SidewalkError('OTA_SLOT_VERIFY', `slot ${slot} ${kind}: ${what} ${got}${short ? ' (short read)' : ''}, ${ranges.length === 1 ? "the artifact's is" : 'written with'} ${want}`);
    }
  } finally {
    await Promise.allSettled(reads);
    await handle.close();
  }
}

/**
 * Stages a model (files + manifest.json, checked against the manifest) or an app (a tarball) and
 * moves it to versions/<version>. Returns the version: the manifest's for a model (which must equal
 * the artifact's declared one, if any), the declared one or the artifact name for an app.
 */
export async function stageBundle(store: VersionStore, artifact: OpenedArtifact, declared: string | null, onProgress?: Progress): Promise<string> {
  await store.beginStaging();
  const onBytes = progressCounter(artifact, onProgress);
  for await (const payload of artifact.payloads()) {
    if (store.kind === 'app') await store.stageTar(payload.stream, payload.name, onBytes);
    else await store.stageFile(payload.name, payload.stream as AsyncIterable<Buffer>, onBytes);
  }
  let version: string;
  if (store.kind === 'model') {
    version = await store.validateModel();
    if (declared !== null && declared !== version) {
      throw new SidewalkError('OTA_MODEL_INVALID', `artifact ${artifact.info.name} declares version ${declared}, its manifest.json says ${version}`);
    }
  } else {
    version = checkVersionName(declared ?? artifact.info.name, `artifact ${artifact.info.name}`);
  }
  await store.finishStaging(version);
  return version;
}
