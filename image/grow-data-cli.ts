/** `sidewalk grow-data`: runs on the scooter (sidewalk-grow-data.service) at first boot; image/grow-data.ts says how. */
import type { Command } from 'commander';
import { runProcess } from '../lib/run-process.js';
import { growData } from './grow-data.js';

export function registerGrowDataCommand(program: Command): void {
  program
    .command('grow-data')
    .description('first boot on the scooter (sidewalk-grow-data.service): grow the data partition to the end of the SD card (MBR cards)')
    .option('--fstab <file>', 'fstab whose /data line names the data partition', '/etc/fstab')
    .option('--marker <file>', 'written when nothing is left to grow (the unit then no longer runs)', '/data/device/data-grown')
    .action(async (o: { fstab: string; marker: string }) => {
      await growData({
        fstab: o.fstab,
        marker: o.marker,
        say: (line) => process.stderr.write(`${line}\n`),
        reboot: async () => {
          await runProcess('systemctl', ['reboot', '--no-block'], { check: true });
        },
        resizeFilesystem: async (device) => {
          // Online growth of the mounted ext4; "Nothing to do!" (exit 0) when it already fills the partition.
          await runProcess('resize2fs', [device], { check: true, errorCode: 'GROW_RESIZE_FAILED', installPackage: 'e2fsprogs' });
        },
      });
    });
}
