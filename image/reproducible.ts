/**
 * Same inputs, same card bytes. What varies between two builds otherwise, and how it is pinned:
 *  - file times of the staged trees: clamped to SOURCE_DATE_EPOCH before the filesystems are made
 *    (FAT and ext4 copy them);
 *  - ext4 UUID and directory hash seed: fixed per partition (layout.ts, mke2fs -U / -E hash_seed=),
 *    superblock times: E2FSPROGS_FAKE_TIME and genimage's fs-timestamp;
 *  - ext4 inode change times: mke2fs 1.47.0 (bookworm) copies each source file's ctime, which no tool
 *    can set, so they are rewritten to the epoch afterwards with debugfs (e2fsprogs >= 1.47.1 would
 *    honour SOURCE_DATE_EPOCH itself; image/README.md, "Reproducible bytes");
 *  - FAT volume ids and times: mkfs.fat --invariant -i (layout.ts).
 */
import { writeFile } from 'node:fs/promises';
import { runTool } from './tools.js';

/** Every file, folder and link in `dir` newer than the epoch gets the epoch as its mtime and atime. */
export async function clampTimes(dir: string, epoch: number): Promise<void> {
  await runTool('find', [dir, '-newermt', `@${epoch}`, '-exec', 'touch', '-h', '-d', `@${epoch}`, '{}', '+']);
}

/** Inode numbers in use, from dumpe2fs's per-group "Free inodes:" ranges. */
export function usedInodes(dumpe2fs: string): number[] {
  const perGroup = Number(/^Inodes per group:\s+(\d+)/m.exec(dumpe2fs)?.[1]);
  const count = Number(/^Inode count:\s+(\d+)/m.exec(dumpe2fs)?.[1]);
  if (!(perGroup > 0) || !(count > 0)) throw new Error('dumpe2fs: no inode counts');
  const free = new Set<number>();
  for (const m of dumpe2fs.matchAll(/^\s+Free inodes: (.*)$/gm)) {
    for (const range of m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [a, b] = range.split('-').map(Number) as [number, number | undefined];
      for (let i = a; i <= (b ?? a); i++) free.add(i);
    }
  }
  const used: number[] = [];
  for (let i = 1; i <= count; i++) if (!free.has(i)) used.push(i);
  return used;
}

/** Sets the change time of every inode in use of the ext4 at `device` (e.g. `img?offset=N`) to the epoch. */
export async function pinExt4ChangeTimes(device: string, epoch: number, scratch: string): Promise<void> {
  const { stdout } = await runTool('dumpe2fs', [device]);
  const cmds = usedInodes(stdout).map((ino) => `set_inode_field <${ino}> ctime @${epoch}`);
  // set_current_time: debugfs stamps the superblock's last write time with it, not the clock.
  await writeFile(scratch, `set_current_time @${epoch}\n${cmds.join('\n')}\n`);
  await runTool('debugfs', ['-w', '-f', scratch, device]);
}
