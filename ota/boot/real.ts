/**
 * The real Raspberry Pi backend (reference ota.md §4): slots are block devices (by-partuuid or
 * by-label links), the booted slot and the trial flag come from /proc/device-tree/chosen/bootloader,
 * the tryboot flag is set through the firmware mailbox (`vcmailbox 0x00038064 4 0 1`, works on mainline
 * and busybox too; its reply is checked, see checkMailboxReply) or by `systemctl reboot "0 tryboot"`
 * (downstream kernel; systemctl writes /run/systemd/reboot-param, which sidewalk-ota.service allows).
 * An OS update first checks that the bootloader can do A/B tryboot (checkOsUpdateSupported).
 * A commit rewrites autoboot.txt:
 *  - with `selectorDevice` (boot.selector_device, e.g. /dev/disk/by-partuuid/ab12cd34-01): in place on the
 *    raw selector partition, one 512-byte sector, FATs and directory untouched (ota/boot/fat.ts). The
 *    partition must then NOT be mounted read-write: the vfat driver would cache and rewrite the same
 *    sectors behind our back. Mount it read-only or not at all. Only when an in-place rewrite is
 *    impossible (autoboot.txt longer than the canonical text) does it fall back to the rename below,
 *    which then needs `selectorDir` mounted rw and is logged as not atomic.
 *  - without: tmp file + fsync + rename + fsync of the mounted `selectorDir`. On vfat that is NOT atomic
 *    (reference ota.md §4.4): a power cut in the rename can leave no autoboot.txt, and the device unbootable.
 * Only its pure parts run in tests; the rest needs the hardware.
 */
import { realpath, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { runProcess } from '../../lib/run-process.js';
import { OTA_DEFAULTS } from '../config.js';
import { nodeFs, type OtaFileHandle } from '../fs.js';
import { DeviceAutobootFile } from './autoboot-device.js';
import { checkTrybootSupport, readBootloaderInfo, readBootState } from './device-tree.js';
import { AutobootFile, type AutobootStore, type BootControl, type BootState, type PartitionKind, type SlotConfig, type SlotName } from './types.js';

const log = createLogger('ota:boot');

export type TrybootMethod = 'vcmailbox' | 'reboot-arg';

export interface RealBootOptions {
  selectorDir: string;
  /** Raw block device of the FAT selector partition; when set, autoboot.txt is read and committed through it. */
  selectorDevice?: string | null;
  slots: Record<SlotName, SlotConfig>;
  dtRoot?: string;
  trybootMethod?: TrybootMethod;
  /** Runs a command; injectable for tests. */
  run?: (command: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
}

/** The commands a reboot runs, in order. */
export function rebootCommands(method: TrybootMethod, tryboot: boolean): [string, string[]][] {
  if (!tryboot) return [['systemctl', ['reboot']]];
  if (method === 'vcmailbox') {
    // SET_REBOOT_FLAGS (0x00038064), 4-byte buffer, request length 0, value 1 = tryboot.
    return [
      ['vcmailbox', ['0x00038064', '4', '0', '1']],
      ['systemctl', ['reboot']],
    ];
  }
  return [['systemctl', ['reboot', '0 tryboot']]];
}

/**
 * vcmailbox prints the whole buffer as hex words and exits 0 even when the firmware ignored the tag
 * (raspberrypi/utils vcmailbox.c returns the ioctl's result). Word 1 is the buffer's response code
 * (0x80000000 = success, 0x80000001 = parse error); word 4 is the tag's, whose bit 31 the firmware
 * sets only when it handled the tag.
 */
export function checkMailboxReply(stdout: string, command: string): void {
  const words = stdout
    .trim()
    .split(/\s+/)
    .map((w) => Number.parseInt(w, 16));
  const hex = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '?' : `0x${n.toString(16).padStart(8, '0')}`);
  if (words.length < 5 || words.some((w) => Number.isNaN(w))) {
    throw new SidewalkError('OTA_REBOOT_FAILED', `${command}: unexpected reply "${stdout.trim()}" (expected hex words)`);
  }
  if (words[1] !== 0x80000000) throw new SidewalkError('OTA_REBOOT_FAILED', `${command}: firmware response code ${hex(words[1])}, not 0x80000000 (tryboot flag not set)`);
  if (((words[4]! >>> 31) & 1) !== 1) {
    throw new SidewalkError(
      'OTA_REBOOT_FAILED',
      `${command}: the firmware did not handle tag ${hex(words[2])} (tag response ${hex(words[4])}): tryboot flag not set; update the firmware (docs/hardware.md)`,
    );
  }
}

/** /sys/class/block/<dev>/size counts 512-byte sectors whatever the device's block size. */
export function sysfsSizeBytes(sizeFileText: string, source: string): number {
  const sectors = Number(sizeFileText.trim());
  if (!Number.isSafeInteger(sectors) || sectors <= 0) throw new SidewalkError('OTA_SLOT_MISSING', `${source}: not a sector count: ${JSON.stringify(sizeFileText)}`);
  return sectors * 512;
}

/** Runs a reboot command; a command that cannot start is OTA_REBOOT_FAILED, a signal counts as exit 1. */
async function defaultRun(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runProcess(command, args, { errorCode: 'OTA_REBOOT_FAILED' });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export class RealBootControl implements BootControl {
  readonly slots: Readonly<Record<SlotName, SlotConfig>>;
  #dtRoot: string;
  #method: TrybootMethod;
  #run: NonNullable<RealBootOptions['run']>;
  #autoboot: AutobootStore;
  /** Set when commits rename autoboot.txt on the mounted selector (no selectorDevice). */
  #renamedPath: string | null;

  constructor(options: RealBootOptions) {
    this.slots = options.slots;
    this.#dtRoot = options.dtRoot ?? '/proc/device-tree';
    this.#method = options.trybootMethod ?? OTA_DEFAULTS.boot.tryboot_method;
    this.#run = options.run ?? defaultRun;
    const mounted = new AutobootFile(nodeFs, options.selectorDir, options.slots);
    this.#renamedPath = options.selectorDevice ? null : mounted.path;
    this.#autoboot = options.selectorDevice ? new DeviceAutobootFile(nodeFs, options.selectorDevice, options.slots, mounted) : mounted;
  }

  booted(): Promise<BootState> {
    return readBootState(nodeFs, this.#dtRoot, this.slots);
  }

  readAutoboot() {
    return this.#autoboot.read();
  }

  commit(slot: SlotName): Promise<void> {
    if (this.#renamedPath) log.warn(`committing slot ${slot} by replacing ${this.#renamedPath} with a rename: not atomic on FAT; set boot.selector_device`);
    return this.#autoboot.commit(slot);
  }

  async reboot(options: { tryboot: boolean }): Promise<void> {
    for (const [command, args] of rebootCommands(this.#method, options.tryboot)) {
      log.info(`running ${command} ${args.join(' ')}`);
      const r = await this.#run(command, args);
      if (r.code !== 0) {
        throw new SidewalkError('OTA_REBOOT_FAILED', `${command} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
      }
      if (command === 'vcmailbox') checkMailboxReply(r.stdout, `${command} ${args.join(' ')}`);
    }
  }

  async checkOsUpdateSupported(): Promise<void> {
    checkTrybootSupport(await readBootloaderInfo(nodeFs, this.#dtRoot), this.#dtRoot);
  }

  openPartition(slot: SlotName, kind: PartitionKind, mode: 'r' | 'r+'): Promise<OtaFileHandle> {
    return nodeFs.open(this.#device(slot, kind), mode);
  }

  async partitionSize(slot: SlotName, kind: PartitionKind): Promise<number> {
    const dev = await realpath(this.#device(slot, kind));
    const sizeFile = `/sys/class/block/${basename(dev)}/size`;
    return sysfsSizeBytes(await readFile(sizeFile, 'utf8'), sizeFile);
  }

  #device(slot: SlotName, kind: PartitionKind): string {
    return kind === 'boot' ? this.slots[slot].bootDevice : this.slots[slot].rootDevice;
  }
}
