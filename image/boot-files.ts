/** What the firmware reads: the selector's autoboot.txt, and each boot slot's config.txt and cmdline.txt. */
import { formatAutoboot } from '../ota/boot/autoboot.js';
import { partition, type Layout } from './layout.js';

/** p1 holds only this: boot slot A by default, slot B on a tryboot (ota/boot/autoboot.ts writes the same text on commit). */
export function selectorAutoboot(layout: Layout): string {
  return formatAutoboot(partition(layout, 'bootA').number, partition(layout, 'bootB').number);
}

/**
 * Each slot boots its own root, read-only (state is on the data partition). No serial console: the
 * UARTs belong to the motor controller and the GPS (docs/hardware.md), and kernel messages on them
 * would reach the controller.
 */
export function cmdline(layout: Layout, slot: 'A' | 'B'): string {
  const root = partition(layout, slot === 'A' ? 'rootA' : 'rootB').partuuid;
  return `console=tty1 root=PARTUUID=${root} rootfstype=ext4 rootwait ro fsck.repair=yes panic=10\n`;
}

/** The base's kernel lines first, then ours (image/boot/config.txt), under [all] so a base's conditional section cannot swallow them. */
export function configTxt(basePrefix: string, ours: string): string {
  const head = basePrefix ? `${basePrefix.trimEnd()}\n\n[all]\n` : '';
  return `${head}${ours.trimEnd()}\n`;
}
