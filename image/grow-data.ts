/**
 * First boot on the scooter: the data partition grows to fill the SD card (the image is sized for the
 * smallest card; rides and downloads want the rest). MBR cards only: the data partition is the last
 * logical partition (p7 in extended p4, image/layout.ts), so both the extended partition's entry in the
 * MBR and p7's entry in its EBR get the new end, extended first, each sector written and fsynced on its
 * own: a power cut between the two leaves a larger container around the old p7, which is still valid.
 *
 * The kernel keeps its view of a disk whose partitions are mounted (BLKRRPART fails while the root is
 * mounted, and the base has no BLKPG tool), so after the table is written the Pi reboots once, as Raspberry
 * Pi OS's own first-boot resize does; the next boot grows the filesystem online (resize2fs on the mounted
 * ext4) and leaves the marker that keeps the unit from running again. The steps are idempotent, so a power cut
 * anywhere means the next boot finishes the job.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { SidewalkError } from '../lib/errors.js';

const SECTOR = 512;
/** genimage's `align = 4M` in 512-byte sectors: the new end keeps the image's alignment. */
export const ALIGN_SECTORS = 8192;
const MAX_MBR_SECTOR = 0xffffffff;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
const GPT_PROTECTIVE = 0xee;

interface MbrEntry {
  type: number;
  start: number;
  sectors: number;
}

export type GrowthPlan =
  | { kind: 'grow'; extendedIndex: number; extendedStart: number; ebrLba: number; dataStart: number; oldSectors: number; newEnd: number }
  | { kind: 'full'; dataSectors: number }
  | { kind: 'unsupported'; why: string };

function entry(sector: Buffer, index: number): MbrEntry {
  const at = 446 + 16 * index;
  return { type: sector[at + 4]!, start: sector.readUInt32LE(at + 8), sectors: sector.readUInt32LE(at + 12) };
}

function checkSignature(sector: Buffer, lba: number, source: string): void {
  if (sector.length < SECTOR || sector[510] !== 0x55 || sector[511] !== 0xaa) {
    throw new SidewalkError('GROW_TABLE_INVALID', `${source}: sector ${lba} (byte ${lba * SECTOR + 510}) has no 55 aa boot signature: not an MBR or EBR`);
  }
}

/**
 * What growing partition `number` to the end of a disk of `diskSectors` would change. `read(lba)` returns
 * one 512-byte sector. Untrusted bytes: every EBR link is checked to stay inside the extended partition.
 */
export function planDataGrowth(read: (lba: number) => Buffer, diskSectors: number, number: number, source: string): GrowthPlan {
  if (!Number.isSafeInteger(diskSectors) || diskSectors <= 0) throw new SidewalkError('GROW_TABLE_INVALID', `${source}: disk size ${diskSectors} sectors is not a positive whole number`);
  const mbr = read(0);
  checkSignature(mbr, 0, source);
  if (entry(mbr, 0).type === GPT_PROTECTIVE) return { kind: 'unsupported', why: 'GPT partition table: growing the data partition is done for MBR cards only' };
  const primaries = [0, 1, 2, 3].map((i) => entry(mbr, i));
  const extendedIndex = primaries.findIndex((e) => EXTENDED_TYPES.has(e.type));
  if (extendedIndex < 0) throw new SidewalkError('GROW_TABLE_INVALID', `${source}: the MBR has no extended partition (bytes 446-509), so there is no logical data partition p${number}`);
  if (number < 5) throw new SidewalkError('GROW_TABLE_INVALID', `${source}: partition ${number} is primary; the data partition is a logical one (p5 or later)`);
  const ext = primaries[extendedIndex]!;
  const extEnd = ext.start + ext.sectors;
  let ebrLba = ext.start;
  for (let n = 5; ; n++) {
    if (ebrLba < ext.start || ebrLba >= extEnd)
      throw new SidewalkError('GROW_TABLE_INVALID', `${source}: EBR of p${n} at sector ${ebrLba} lies outside the extended partition (${ext.start}-${extEnd})`);
    const ebr = read(ebrLba);
    checkSignature(ebr, ebrLba, source);
    const logical = entry(ebr, 0);
    const next = entry(ebr, 1);
    if (n === number) {
      const dataStart = ebrLba + logical.start;
      const dataEnd = dataStart + logical.sectors;
      if (logical.sectors === 0 || dataEnd > extEnd)
        throw new SidewalkError('GROW_TABLE_INVALID', `${source}: p${n} (EBR sector ${ebrLba}, byte ${ebrLba * SECTOR + 446}) is empty or ends past its extended partition`);
      if (next.type !== 0) return { kind: 'unsupported', why: `p${n} is not the last logical partition` };
      const newEnd = Math.floor(Math.min(diskSectors, MAX_MBR_SECTOR) / ALIGN_SECTORS) * ALIGN_SECTORS;
      if (newEnd - dataEnd < ALIGN_SECTORS) return { kind: 'full', dataSectors: logical.sectors };
      return { kind: 'grow', extendedIndex, extendedStart: ext.start, ebrLba, dataStart, oldSectors: logical.sectors, newEnd };
    }
    if (!EXTENDED_TYPES.has(next.type)) throw new SidewalkError('GROW_TABLE_INVALID', `${source}: the logical partitions end at p${n}; there is no p${number}`);
    ebrLba = ext.start + next.start;
  }
}

/** CHS of an LBA in the 255-head, 63-sector geometry; past cylinder 1023 the conventional fe ff ff. */
function chs(lba: number): [number, number, number] {
  const cylinder = Math.floor(lba / (255 * 63));
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor(lba / 63) % 255;
  const sector = (lba % 63) + 1;
  return [head, ((cylinder >> 2) & 0xc0) | sector, cylinder & 0xff];
}

function setEnd(sector: Buffer, index: number, sectors: number, lastLba: number): void {
  const at = 446 + 16 * index;
  sector.writeUInt32LE(sectors, at + 12);
  Buffer.from(chs(lastLba)).copy(sector, at + 5);
}

/** Writes the plan: the extended partition's MBR entry first, then the data partition's EBR entry. */
export async function applyGrowth(disk: string, plan: Extract<GrowthPlan, { kind: 'grow' }>): Promise<void> {
  const fh = await open(disk, 'r+');
  try {
    const rewrite = async (lba: number, index: number, sectors: number): Promise<void> => {
      const sector = Buffer.alloc(SECTOR);
      await fh.read(sector, 0, SECTOR, lba * SECTOR);
      setEnd(sector, index, sectors, plan.newEnd - 1);
      await fh.write(sector, 0, SECTOR, lba * SECTOR);
      await fh.sync();
    };
    await rewrite(0, plan.extendedIndex, plan.newEnd - plan.extendedStart);
    await rewrite(plan.ebrLba, 0, plan.newEnd - plan.dataStart);
  } finally {
    await fh.close();
  }
}

/** Plans the growth of partition `number` on a disk (or image file), reading its MBR and EBRs. */
export function planDiskGrowth(disk: string, diskSectors: number, number: number): GrowthPlan {
  const fd = openSync(disk, 'r');
  try {
    return planDataGrowth(
      (lba) => {
        const b = Buffer.alloc(SECTOR);
        readSync(fd, b, 0, SECTOR, lba * SECTOR);
        return b;
      },
      diskSectors,
      number,
      disk,
    );
  } finally {
    closeSync(fd);
  }
}

/** The device behind fstab's /data line (PARTUUID=, or a /dev path). */
export function dataSpec(fstab: string, source: string): string {
  for (const line of fstab.split('\n')) {
    const [spec, mount] = line.trim().split(/\s+/);
    if (!spec || spec.startsWith('#') || mount !== '/data') continue;
    if (spec.startsWith('PARTUUID=')) return join('/dev/disk/by-partuuid', spec.slice('PARTUUID='.length).toLowerCase());
    if (spec.startsWith('/dev/')) return spec;
    throw new SidewalkError('GROW_TABLE_INVALID', `${source}: the /data line names ${spec}; PARTUUID= or a /dev path is expected`);
  }
  throw new SidewalkError('GROW_TABLE_INVALID', `${source}: no /data line`);
}

export interface GrowDataOptions {
  fstab: string;
  /** Written when there is nothing left to do; the unit's ConditionPathExists=! skips later boots. */
  marker: string;
  /** Prefix of /dev and /sys (tests point them at a simulated card). */
  root?: string;
  reboot(): Promise<void>;
  resizeFilesystem(device: string): Promise<void>;
  say(line: string): void;
}

export type GrowDataOutcome = 'rebooting' | 'grown' | 'unsupported';

/** One first-boot pass: table (then reboot), or filesystem (then marker). */
export async function growData(o: GrowDataOptions): Promise<GrowDataOutcome> {
  const root = o.root ?? '/';
  const at = (p: string) => join(root, p);
  const partDev = await realpath(at(dataSpec(await readFile(o.fstab, 'utf8'), o.fstab)));
  const name = basename(partDev);
  // /sys/class/block/<part> links into its disk's folder: the parent folder is the disk.
  const partSys = resolve(dirname(at(`sys/class/block/${name}`)), await readlink(at(`sys/class/block/${name}`)));
  const diskName = basename(dirname(partSys));
  const number = await sysfsNumber(join(partSys, 'partition'));
  const diskSectors = await sysfsNumber(at(`sys/class/block/${diskName}/size`));
  const kernelSectors = await sysfsNumber(join(partSys, 'size'));
  const disk = at(`dev/${diskName}`);
  const plan = planDiskGrowth(disk, diskSectors, number);
  return carryOut(o, disk, partDev, number, plan, kernelSectors);
}

/** A positive whole number from a sysfs file; anything else stops before a byte of the table is written. */
async function sysfsNumber(path: string): Promise<number> {
  const text = (await readFile(path, 'utf8')).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) throw new SidewalkError('GROW_TABLE_INVALID', `${path}: "${text.slice(0, 40)}" is not a positive whole number`);
  return n;
}

async function carryOut(o: GrowDataOptions, disk: string, partDev: string, number: number, plan: GrowthPlan, kernelSectors: number): Promise<GrowDataOutcome> {
  const mib = (sectors: number) => Math.round((sectors * SECTOR) / 2 ** 20);
  if (plan.kind === 'unsupported') {
    o.say(`grow-data: ${disk}: ${plan.why}; the data partition keeps its size`);
    await writeFileAtomic(o.marker, `unsupported: ${plan.why}\n`);
    return 'unsupported';
  }
  if (plan.kind === 'grow') {
    await applyGrowth(disk, plan);
    o.say(`grow-data: ${disk}: p${number} ${mib(plan.oldSectors)} -> ${mib(plan.newEnd - plan.dataStart)} MiB in the partition table; rebooting once so that the kernel reads it`);
    await o.reboot();
    return 'rebooting';
  }
  if (kernelSectors < plan.dataSectors) {
    // Written on an earlier boot whose reboot did not happen (power cut): the kernel still has the old size.
    o.say(`grow-data: the kernel still sees p${number} at ${mib(kernelSectors)} MiB (table: ${mib(plan.dataSectors)} MiB); rebooting`);
    await o.reboot();
    return 'rebooting';
  }
  await o.resizeFilesystem(partDev);
  o.say(`grow-data: ${partDev}: filesystem fills p${number} (${mib(plan.dataSectors)} MiB)`);
  await writeFileAtomic(o.marker, `grown: ${plan.dataSectors} sectors\n`);
  return 'grown';
}
