/**
 * /proc/device-tree/chosen/bootloader/{partition,tryboot}: 32-bit big-endian integers, not text
 * (raspberrypi/documentation#3017). `partition` is the partition the firmware booted from.
 */
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import type { OtaFs } from '../fs.js';
import { slotOfPartition, type BootState, type SlotConfig, type SlotName } from './types.js';

export function decodeDtU32(bytes: Buffer, source: string): number {
  if (bytes.length !== 4) {
    throw new SidewalkError('OTA_DEVICE_TREE', `${source}: expected a 4-byte big-endian integer, got ${bytes.length} byte(s)`);
  }
  return bytes.readUInt32BE(0);
}

export function encodeDtU32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return b;
}

export async function readBootloaderDt(fs: OtaFs, dtRoot: string): Promise<{ partition: number; tryboot: boolean }> {
  const dir = join(dtRoot, 'chosen', 'bootloader');
  const read = async (name: string): Promise<number> => {
    const path = join(dir, name);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (err) {
      throw new SidewalkError('OTA_DEVICE_TREE', `${path}: cannot read (${(err as Error).message}); is this a Raspberry Pi firmware boot?`, { cause: err });
    }
    return decodeDtU32(bytes, path);
  };
  return { partition: await read('partition'), tryboot: (await read('tryboot')) === 1 };
}

/** Which slot the firmware booted and whether this is a tryboot, from the device tree; both backends use it. */
export async function readBootState(fs: OtaFs, dtRoot: string, slots: Readonly<Record<SlotName, SlotConfig>>): Promise<BootState> {
  const dt = await readBootloaderDt(fs, dtRoot);
  const slot = slotOfPartition(slots, dt.partition);
  if (!slot) {
    throw new SidewalkError('OTA_BOOT_UNKNOWN_SLOT', `firmware booted partition ${dt.partition}, which is neither slot's boot partition (${slots.A.bootPartition}, ${slots.B.bootPartition})`);
  }
  return { slot, partition: dt.partition, tryboot: dt.tryboot };
}

/** The first Pi 4 EEPROM release with `[tryboot]` in autoboot.txt and tryboot_a_b (rpi-eeprom firmware-2711/release-notes.md). */
export const MIN_TRYBOOT_BOOTLOADER = { date: '2022-11-25', unixSeconds: Date.UTC(2022, 10, 25) / 1000 };
/** /chosen/bootloader/capabilities bits (raspberrypi/documentation, "BCM2711 and BCM2712 bootloader properties"). */
const CAP_TRYBOOT_A_B = 1 << 2;
const CAP_TRYBOOT = 1 << 3;

export interface BootloaderInfo {
  /** build_timestamp: UTC build time of the EEPROM bootloader, Unix seconds; null when absent. */
  buildTimestamp: number | null;
  /** capabilities bit field; null when absent. */
  capabilities: number | null;
}

export async function readBootloaderInfo(fs: OtaFs, dtRoot: string): Promise<BootloaderInfo> {
  const dir = join(dtRoot, 'chosen', 'bootloader');
  const read = async (name: string): Promise<number | null> => {
    const path = join(dir, name);
    const bytes = await fs.readFile(path).catch(() => null);
    return bytes === null ? null : decodeDtU32(bytes, path);
  };
  return { buildTimestamp: await read('build_timestamp'), capabilities: await read('capabilities') };
}

/**
 * Refuses an OS update on a bootloader that cannot do A/B tryboot: an autoboot.txt `[tryboot]`
 * section and tryboot_a_b need a Pi 4 EEPROM from 2022-11-25 or later (every Pi 5 EEPROM has them).
 * The capabilities bits decide when the bootloader publishes them, else its build date.
 */
export function checkTrybootSupport(info: BootloaderInfo, dtRoot: string): void {
  const howTo = 'update the EEPROM once: `sudo rpi-eeprom-update -a` then reboot (or raspi-config > Advanced Options > Bootloader Version > Latest); see docs/hardware.md';
  const fail = (why: string): never => {
    throw new SidewalkError('OTA_BOOTLOADER_TOO_OLD', `OS update refused: ${why}; A/B updates need a bootloader from ${MIN_TRYBOOT_BOOTLOADER.date} or later: ${howTo}`, {
      details: { ...info, dtRoot },
    });
  };
  if (info.capabilities !== null) {
    const missing = [info.capabilities & CAP_TRYBOOT ? null : 'TRYBOOT', info.capabilities & CAP_TRYBOOT_A_B ? null : 'TRYBOOT_A_B'].filter(Boolean);
    if (missing.length > 0) fail(`the bootloader's capabilities (0x${info.capabilities.toString(16)}) lack ${missing.join(' and ')}`);
    return;
  }
  if (info.buildTimestamp === null) fail(`${join(dtRoot, 'chosen', 'bootloader')} has no build_timestamp (a bootloader too old to say, or not a Pi 4/5 EEPROM)`);
  if (info.buildTimestamp! < MIN_TRYBOOT_BOOTLOADER.unixSeconds) {
    fail(`the running bootloader was built ${new Date(info.buildTimestamp! * 1000).toISOString().slice(0, 10)}`);
  }
}
