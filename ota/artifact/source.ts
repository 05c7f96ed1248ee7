import { open } from 'node:fs/promises';

/**
 * Bytes the reader can read at any position: an artifact file on the data partition. With one, the
 * reader skips members without reading them and copies an uncompressed payload in large reads into
 * its own reused buffers (ota/artifact/pooled-range.ts) instead of streaming it chunk by chunk.
 */
export interface PositionalSource {
  /** Bytes in the source (fixed when it is opened). */
  readonly size: number;
  /** Reads up to buffer.length bytes at `position`; fewer only at the end of the source. */
  read(buffer: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A regular file as a positional source, or null when `path` is something else (a pipe or a
 * character device cannot be read at positions; the caller streams it instead).
 */
export async function openFileSource(path: string): Promise<PositionalSource | null> {
  const handle = await open(path, 'r');
  const stat = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  if (!stat.isFile()) {
    await handle.close();
    return null;
  }
  return {
    size: stat.size,
    async read(buffer, position) {
      let got = 0;
      while (got < buffer.length) {
        const { bytesRead } = await handle.read(buffer, got, buffer.length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got;
    },
    // FileHandle.close waits for reads still in flight.
    close: () => handle.close(),
  };
}

/** `size` bytes of `source` from `start` (clamped to its end), as a source of its own; closing it leaves `source` open. */
export function windowOf(source: PositionalSource, start: number, size: number): PositionalSource {
  const windowSize = Math.max(0, Math.min(size, source.size - start));
  return {
    size: windowSize,
    read(buffer, position) {
      const n = Math.max(0, Math.min(buffer.length, windowSize - position));
      return n === 0 ? Promise.resolve(0) : source.read(buffer.subarray(0, n), start + position);
    },
    close: async () => {},
  };
}
