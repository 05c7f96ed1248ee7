/**
 * The OS images the simulated firmware can judge: a 96-byte header (magic, body length, sha256 of the
 * body, version, "panics" flag) and a body. A partition holding a torn or stale write fails the check,
 * which is exactly what a real kernel/rootfs would do less politely.
 */
import { createHash } from 'node:crypto';

const MAGIC = Buffer.from('SWSIMG01');
export const SIM_IMAGE_HEADER_BYTES = 96;

export interface SimImageInfo {
  version: string;
  /** The image boots far enough to be "bad" only through a kernel panic (to test trial-boot fallback). */
  panics: boolean;
  bytes: number;
}

export function makeSimImage(options: { version: string; bodyBytes: number; panics?: boolean }): Buffer {
  // Version-dependent filler: the seed repeated, each 32-byte block tagged with its index.
  const body = Buffer.alloc(options.bodyBytes);
  const seed = createHash('sha256').update(options.version).digest();
  for (let off = 0, block = 0; off < body.length; off += seed.length, block++) {
    seed.copy(body, off);
    if (off + 4 <= body.length) body.writeUInt32BE(block, off);
  }
  const header = Buffer.alloc(SIM_IMAGE_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeBigUInt64BE(BigInt(body.length), 8);
  createHash('sha256').update(body).digest().copy(header, 16);
  header.write(options.version.slice(0, 32), 48, 'utf8');
  header[80] = options.panics ? 1 : 0;
  return Buffer.concat([header, body]);
}

/** Reads an image from the start of a partition's bytes; null when it is not a complete, intact image. */
export function checkSimImage(partition: Buffer): SimImageInfo | null {
  if (partition.length < SIM_IMAGE_HEADER_BYTES || !partition.subarray(0, 8).equals(MAGIC)) return null;
  const length = Number(partition.readBigUInt64BE(8));
  if (SIM_IMAGE_HEADER_BYTES + length > partition.length) return null;
  const body = partition.subarray(SIM_IMAGE_HEADER_BYTES, SIM_IMAGE_HEADER_BYTES + length);
  if (!createHash('sha256').update(body).digest().equals(partition.subarray(16, 48))) return null;
  const version = partition.subarray(48, 80).toString('utf8').replace(/\0+$/, '');
  return { version, panics: partition[80] === 1, bytes: SIM_IMAGE_HEADER_BYTES + length };
}
