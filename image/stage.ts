/**
 * The part of an image build that runs under fakeroot (one session, so every owner and mode set while
 * assembling the trees is what mke2fs writes into the ext4 images): base root, overlay, boot trees,
 * genimage. Started by build.ts as `fakeroot -- node dist/image/stage-main.js <plan.json>`.
 */
import { lstat, mkdir, readdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareBase, type BaseSource } from './base.js';
import { cmdline, configTxt, selectorAutoboot } from './boot-files.js';
import { genimageConfig, type Layout } from './layout.js';
import { applyOverlay, type OverlayInput } from './overlay.js';
import { clampTimes, pinExt4ChangeTimes } from './reproducible.js';
import { runTool, toolEnv } from './tools.js';

export interface StagePlan {
  workDir: string;
  layout: Layout;
  base: BaseSource;
  overlay: OverlayInput;
  /** Time stamp of generated files, seconds (SOURCE_DATE_EPOCH). */
  epoch: number;
}

export const STAGE_STEPS = 6;

export async function runStage(plan: StagePlan, progress: (step: number, what: string) => void): Promise<string> {
  const w = (p: string) => join(plan.workDir, p);
  progress(1, `base root from ${plan.base.kind} ${plan.base.path}`);
  const base = await prepareBase(plan.base, w('root'), w('firmware'), plan.epoch);
  // Before the overlay edits /etc/gshadow & co.: as a normal user, a mode-0000 file from the base is unreadable.
  progress(2, 'modes an unprivileged build could not read');
  await recordUnreadable(w('root'));

  progress(3, 'overlay: app bundle, units, /etc/sidewalk, fstab, data partition');
  await applyOverlay(w('root'), w('data'), plan.layout, plan.overlay);

  progress(4, `boot slots: ${base.bootFiles.length} firmware/kernel files each, config.txt, cmdline.txt; selector autoboot.txt`);
  await mkdir(w('selector'), { recursive: true });
  await writeFile(w('selector/autoboot.txt'), selectorAutoboot(plan.layout));
  const config = configTxt(base.configPrefix, await readFile(join(plan.overlay.repoRoot, 'image/boot/config.txt'), 'utf8'));
  for (const slot of ['A', 'B'] as const) {
    const dir = w(`boot${slot}`);
    await runTool('cp', ['-r', `${w('firmware')}/.`, dir]);
    await writeFile(join(dir, 'config.txt'), config);
    await writeFile(join(dir, 'cmdline.txt'), cmdline(plan.layout, slot));
  }

  progress(5, 'genimage: FAT32 and ext4 filesystems, partition table');
  const trees = { selector: w('selector'), bootA: w('bootA'), bootB: w('bootB'), rootA: w('root'), rootB: null, data: w('data') };
  for (const tree of Object.values(trees)) if (tree) await clampTimes(tree, plan.epoch);
  const cfg = genimageConfig(plan.layout, trees, plan.epoch);
  await writeFile(w('genimage.cfg'), cfg);
  for (const d of ['genimage-root', 'genimage-input', 'genimage-tmp']) await mkdir(w(d), { recursive: true });
  await runTool('genimage', ['--config', w('genimage.cfg'), '--rootpath', w('genimage-root'), '--inputpath', w('genimage-input'), '--outputpath', w('out'), '--tmppath', w('genimage-tmp')], {
    env: toolEnv({ E2FSPROGS_FAKE_TIME: String(plan.epoch), SOURCE_DATE_EPOCH: String(plan.epoch) }),
    heartbeat: (s) => progress(5, `genimage still writing filesystems (${s} s)`),
  });
  const image = w('out/sdcard.img');
  progress(6, 'ext4 inode change times set to SOURCE_DATE_EPOCH (reproducible bytes)');
  const { stdout } = await runTool('sfdisk', ['--json', image]);
  const starts = new Map(
    (JSON.parse(stdout) as { partitiontable: { partitions: { node: string; start: number }[] } }).partitiontable.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)![1]), p.start]),
  );
  for (const p of plan.layout.partitions.filter((x) => x.fs === 'ext4')) {
    await pinExt4ChangeTimes(`${image}?offset=${starts.get(p.number)! * 512}`, plan.epoch, w('ctime.debugfs'));
  }
  return image;
}

/**
 * A file without u+r (e.g. /etc/gshadow, mode 0000) cannot be read by an unprivileged mke2fs. chmod to
 * the same mode under fakeroot records that mode for the image while leaving u+r on disk
 * (reference: fakeroot keeps the owner's read/write bits on the real file).
 */
async function recordUnreadable(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    if (st.isSymbolicLink()) continue;
    const needed = st.isDirectory() ? 0o700 : 0o400;
    if ((st.mode & needed) !== needed) await chmod(path, st.mode & 0o7777);
    if (st.isDirectory()) await recordUnreadable(path);
  }
}
