/**
 * The real dosfstools/mtools as independent judges of the FAT images our code reads and rewrites.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

export const AUTOBOOT_A = '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n';
export const AUTOBOOT_B = '[all]\ntryboot_a_b=1\nboot_partition=3\n[tryboot]\nboot_partition=2\n';

/** `mtype` of a file in the image's root directory. */
export function mtype(image: string, name: string): string {
  return execFileSync('mtype', ['-i', image, `::${name}`], { env, encoding: 'utf8' });
}

export function mtools(command: 'mdel' | 'mcopy' | 'mmove', args: string[], input?: string): void {
  execFileSync(command, ['-i', ...args], { env, input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** `fsck.fat -n` (check only): exit 0 means no problem found. */
export function fsckFat(image: string): { clean: boolean; output: string } {
  const r = spawnSync('fsck.fat', ['-n', image], { encoding: 'utf8' });
  return { clean: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Indexes of the 512-byte sectors that differ between two images of the same size. */
export function changedSectors(before: Buffer, after: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off < before.length; off += 512) {
    if (!before.subarray(off, off + 512).equals(after.subarray(off, off + 512))) out.push(off / 512);
  }
  return out;
}
