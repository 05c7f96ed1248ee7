/**
 * The updater's simulated firmware backend pointed at a built card's partitions: partition "devices"
 * are byte windows of the one image file (CardFs), and the firmware model reads autoboot.txt with mtools
 * at p1's offset and judges a slot as a Pi would fail it: its boot partition's cmdline.txt must name that
 * slot's root PARTUUID and the root must be a clean ext4 (e2fsck -fn). What it "boots" is the version in
 * the root's /etc/sidewalk-os-version.
 */
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAutoboot, type Autoboot } from '../../ota/boot/autoboot.js';
import type { SimImageInfo } from '../../ota/boot/sim-image.js';
import { SimulatedFirmware } from '../../ota/boot/simulated.js';
import type { PartitionKind, SlotName } from '../../ota/boot/types.js';
import { nodeFs, type OtaFileHandle, type OtaFs } from '../../ota/fs.js';
import type { Card } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';

const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, MTOOLS_SKIP_CHECK: '1' };
/** Device paths of the card's partitions, as /dev/disk/by-partuuid names are on the scooter. */
const DEV = '/sidewalk-card';
export const cardDevice = (n: number) => `${DEV}/p${n}`;

/** nodeFs, except that the card's partitions open as windows of the image file. */
export function cardFs(card: Card): OtaFs {
  const partitionOf = (path: string) => {
    const m = new RegExp(`^${DEV}/p(\\d+)$`).exec(path);
    return m ? card.part(Number(m[1])) : null;
  };
  return {
    ...nodeFs,
    async open(path, flags) {
      const p = partitionOf(path);
      if (!p) return nodeFs.open(path, flags);
      const handle = await open(card.path, flags === 'r' ? 'r' : 'r+');
      const base = p.start * 512;
      const size = p.size * 512;
      const within = (position: number, length: number) => {
        if (position < 0 || position + length > size) throw new Error(`${path}: ${length} bytes at ${position} outside the ${size}-byte partition`);
      };
      const h: OtaFileHandle = {
        async write(data, position = 0) {
          within(position, data.length);
          let done = 0;
          while (done < data.length) done += (await handle.write(data, done, data.length - done, base + position + done)).bytesWritten;
        },
        async read(buffer, position) {
          const length = Math.max(0, Math.min(buffer.length, size - position));
          return (await handle.read(buffer, 0, length, base + position)).bytesRead;
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
      return h;
    },
    async stat(path) {
      const p = partitionOf(path);
      if (p) return { size: p.size * 512, isFile: true, isDirectory: false, isSymbolicLink: false };
      if (path === DEV) return { size: 0, isFile: false, isDirectory: true, isSymbolicLink: false };
      return nodeFs.stat(path);
    },
    async syncDir(path) {
      if (path !== DEV) await nodeFs.syncDir(path);
    },
  };
}

export class CardFirmware extends SimulatedFirmware {
  constructor(
    readonly card: Card,
    partuuid: (n: number) => string,
  ) {
    super({
      selectorDir: '/nonexistent',
      selectorImage: cardDevice(1),
      dtRoot: join(makeTempDirSync('sidewalk-card-dt-'), 'device-tree'),
      slots: {
        A: { bootPartition: 2, bootDevice: cardDevice(2), rootDevice: cardDevice(5) },
        B: { bootPartition: 3, bootDevice: cardDevice(3), rootDevice: cardDevice(6) },
      },
    });
    this.#partuuid = partuuid;
  }

  #partuuid: (n: number) => string;

  override readAutoboot(): Autoboot {
    return parseAutoboot(this.card.fatRead(1, 'autoboot.txt'), `${this.card.path}@p1:autoboot.txt`);
  }

  override slotImage(slot: SlotName, kind: PartitionKind): SimImageInfo | null {
    const root = slot === 'A' ? 5 : 6;
    if (kind === 'boot') {
      let cmdline: string;
      try {
        cmdline = this.card.fatRead(slot === 'A' ? 2 : 3, 'cmdline.txt');
      } catch {
        return null;
      }
      return cmdline.includes(`root=PARTUUID=${this.#partuuid(root)} `) ? { version: 'boot', panics: false, bytes: 0 } : null;
    }
    try {
      execFileSync('e2fsck', ['-fn', `${this.card.path}?offset=${this.card.offset(root)}`], { env: ENV, stdio: 'ignore' });
    } catch {
      return null;
    }
    const version = this.card.debugfs(root, 'cat /etc/sidewalk-os-version').trim();
    return version ? { version, panics: false, bytes: this.card.part(root).size * 512 } : null;
  }
}
