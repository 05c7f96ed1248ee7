/**
 * autoboot.txt on the FAT selector partition (Raspberry Pi firmware, config_txt/autoboot.adoc):
 * at most 512 bytes, sections [all], [none] and [tryboot], `boot_partition=N` picks the boot partition.
 * Canonical form, which is all we ever write:
 *   [all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n
 */
import { SidewalkError } from '../../lib/errors.js';

export const AUTOBOOT_MAX_BYTES = 512;

export interface Autoboot {
  /** `[all]` boot_partition: what a normal boot (and any reset or power loss) boots. */
  defaultPartition: number;
  /** `[tryboot]` boot_partition (falls back to the default when the section does not set one). */
  trybootPartition: number;
  trybootAB: boolean;
}

/** Parses autoboot.txt; throws OTA_AUTOBOOT_INVALID naming the line at fault. */
export function parseAutoboot(text: string, source = 'autoboot.txt'): Autoboot {
  if (Buffer.byteLength(text) > AUTOBOOT_MAX_BYTES) {
    throw new SidewalkError('OTA_AUTOBOOT_INVALID', `${source}: ${Buffer.byteLength(text)} bytes, the firmware reads at most ${AUTOBOOT_MAX_BYTES}`);
  }
  const sections: Record<string, Record<string, string>> = { all: {}, none: {}, tryboot: {} };
  let section = 'all';
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      if (!(header[1]! in sections)) {
        throw new SidewalkError('OTA_AUTOBOOT_INVALID', `${source} line ${i + 1}: unsupported filter [${header[1]}] (only [all], [none], [tryboot])`);
      }
      section = header[1]!;
      return;
    }
    const kv = /^(\w+)\s*=\s*(\S+)$/.exec(line);
    if (!kv) throw new SidewalkError('OTA_AUTOBOOT_INVALID', `${source} line ${i + 1}: expected key=value, got ${JSON.stringify(raw)}`);
    sections[section]![kv[1]!] = kv[2]!;
  });
  const partition = (value: string | undefined, where: string): number | undefined => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw new SidewalkError('OTA_AUTOBOOT_INVALID', `${source}: ${where} boot_partition=${value} is not a number`);
    return Number(value);
  };
  const defaultPartition = partition(sections.all!.boot_partition, '[all]');
  if (defaultPartition === undefined) throw new SidewalkError('OTA_AUTOBOOT_INVALID', `${source}: [all] has no boot_partition`);
  return {
    defaultPartition,
    trybootPartition: partition(sections.tryboot!.boot_partition, '[tryboot]') ?? defaultPartition,
    trybootAB: sections.all!.tryboot_a_b === '1',
  };
}

export function formatAutoboot(defaultPartition: number, trybootPartition: number): string {
  return `[all]\ntryboot_a_b=1\nboot_partition=${defaultPartition}\n[tryboot]\nboot_partition=${trybootPartition}\n`;
}
