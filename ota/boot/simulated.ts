/**
 * Simulated Raspberry Pi boot: partitions are files, and SimulatedFirmware models the firmware's
 * tryboot rules (raspberrypi/documentation config_txt/autoboot.adoc):
 *  - the one-shot tryboot flag is cleared by the firmware BEFORE it boots, and a power loss clears it;
 *  - `[tryboot]` boot_partition is used only when the flag was set, `[all]` otherwise;
 *  - a trial boot that fails (unbootable partition, kernel panic, watchdog reset) resets into a normal boot;
 *  - a default partition that cannot boot, or an unreadable autoboot.txt, leaves the device bricked.
 * The firmware writes /proc/device-tree/chosen/bootloader/{partition,tryboot} as big-endian integers
 * under `dtRoot`, which SimulatedBootControl reads with the same code as the real backend.
 * The selector is either a folder (autoboot.txt as a plain file) or, like on the card, a FAT image that
 * the firmware model reads through ota/boot/fat.ts and the updater rewrites in place.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import type { OtaFileHandle, OtaFs } from '../fs.js';
import { formatAutoboot, parseAutoboot, type Autoboot } from './autoboot.js';
import { DeviceAutobootFile } from './autoboot-device.js';
import { checkTrybootSupport, encodeDtU32, readBootloaderInfo, readBootState, type BootloaderInfo } from './device-tree.js';
import { locateFile, parseSync, readContent } from './fat.js';
import { checkSimImage, type SimImageInfo } from './sim-image.js';
import { AutobootFile, slotOfPartition, type AutobootStore, type BootControl, type BootState, type PartitionKind, type SlotConfig, type SlotName } from './types.js';

export interface SimulatedLayout {
  /** autoboot.txt in a folder (used when selectorImage is null). */
  selectorDir: string;
  /** A FAT image file as the selector partition (the firmware reads its FAT, the updater rewrites a sector). */
  selectorImage: string | null;
  dtRoot: string;
  slots: Record<SlotName, SlotConfig>;
}

/** MBR layout of image.md §1: p1 selector, p2/p3 boot A/B, p5/p6 root A/B. */
export function simulatedLayout(dir: string, options: { selectorImage?: string | null } = {}): SimulatedLayout {
  return {
    selectorDir: join(dir, 'p1-selector'),
    selectorImage: options.selectorImage ?? null,
    dtRoot: join(dir, 'device-tree'),
    slots: {
      A: { bootPartition: 2, bootDevice: join(dir, 'p2-boot-a.img'), rootDevice: join(dir, 'p5-root-a.img') },
      B: { bootPartition: 3, bootDevice: join(dir, 'p3-boot-b.img'), rootDevice: join(dir, 'p6-root-b.img') },
    },
  };
}

export type BootOutcome = { ok: true; slot: SlotName; partition: number; tryboot: boolean; os: SimImageInfo; log: string[] } | { ok: false; reason: string; log: string[] };

export class SimulatedFirmware {
  readonly layout: SimulatedLayout;
  #trybootFlag = false;
  #rebootRequested = false;

  /** With `persistFlagFile`, the flag outlives this process (CLI demos: `sidewalk ota sim-boot`). */
  #flagFile: string | null;
  /** What the simulated EEPROM publishes in /chosen/bootloader at the next boot; default a 2024 Pi 4 release. */
  bootloader: BootloaderInfo;

  constructor(layout: SimulatedLayout, options: { persistFlagFile?: string; bootloader?: BootloaderInfo } = {}) {
    this.layout = layout;
    this.bootloader = options.bootloader ?? { buildTimestamp: Date.UTC(2024, 3, 17) / 1000, capabilities: 0x7f };
    this.#flagFile = options.persistFlagFile ?? null;
    if (this.#flagFile) {
      try {
        this.#trybootFlag = readFileSync(this.#flagFile, 'utf8').trim() === '1';
      } catch {
        this.#trybootFlag = false;
      }
    }
  }

  #saveFlag(): void {
    if (this.#flagFile) writeFileSync(this.#flagFile, this.#trybootFlag ? '1' : '0');
  }

  /** Writes a fresh disk: partitions of the given sizes, slot A holding `imageA`, autoboot.txt defaulting to A. */
  static createDisk(layout: SimulatedLayout, options: { bootBytes: number; rootBytes: number; bootA: Buffer; rootA: Buffer }): void {
    const autoboot = formatAutoboot(layout.slots.A.bootPartition, layout.slots.B.bootPartition);
    if (layout.selectorImage) {
      mkdirSync(dirname(layout.selectorImage), { recursive: true });
      createFatImage(layout.selectorImage, { 'autoboot.txt': autoboot });
    } else {
      mkdirSync(layout.selectorDir, { recursive: true });
      writeFileSync(join(layout.selectorDir, 'autoboot.txt'), autoboot);
    }
    const fill = (bytes: number, image?: Buffer) => {
      const buf = Buffer.alloc(bytes);
      image?.copy(buf);
      return buf;
    };
    writeFileSync(layout.slots.A.bootDevice, fill(options.bootBytes, options.bootA));
    writeFileSync(layout.slots.A.rootDevice, fill(options.rootBytes, options.rootA));
    writeFileSync(layout.slots.B.bootDevice, fill(options.bootBytes));
    writeFileSync(layout.slots.B.rootDevice, fill(options.rootBytes));
  }

  get trybootFlag(): boolean {
    return this.#trybootFlag;
  }

  get rebootRequested(): boolean {
    return this.#rebootRequested;
  }

  /** What `reboot` asks of the hardware: the flag (when asked) survives a clean reboot, nothing else. */
  requestReboot(tryboot: boolean): void {
    if (tryboot) this.#trybootFlag = true;
    this.#rebootRequested = true;
    this.#saveFlag();
  }

  /** Power loss: the flag lives in a register that does not survive it. */
  powerCut(): void {
    this.#trybootFlag = false;
    this.#saveFlag();
  }

  slotImage(slot: SlotName, kind: PartitionKind): SimImageInfo | null {
    const cfg = this.layout.slots[slot];
    return checkSimImage(readFileSync(kind === 'boot' ? cfg.bootDevice : cfg.rootDevice));
  }

  /** autoboot.txt as the firmware reads it: by its 8.3 name through the FAT of the selector image, or from the folder. */
  readAutoboot(): Autoboot {
    const image = this.layout.selectorImage;
    if (!image) return parseAutoboot(readFileSync(join(this.layout.selectorDir, 'autoboot.txt'), 'utf8'));
    const bytes = readFileSync(image);
    const file = parseSync(locateFile('autoboot.txt', image), bytes);
    return parseAutoboot(parseSync(readContent(file, image), bytes).toString('utf8'), `${image}:autoboot.txt`);
  }

  /** Powers on (or completes a reboot): decides the partition as the firmware would, then "runs the kernel". */
  boot(): BootOutcome {
    const log: string[] = [];
    let tryboot = this.#trybootFlag;
    this.#trybootFlag = false;
    this.#rebootRequested = false;
    this.#saveFlag();
    for (let attempt = 0; attempt < 2; attempt++) {
      let autoboot: Autoboot;
      try {
        autoboot = this.readAutoboot();
      } catch (err) {
        return { ok: false, reason: `autoboot.txt unusable: ${(err as Error).message}`, log };
      }
      const partition = tryboot ? autoboot.trybootPartition : autoboot.defaultPartition;
      const slot = slotOfPartition(this.layout.slots, partition);
      const boot = slot ? this.slotImage(slot, 'boot') : null;
      const root = slot ? this.slotImage(slot, 'root') : null;
      const problem = !slot
        ? `partition ${partition} is not a slot`
        : !boot
          ? `boot partition ${partition} is not bootable`
          : !root
            ? `slot ${slot} root filesystem is damaged (kernel cannot mount it)`
            : root.panics
              ? `slot ${slot} kernel panics`
              : null;
      if (problem === null) {
        log.push(`booted partition ${partition} (slot ${slot})${tryboot ? ' in tryboot mode' : ''}`);
        const dir = join(this.layout.dtRoot, 'chosen', 'bootloader');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'partition'), encodeDtU32(partition));
        writeFileSync(join(dir, 'tryboot'), encodeDtU32(tryboot ? 1 : 0));
        for (const [name, value] of [
          ['build_timestamp', this.bootloader.buildTimestamp],
          ['capabilities', this.bootloader.capabilities],
        ] as const) {
          if (value === null) rmSync(join(dir, name), { force: true });
          else writeFileSync(join(dir, name), encodeDtU32(value));
        }
        return { ok: true, slot: slot!, partition, tryboot, os: root!, log };
      }
      log.push(problem);
      if (!tryboot) return { ok: false, reason: problem, log };
      // The trial failed; the watchdog/panic reset boots again with the flag already cleared.
      tryboot = false;
    }
    return { ok: false, reason: 'no bootable partition', log };
  }
}

export class SimulatedBootControl implements BootControl {
  readonly slots: Readonly<Record<SlotName, SlotConfig>>;
  #fs: OtaFs;
  #layout: SimulatedLayout;
  #firmware: SimulatedFirmware;
  #autoboot: AutobootStore;

  constructor(options: { fs: OtaFs; firmware: SimulatedFirmware }) {
    this.#fs = options.fs;
    this.#firmware = options.firmware;
    this.#layout = options.firmware.layout;
    this.slots = this.#layout.slots;
    const image = this.#layout.selectorImage;
    this.#autoboot = image ? new DeviceAutobootFile(this.#fs, image, this.slots) : new AutobootFile(this.#fs, this.#layout.selectorDir, this.slots);
  }

  booted(): Promise<BootState> {
    return readBootState(this.#fs, this.#layout.dtRoot, this.slots);
  }

  readAutoboot() {
    return this.#autoboot.read();
  }

  commit(slot: SlotName): Promise<void> {
    return this.#autoboot.commit(slot);
  }

  async reboot(options: { tryboot: boolean }): Promise<void> {
    this.#firmware.requestReboot(options.tryboot);
  }

  async checkOsUpdateSupported(): Promise<void> {
    checkTrybootSupport(await readBootloaderInfo(this.#fs, this.#layout.dtRoot), this.#layout.dtRoot);
  }

  openPartition(slot: SlotName, kind: PartitionKind, mode: 'r' | 'r+'): Promise<OtaFileHandle> {
    const cfg = this.slots[slot];
    return this.#fs.open(kind === 'boot' ? cfg.bootDevice : cfg.rootDevice, mode);
  }

  async partitionSize(slot: SlotName, kind: PartitionKind): Promise<number> {
    const cfg = this.slots[slot];
    const path = kind === 'boot' ? cfg.bootDevice : cfg.rootDevice;
    const st = await this.#fs.stat(path);
    if (!st) throw new SidewalkError('OTA_SLOT_MISSING', `${path}: slot ${slot} ${kind} partition does not exist`);
    return st.size;
  }
}

/**
 * Makes a FAT image file with the real dosfstools and mtools (as the image build does): `mkfs.fat -C`,
 * then `mcopy` of each file into the root directory. Default: FAT12, 64 KiB.
 */
export function createFatImage(path: string, files: Record<string, string | Buffer>, options: { fatBits?: 12 | 16 | 32; sizeKiB?: number } = {}): void {
  const fatBits = options.fatBits ?? 12;
  const sizeKiB = options.sizeKiB ?? { 12: 64, 16: 16 * 1024, 32: 34 * 1024 }[fatBits];
  rmSync(path, { force: true });
  try {
    execFileSync('mkfs.fat', ['-C', '-F', String(fatBits), '-n', 'SELECTOR', path, String(sizeKiB)], { stdio: 'pipe' });
    for (const [name, content] of Object.entries(files)) {
      execFileSync('mcopy', ['-i', path, '-', `::${name}`], { input: content, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    }
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new SidewalkError('OTA_SIM_SELECTOR', `${path}: cannot make a FAT${fatBits} image (mkfs.fat/mcopy from dosfstools/mtools): ${e.stderr?.toString().trim() || e.message}`);
  }
}
