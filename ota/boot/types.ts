import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { readIfExists, replaceFile, type OtaFileHandle, type OtaFs } from '../fs.js';
import { formatAutoboot, parseAutoboot, type Autoboot } from './autoboot.js';

export type SlotName = 'A' | 'B';
export type PartitionKind = 'boot' | 'root';
export const SLOT_NAMES: readonly SlotName[] = ['A', 'B'];

export interface SlotConfig {
  /** Partition number of the slot's FAT boot partition (what autoboot.txt's boot_partition names). */
  bootPartition: number;
  /** Block device (or, simulated, a file) of the boot and root partitions. */
  bootDevice: string;
  rootDevice: string;
}

export interface BootState {
  slot: SlotName;
  partition: number;
  /** True when the firmware booted this time with the one-shot tryboot flag set. */
  tryboot: boolean;
}

/** The hardware boundary of OS A/B: the Pi firmware's tryboot rules plus the slots' partitions. */
export interface BootControl {
  readonly slots: Readonly<Record<SlotName, SlotConfig>>;
  /** Which slot the firmware booted, and whether this boot is a trial (tryboot) boot. */
  booted(): Promise<BootState>;
  readAutoboot(): Promise<Autoboot>;
  /** Makes `slot` the default (`[all]`) and the other slot the `[tryboot]` target; atomic replace + fsync. */
  commit(slot: SlotName): Promise<void>;
  /** Reboots; with `tryboot` the next boot (only) starts the `[tryboot]` partition. */
  reboot(options: { tryboot: boolean }): Promise<void>;
  /** Throws OTA_BOOTLOADER_TOO_OLD when the running bootloader cannot do A/B tryboot (before an OS update writes anything). */
  checkOsUpdateSupported?(): Promise<void>;
  openPartition(slot: SlotName, kind: PartitionKind, mode: 'r' | 'r+'): Promise<OtaFileHandle>;
  partitionSize(slot: SlotName, kind: PartitionKind): Promise<number>;
}

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'A' ? 'B' : 'A';
}

export function slotOfPartition(slots: Readonly<Record<SlotName, SlotConfig>>, partition: number): SlotName | null {
  return SLOT_NAMES.find((s) => slots[s].bootPartition === partition) ?? null;
}

/** Where autoboot.txt lives: a mounted directory (AutobootFile) or a raw FAT device (DeviceAutobootFile). */
export interface AutobootStore {
  read(): Promise<Autoboot>;
  /** Makes `slot` the `[all]` default and the other slot the `[tryboot]` target; no write when already so. */
  commit(slot: SlotName): Promise<void>;
}

/**
 * autoboot.txt in a mounted directory. The rename is atomic on ext4-like file systems, but NOT on a
 * vfat mount (reference ota.md §4.4): there a power cut can leave no autoboot.txt at all. The real
 * selector should use DeviceAutobootFile (boot.selector_device).
 */
export class AutobootFile implements AutobootStore {
  readonly path: string;
  #fs: OtaFs;
  #slots: Readonly<Record<SlotName, SlotConfig>>;

  constructor(fs: OtaFs, selectorDir: string, slots: Readonly<Record<SlotName, SlotConfig>>) {
    this.#fs = fs;
    this.path = join(selectorDir, 'autoboot.txt');
    this.#slots = slots;
  }

  async read(): Promise<Autoboot> {
    const bytes = await readIfExists(this.#fs, this.path);
    if (bytes === null) throw new SidewalkError('OTA_AUTOBOOT_INVALID', `${this.path}: missing`);
    return parseAutoboot(bytes.toString('utf8'), this.path);
  }

  /** tmp file, fsync, rename, fsync the directory (reference ota.md §4.4). Skips the write when already so. */
  async commit(slot: SlotName): Promise<void> {
    const text = formatAutoboot(this.#slots[slot].bootPartition, this.#slots[otherSlot(slot)].bootPartition);
    const current = await readIfExists(this.#fs, this.path);
    if (current?.toString('utf8') === text) return;
    await replaceFile(this.#fs, this.path, text);
  }
}
