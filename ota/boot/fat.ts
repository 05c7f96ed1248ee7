/**
 * A minimal read-only FAT12/16/32 reader for the selector partition, plus a one-sector in-place rewrite
 * of a file's data. Committing a slot swaps two digits of autoboot.txt, so the new content has the old
 * length: rewriting its data sector on the raw device leaves the FAT tables and the directory entry
 * untouched, and a power cut can only leave the old or the new sector (reference ota.md §4.4: a rename
 * on FAT is several unordered sector writes with no atomicity guarantee).
 *
 * The parser is a generator of read requests so the same code runs over an async OtaFileHandle (the
 * updater) and over a Buffer (the simulated firmware, which boots synchronously).
 * Layout facts from Microsoft's "FAT: General Overview of On-Disk Format" (fatgen103).
 */
import { SidewalkError } from '../../lib/errors.js';
import type { OtaFileHandle, OtaFs } from '../fs.js';

/** The unit an SD card programs; see rewriteInPlace for what we assume about it. */
export const SECTOR_BYTES = 512;
const DIR_ENTRY_BYTES = 32;
const ATTR_LONG_NAME = 0x0f;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;

export interface ReadRequest {
  position: number;
  length: number;
}

/** A parse step: yields what it needs to read, receives those bytes (possibly fewer at the device end). */
export type FatParse<T> = Generator<ReadRequest, T, Buffer>;

export interface FatVolume {
  fatBits: 12 | 16 | 32;
  bytesPerSector: number;
  bytesPerCluster: number;
  clusterCount: number;
  /** Byte offsets on the device. */
  fatOffset: number;
  dataOffset: number;
  /** FAT12/16: the fixed root directory's offset and size; FAT32: null (the root is a cluster chain). */
  fixedRoot: { offset: number; bytes: number } | null;
  rootCluster: number;
}

export interface FatFile {
  volume: FatVolume;
  size: number;
  firstCluster: number;
  /** Byte offset of the file's 32-byte directory entry. */
  entryOffset: number;
  /** Where the file's bytes are on the device, in order (one range per cluster, the last one cut at the size). */
  extents: { offset: number; length: number }[];
}

function invalid(source: string, message: string): SidewalkError {
  return new SidewalkError('OTA_SELECTOR_INVALID', `${source}: ${message}`);
}

function* readExact(position: number, length: number, source: string, what: string): FatParse<Buffer> {
  const bytes = yield { position, length };
  if (bytes.length < length) throw invalid(source, `${what}: short read at byte ${position + bytes.length} (the device ends before the file system says)`);
  return bytes;
}

/**
 * Parses and checks the boot sector (BPB). FAT32 is recognised like Linux does (BPB_FATSz16 = 0), so a
 * small `mkfs.fat -F 32` volume also reads; otherwise the cluster count picks FAT12 or FAT16 (fatgen103).
 */
export function* readVolume(source: string): FatParse<FatVolume> {
  const bs = yield* readExact(0, SECTOR_BYTES, source, 'boot sector');
  if (bs[510] !== 0x55 || bs[511] !== 0xaa) throw invalid(source, `boot sector: bytes 510-511 are ${hex(bs[510]!)} ${hex(bs[511]!)}, not the signature 0x55 0xAA`);
  if (bs[0] !== 0xeb && bs[0] !== 0xe9) throw invalid(source, `boot sector: byte 0 is ${hex(bs[0]!)}, not a jump instruction (0xEB/0xE9)`);
  const bytesPerSector = bs.readUInt16LE(11);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw invalid(source, `BPB_BytsPerSec (byte 11) is ${bytesPerSector}, not 512/1024/2048/4096`);
  const sectorsPerCluster = bs[13]!;
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) throw invalid(source, `BPB_SecPerClus (byte 13) is ${sectorsPerCluster}, not a power of 2`);
  const reserved = bs.readUInt16LE(14);
  if (reserved === 0) throw invalid(source, 'BPB_RsvdSecCnt (byte 14) is 0');
  const fats = bs[16]!;
  if (fats === 0) throw invalid(source, 'BPB_NumFATs (byte 16) is 0');
  const rootEntries = bs.readUInt16LE(17);
  const totalSectors = bs.readUInt16LE(19) || bs.readUInt32LE(32);
  if (totalSectors === 0) throw invalid(source, 'BPB_TotSec16 (byte 19) and BPB_TotSec32 (byte 32) are both 0');
  const fat32 = bs.readUInt16LE(22) === 0;
  const fatSectors = fat32 ? bs.readUInt32LE(36) : bs.readUInt16LE(22);
  if (fatSectors === 0) throw invalid(source, 'BPB_FATSz16 (byte 22) and BPB_FATSz32 (byte 36) are both 0');
  const rootSectors = Math.ceil((rootEntries * DIR_ENTRY_BYTES) / bytesPerSector);
  const firstDataSector = reserved + fats * fatSectors + rootSectors;
  if (firstDataSector >= totalSectors) throw invalid(source, `the FATs and root directory (${firstDataSector} sectors) do not fit in the volume (${totalSectors} sectors)`);
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  const fatBits = fat32 ? 32 : clusterCount < 4085 ? 12 : 16;
  if (fat32 && rootEntries !== 0) throw invalid(source, `FAT32 (BPB_FATSz16 is 0) but BPB_RootEntCnt (byte 17) is ${rootEntries}, not 0`);
  if (!fat32 && rootEntries === 0) throw invalid(source, `FAT${fatBits} but BPB_RootEntCnt (byte 17) is 0`);
  if (!fat32 && clusterCount >= 65525) throw invalid(source, `${clusterCount} clusters is too many for FAT16 (BPB_FATSz16 at byte 22 is not 0)`);
  const rootCluster = fatBits === 32 ? bs.readUInt32LE(44) : 0;
  if (fatBits === 32 && (rootCluster < 2 || rootCluster >= clusterCount + 2)) throw invalid(source, `BPB_RootClus (byte 44) is ${rootCluster}, outside clusters 2..${clusterCount + 1}`);
  return {
    fatBits,
    bytesPerSector,
    bytesPerCluster: bytesPerSector * sectorsPerCluster,
    clusterCount,
    fatOffset: reserved * bytesPerSector,
    dataOffset: firstDataSector * bytesPerSector,
    fixedRoot: fatBits === 32 ? null : { offset: (reserved + fats * fatSectors) * bytesPerSector, bytes: rootEntries * DIR_ENTRY_BYTES },
    rootCluster,
  };
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0').toUpperCase()}`;
}

function clusterOffset(v: FatVolume, cluster: number): number {
  return v.dataOffset + (cluster - 2) * v.bytesPerCluster;
}

/**
 * The clusters of a chain, from the first FAT copy; stops at end-of-chain or after `limit` clusters (a
 * file's size says how many it needs, like a boot loader reading it), rejects free/bad/looping links.
 */
function* clusterChain(v: FatVolume, first: number, source: string, what: string, limit = Infinity): FatParse<number[]> {
  const chain: number[] = [];
  const eoc = v.fatBits === 12 ? 0xff8 : v.fatBits === 16 ? 0xfff8 : 0x0ffffff8;
  const bad = eoc - 1;
  let cluster = first;
  for (;;) {
    if (cluster < 2 || cluster >= v.clusterCount + 2) throw invalid(source, `${what}: cluster ${cluster} after ${chain.length} clusters is outside 2..${v.clusterCount + 1}`);
    if (chain.length > v.clusterCount) throw invalid(source, `${what}: the cluster chain loops`);
    chain.push(cluster);
    if (chain.length >= limit) return chain;
    let next: number;
    if (v.fatBits === 12) {
      const e = (yield* readExact(v.fatOffset + cluster + (cluster >> 1), 2, source, 'FAT')).readUInt16LE(0);
      next = cluster & 1 ? e >> 4 : e & 0xfff;
    } else if (v.fatBits === 16) next = (yield* readExact(v.fatOffset + cluster * 2, 2, source, 'FAT')).readUInt16LE(0);
    else next = (yield* readExact(v.fatOffset + cluster * 4, 4, source, 'FAT')).readUInt32LE(0) & 0x0fffffff;
    if (next >= eoc) return chain;
    if (next === bad || next === 0) throw invalid(source, `${what}: FAT entry of cluster ${cluster} is ${next === 0 ? 'free' : 'a bad cluster'} inside the chain`);
    cluster = next;
  }
}

/** "autoboot.txt" -> the 11-byte short name "AUTOBOOT" + "TXT". */
function shortName(name: string): string {
  const [base = '', ext = ''] = name.toUpperCase().split('.');
  return base.padEnd(8, ' ') + ext.padEnd(3, ' ');
}

/**
 * Finds a file in the root directory by its 8.3 short name (what the firmware matches), skipping long-name,
 * deleted, volume-label and directory entries. Throws OTA_AUTOBOOT_MISSING when it is not there.
 */
export function* locateFile(name: string, source: string): FatParse<FatFile> {
  const v = yield* readVolume(source);
  const want = shortName(name);
  const regions = v.fixedRoot ? [v.fixedRoot] : (yield* clusterChain(v, v.rootCluster, source, 'root directory')).map((c) => ({ offset: clusterOffset(v, c), bytes: v.bytesPerCluster }));
  for (const region of regions) {
    const dir = yield* readExact(region.offset, region.bytes, source, 'root directory');
    for (let at = 0; at + DIR_ENTRY_BYTES <= dir.length; at += DIR_ENTRY_BYTES) {
      const first = dir[at]!;
      if (first === 0x00) return notFound(name, source); // end of directory
      const attr = dir[at + 11]!;
      if (first === 0xe5 || attr === ATTR_LONG_NAME || attr & (ATTR_VOLUME_ID | ATTR_DIRECTORY)) continue;
      if (dir.toString('latin1', at, at + 11) !== want) continue;
      const size = dir.readUInt32LE(at + 28);
      const firstCluster = (v.fatBits === 32 ? dir.readUInt16LE(at + 20) << 16 : 0) | dir.readUInt16LE(at + 26);
      const entryOffset = region.offset + at;
      if (size === 0) return { volume: v, size, firstCluster, entryOffset, extents: [] };
      const needed = Math.ceil(size / v.bytesPerCluster);
      const chain = yield* clusterChain(v, firstCluster, source, name, needed);
      if (chain.length < needed) throw invalid(source, `${name}: ${size} bytes but its cluster chain ends after ${chain.length} cluster(s) of ${v.bytesPerCluster} bytes`);
      const extents = chain.map((c, i) => ({
        offset: clusterOffset(v, c),
        length: Math.min(v.bytesPerCluster, size - i * v.bytesPerCluster),
      }));
      return { volume: v, size, firstCluster, entryOffset, extents };
    }
  }
  return notFound(name, source);
}

function notFound(name: string, source: string): never {
  throw new SidewalkError('OTA_AUTOBOOT_MISSING', `${source}: no ${shortName(name).slice(0, 8).trim()}.${shortName(name).slice(8).trim()} in the root directory`);
}

/** A file's content, given where it is. */
export function* readContent(file: FatFile, source: string): FatParse<Buffer> {
  const parts: Buffer[] = [];
  for (const e of file.extents) parts.push(yield* readExact(e.offset, e.length, source, 'file data'));
  return Buffer.concat(parts);
}

/** Runs a parse over bytes already in memory (the simulated firmware reads the whole image). */
export function parseSync<T>(parse: FatParse<T>, image: Buffer): T {
  let step = parse.next();
  while (!step.done) {
    const { position, length } = step.value;
    step = parse.next(image.subarray(position, position + length));
  }
  return step.value;
}

/** Runs a parse over an open device or image file. */
export async function parseHandle<T>(parse: FatParse<T>, handle: OtaFileHandle): Promise<T> {
  let step = parse.next();
  while (!step.done) {
    const buf = Buffer.alloc(step.value.length);
    const n = await handle.read(buf, step.value.position);
    step = parse.next(buf.subarray(0, n));
  }
  return step.value;
}

/** Reads `name` (e.g. autoboot.txt) from a FAT device or image without mounting it. */
export async function readFatFile(fs: OtaFs, device: string, name: string): Promise<{ file: FatFile; content: Buffer }> {
  const handle = await fs.open(device, 'r');
  try {
    const file = await parseHandle(locateFile(name, device), handle);
    return { file, content: await parseHandle(readContent(file, device), handle) };
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the content of `name` with `content` of the SAME length by rewriting the one 512-byte sector
 * that holds it (read-modify-write, so bytes past the end of the file keep their value), then fsync
 * of the device and a read back. The FATs and the directory entry (size, clusters, dates) stay as they
 * are, so fsck has nothing to object to.
 * `found`: the file as the caller just read it (readFatFile), so it is not located twice.
 * Refuses (OTA_SELECTOR_NOT_IN_PLACE) when the length differs or the data spans two sectors; the
 * caller then has to fall back to a non-atomic rewrite.
 * ASSUMPTION, not a guarantee: an SD card programs a 512-byte sector all-or-nothing (its controller
 * writes whole pages with their ECC; SD cards have no documented torn-sector behaviour). The power-cut
 * tests model the worse case of a sector torn at any byte; that is still safe here, because the old and
 * new autoboot.txt differ only in two digits and every mix of them is a valid file naming a slot.
 */
export async function rewriteInPlace(fs: OtaFs, device: string, name: string, content: Buffer, found?: { file: FatFile; content: Buffer }): Promise<{ written: boolean }> {
  const { file, content: current } = found ?? (await readFatFile(fs, device, name));
  if (content.length !== file.size) {
    throw new SidewalkError('OTA_SELECTOR_NOT_IN_PLACE', `${device}: ${name} is ${file.size} bytes, the new content ${content.length}; only a same-length rewrite is in place`);
  }
  const offset = file.extents[0]?.offset ?? 0;
  const sector = Math.floor(offset / SECTOR_BYTES) * SECTOR_BYTES;
  if (file.size === 0 || offset + file.size > sector + SECTOR_BYTES) {
    throw new SidewalkError('OTA_SELECTOR_NOT_IN_PLACE', `${device}: ${name} (${file.size} bytes at byte ${offset}) is not within one ${SECTOR_BYTES}-byte sector`);
  }
  if (current.equals(content)) return { written: false };
  const handle = await fs.open(device, 'r+');
  try {
    const buf = Buffer.alloc(SECTOR_BYTES);
    const n = await handle.read(buf, sector);
    if (n !== SECTOR_BYTES) throw invalid(device, `short read of the sector at byte ${sector}`);
    content.copy(buf, offset - sector);
    await handle.write(buf, sector);
    await handle.sync();
    // Confirms what the kernel will hand back; the fsync above is what reaches the card.
    const check = Buffer.alloc(file.size);
    await handle.read(check, offset);
    if (!check.equals(content)) throw new SidewalkError('OTA_SELECTOR_VERIFY', `${device}: ${name} at byte ${offset} reads back different content after the write`);
  } finally {
    await handle.close();
  }
  return { written: true };
}
