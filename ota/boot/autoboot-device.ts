/**
 * autoboot.txt read and committed on the selector partition's raw device (or, simulated, a FAT image
 * file) through ota/boot/fat.ts, never through the vfat driver: a commit rewrites one 512-byte sector.
 */
import { isSidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { OtaFs } from '../fs.js';
import { formatAutoboot, parseAutoboot, type Autoboot } from './autoboot.js';
import { readFatFile, rewriteInPlace } from './fat.js';
import { otherSlot, type AutobootStore, type SlotConfig, type SlotName } from './types.js';

const log = createLogger('ota:boot');
const NAME = 'autoboot.txt';

export class DeviceAutobootFile implements AutobootStore {
  readonly device: string;
  #fs: OtaFs;
  #slots: Readonly<Record<SlotName, SlotConfig>>;
  #fallback: AutobootStore | null;

  /** `fallback` (the mounted-directory rename) is used only when an in-place rewrite is impossible. */
  constructor(fs: OtaFs, device: string, slots: Readonly<Record<SlotName, SlotConfig>>, fallback: AutobootStore | null = null) {
    this.#fs = fs;
    this.device = device;
    this.#slots = slots;
    this.#fallback = fallback;
  }

  async read(): Promise<Autoboot> {
    const { content } = await readFatFile(this.#fs, this.device, NAME);
    return parseAutoboot(content.toString('utf8'), `${this.device}:${NAME}`);
  }

  /**
   * Swaps the boot_partition digits in place. A file longer than the canonical text (e.g. edited by hand)
   * is matched by trailing newlines, which the firmware's config parser skips as blank lines.
   */
  async commit(slot: SlotName): Promise<void> {
    const canonical = formatAutoboot(this.#slots[slot].bootPartition, this.#slots[otherSlot(slot)].bootPartition);
    const found = await readFatFile(this.#fs, this.device, NAME);
    if (found.content.toString('utf8') === canonical) return;
    const text = canonical.length < found.file.size ? canonical.padEnd(found.file.size, '\n') : canonical;
    try {
      await rewriteInPlace(this.#fs, this.device, NAME, Buffer.from(text), found);
    } catch (err) {
      if (!isSidewalkError(err, 'OTA_SELECTOR_NOT_IN_PLACE') || !this.#fallback) throw err;
      log.warn(`${err.message}: replacing ${NAME} through the mounted file system instead, which is NOT atomic on FAT`);
      await this.#fallback.commit(slot);
    }
  }
}
