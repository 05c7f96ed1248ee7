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
    throw new SidewalkError('OTA_BOOT_UNKNOWN_SLOT',
      `firmware booted partition ${dt.partition}, which is neither slot's boot partition (${slots.A.bootPartition}, ${slots.B.bootPartition})`);
  }
  return { slot, partition: dt.partition, tryboot: dt.tryboot };
}
