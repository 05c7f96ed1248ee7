import type { PayloadChunk } from '../artifact/types.js';
import type { OtaFileHandle } from '../fs.js';

/** Positional writes in flight while the next chunks are pulled and hashed (bytes, and operations for small chunks). */
const WRITE_WINDOW_BYTES = 4 << 20;
const WRITE_WINDOW_OPS = 16;
/**
 * A background fsync after this many bytes (one at a time): writeback starts early instead of dirty
 * pages piling up. bench:ota, verify_slot off, copy/install ratio: 0.72-0.73 at 64 MiB, 0.81-0.85 at
 * 32 MiB, 0.84-0.91 at 16 MiB, 0.87-0.88 at 8 MiB (a card sees the same total writes either way).
 */
const SYNC_EVERY_BYTES = 16 << 20;

/** A write (or background fsync) in flight; `failure` is set when it rejected. */
interface InFlight {
  done: Promise<void>;
  bytes: number;
  failure?: { error: unknown };
}

/**
 * Keeps a bounded number of positional writes in flight, so the partition is written while the
 * reader pulls and hashes the next chunks. Each chunk is lent by the reader (ArtifactPayload.chunks)
 * and released only when its write has settled: the reader reads into a released buffer again. A
 * failed write is reported by the earliest failing write in issue order (the one the serial loop
 * would have hit first).
 */
export class WriteWindow {
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

  async write(chunk: PayloadChunk, offset: number, onWritten: (bytes: number) => void): Promise<void> {
    if (this.#failed) await this.flush();
    const bytes = chunk.data.length;
    while (this.#queue.length > 0 && (this.#queue.length >= WRITE_WINDOW_OPS || this.#bytes + bytes > WRITE_WINDOW_BYTES)) await this.#retireOldest();
    const entry: InFlight = { done: Promise.resolve(), bytes };
    entry.done = this.#handle.write(chunk.data, offset).then(
      () => {
        chunk.release();
        onWritten(bytes);
      },
      (error: unknown) => {
        chunk.release();
        entry.failure = { error };
        this.#failed = true;
      },
    );
    this.#queue.push(entry);
    this.#bytes += bytes;
    this.#unsyncedBytes += bytes;
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
