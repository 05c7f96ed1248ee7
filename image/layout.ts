/**
 * The SD card layout that ota/ota.example.yaml expects (reference: ota/README.md):
 * p1 FAT32 selector (autoboot.txt only), p2/p3 boot A/B (FAT32), an extended partition holding
 * p5/p6 root A/B (ext4, 4 KiB blocks) and p7 data (ext4). The MBR disk signature is fixed, so every
 * PARTUUID (`<signature>-<nn>`) is known before the card exists. GPT is an option: partitions are then
 * numbered 1..6 and carry fixed partition UUIDs instead.
 */
import { SidewalkError } from '../lib/errors.js';

export type TableType = 'mbr' | 'gpt';
export type PartName = 'selector' | 'bootA' | 'bootB' | 'rootA' | 'rootB' | 'data';

/** The disk signature ota.example.yaml's /dev/disk/by-partuuid/ab12cd34-NN paths assume. */
export const MBR_DISK_SIGNATURE = 0xab12cd34;
export const GPT_DISK_UUID = '8a6f5b2e-1c3d-4e5f-9a0b-1c2d3e4f5a6b';

export interface PartitionSizes {
  selectorMiB: number;
  bootMiB: number;
  rootMiB: number;
  dataMiB: number;
}

export const DEFAULT_SIZES: PartitionSizes = { selectorMiB: 64, bootMiB: 256, rootMiB: 2048, dataMiB: 1024 };
/** FAT32 below 64 MiB has fewer clusters than mkfs.fat recommends (reference: image.md §1). */
export const MIN_FAT_MIB = 64;
const MIN_EXT4_MIB = 32;

export interface PartitionSpec {
  name: PartName;
  /** Partition number on the card (the kernel's and autoboot.txt's numbering). */
  number: number;
  fs: 'vfat' | 'ext4';
  label: string;
  sizeMiB: number;
  partuuid: string;
}

export interface Layout {
  table: TableType;
  partitions: readonly PartitionSpec[];
}

const ORDER: readonly { name: PartName; fs: 'vfat' | 'ext4'; label: string; size: keyof PartitionSizes }[] = [
  { name: 'selector', fs: 'vfat', label: 'SELECTOR', size: 'selectorMiB' },
  { name: 'bootA', fs: 'vfat', label: 'BOOTA', size: 'bootMiB' },
  { name: 'bootB', fs: 'vfat', label: 'BOOTB', size: 'bootMiB' },
  { name: 'rootA', fs: 'ext4', label: 'rootA', size: 'rootMiB' },
  { name: 'rootB', fs: 'ext4', label: 'rootB', size: 'rootMiB' },
  { name: 'data', fs: 'ext4', label: 'data', size: 'dataMiB' },
];

/** MBR: 1-3 primary, 4 extended, 5-7 logical. GPT: 1-6 in order. */
function numberOf(table: TableType, index: number): number {
  return table === 'gpt' || index < 3 ? index + 1 : index + 2;
}

export function mbrPartuuid(number: number): string {
  return `${MBR_DISK_SIGNATURE.toString(16).padStart(8, '0')}-${number.toString(16).padStart(2, '0')}`;
}

export function gptPartuuid(number: number): string {
  return `a0000000-0000-4000-8000-${number.toString(16).padStart(12, '0')}`;
}

export function makeLayout(table: TableType, sizes: PartitionSizes = DEFAULT_SIZES): Layout {
  for (const [key, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value <= 0) throw new SidewalkError('IMAGE_INVALID_OPTION', `partition size ${key}=${String(value)}: a positive whole number of MiB`);
  }
  if (sizes.selectorMiB < MIN_FAT_MIB || sizes.bootMiB < MIN_FAT_MIB) {
    throw new SidewalkError('IMAGE_INVALID_OPTION', `FAT32 partitions must be >= ${MIN_FAT_MIB} MiB (selector ${sizes.selectorMiB}, boot ${sizes.bootMiB})`);
  }
  if (sizes.rootMiB < MIN_EXT4_MIB || sizes.dataMiB < MIN_EXT4_MIB) {
    throw new SidewalkError('IMAGE_INVALID_OPTION', `ext4 partitions must be >= ${MIN_EXT4_MIB} MiB (root ${sizes.rootMiB}, data ${sizes.dataMiB})`);
  }
  return {
    table,
    partitions: ORDER.map((p, i) => {
      const number = numberOf(table, i);
      return { name: p.name, number, fs: p.fs, label: p.label, sizeMiB: sizes[p.size], partuuid: table === 'mbr' ? mbrPartuuid(number) : gptPartuuid(number) };
    }),
  };
}

export function partition(layout: Layout, name: PartName): PartitionSpec {
  const p = layout.partitions.find((x) => x.name === name);
  if (!p) throw new Error(`layout has no ${name}`);
  return p;
}

/** genimage's config: each filesystem from its source tree, then the disk. */
/** `epoch`: the superblock times (SOURCE_DATE_EPOCH). */
export function genimageConfig(layout: Layout, src: Record<PartName, string | null>, epoch: number): string {
  const fsBlock = (p: PartitionSpec): string => {
    const source = src[p.name];
    const content = source === null ? 'empty = true' : `srcpath = ${quote(source)}`;
    const fs =
      p.fs === 'vfat'
        ? // --invariant and a fixed volume id: the same tree gives the same FAT bytes.
          `vfat { label = ${quote(p.label)} extraargs = "-F 32 --invariant -i ${volumeId(p.number)}" }`
        : // A fixed UUID and hash seed, and genimage's own -E options repeated (mke2fs keeps only the last -E).
          `ext4 { label = ${quote(p.label)} use-mke2fs = true fs-timestamp = "${fsTimestamp(epoch)}" extraargs = "-b 4096 -U ${fsUuid(p.number)} -E root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0,hash_seed=${fsUuid(p.number)}" }`;
    return `image ${p.name}.${p.fs} {\n\t${fs}\n\t${content}\n\tsize = ${p.sizeMiB}M\n}\n`;
  };
  const disk =
    layout.table === 'mbr'
      ? `\thdimage {\n\t\tpartition-table-type = "mbr"\n\t\tdisk-signature = 0x${MBR_DISK_SIGNATURE.toString(16)}\n\t\talign = 4M\n\t\textended-partition = 4\n\t}\n`
      : `\thdimage {\n\t\tpartition-table-type = "gpt"\n\t\tdisk-uuid = ${quote(GPT_DISK_UUID)}\n\t\talign = 4M\n\t}\n`;
  const parts = layout.partitions
    .map((p) => {
      const type =
        layout.table === 'mbr' ? `partition-type = ${p.fs === 'vfat' ? '0x0C' : '0x83'}` : `partition-type-uuid = ${p.fs === 'vfat' ? '"F"' : '"L"'}\n\t\tpartition-uuid = ${quote(p.partuuid)}`;
      return `\tpartition ${p.name} {\n\t\t${type}\n\t\timage = "${p.name}.${p.fs}"${p.name === 'selector' ? '\n\t\tbootable = true' : ''}\n\t}\n`;
    })
    .join('');
  return `${layout.partitions.map(fsBlock).join('')}image sdcard.img {\n${disk}${parts}}\n`;
}

/** ext4 UUID (also its directory hash seed) of partition n: fixed, so two builds give the same bytes. */
export function fsUuid(n: number): string {
  return `${MBR_DISK_SIGNATURE.toString(16)}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function fsTimestamp(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function volumeId(n: number): string {
  return (0x5a000000 + n).toString(16).toUpperCase();
}

function quote(s: string): string {
  if (/["\n\\]/.test(s)) throw new SidewalkError('IMAGE_INVALID_OPTION', `path ${JSON.stringify(s)} cannot be written into a genimage config`);
  return `"${s}"`;
}
