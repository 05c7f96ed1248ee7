/**
 * `sidewalk image build`: a flashable SD card image, unprivileged (no loop devices, no mounts, no
 * root): the trees are assembled and the filesystems written under one fakeroot session (stage.ts),
 * then the finished card is renamed onto the output name, so that name never holds a half-written image.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SidewalkError, relayedCode } from '../lib/errors.js';
import { runProcess } from '../lib/run-process.js';
import type { BaseSource } from './base.js';
import { ensureDebianBase } from './debian-base.js';
import { makeLayout, type Layout, type PartitionSizes, type TableType } from './layout.js';
import { validateOverlayInput, type OverlayInput } from './overlay.js';
import type { StagePlan } from './stage.js';
import { requireTools, toolEnv } from './tools.js';

export type BaseInput = BaseSource | { kind: 'debian'; cacheDir?: string; mirror?: string };

export interface BuildOptions {
  output: string;
  base: BaseInput;
  appDir: string;
  verifyKey: string;
  repoRoot: string;
  table?: TableType;
  sizes?: PartitionSizes;
  log?: (line: string) => void;
}

export interface BuildResult {
  output: string;
  layout: Layout;
  bytes: number;
  allocatedBytes: number;
  seconds: number;
}

const STAGE_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'stage-main.js');

export async function buildImage(o: BuildOptions): Promise<BuildResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const layout = makeLayout(o.table ?? 'mbr', o.sizes);
  const epoch = sourceDateEpoch();
  const output = resolve(o.output);
  if (!existsSync(dirname(output))) throw new SidewalkError('IMAGE_INVALID_OPTION', `${dirname(output)}: the output folder does not exist`);
  if (existsSync(output) && (await stat(output)).isDirectory()) throw new SidewalkError('IMAGE_INVALID_OPTION', `${output} is a folder; give the image file name`);
  const overlay: OverlayInput = { appDir: resolve(o.appDir), verifyKey: resolve(o.verifyKey), repoRoot: o.repoRoot };
  await validateOverlayInput(overlay);
  requireTools(['genimage', 'fakeroot', 'mkfs.fat', 'mcopy', 'mke2fs', 'e2fsck', 'debugfs', 'dumpe2fs', 'sfdisk', ...(o.base.kind === 'pios' ? [] : ['tar'])]);

  let base: BaseSource;
  if (o.base.kind === 'debian') {
    base = { kind: 'tar', path: await ensureDebianBase({ ...(o.base.cacheDir ? { cacheDir: o.base.cacheDir } : {}), ...(o.base.mirror ? { mirror: o.base.mirror } : {}), log }) };
  } else {
    if (!existsSync(o.base.path)) throw new SidewalkError('IMAGE_BASE_INVALID', `${o.base.path}: no such ${o.base.kind === 'dir' ? 'folder' : 'file'}`);
    base = { ...o.base, path: resolve(o.base.path) };
  }

  // Beside the output: the final rename stays on one filesystem.
  const workDir = await mkdtemp(join(dirname(output), `.${basename(output)}.work-`));
  try {
    const plan: StagePlan = { workDir, layout, base, overlay, epoch };
    await writeFile(join(workDir, 'plan.json'), JSON.stringify(plan));
    const image = await runFakerootStage(join(workDir, 'plan.json'), log);
    await rename(image, output);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const st = await stat(output);
  const result = { output, layout, bytes: st.size, allocatedBytes: st.blocks * 512, seconds: (Date.now() - started) / 1000 };
  log(`image: wrote ${output}: ${(st.size / 2 ** 20).toFixed(0)} MiB (${(result.allocatedBytes / 2 ** 20).toFixed(1)} MiB allocated, sparse) in ${result.seconds.toFixed(1)} s`);
  return result;
}

/** SOURCE_DATE_EPOCH when set (reproducible builds), else 2024-01-01, a time FAT can also hold. */
export function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env === undefined || env === '') return DEFAULT_EPOCH;
  if (!/^\d+$/.test(env)) throw new SidewalkError('IMAGE_INVALID_OPTION', `SOURCE_DATE_EPOCH=${env}: not a whole number of seconds`);
  return Number(env);
}
const DEFAULT_EPOCH = Date.UTC(2024, 0, 1) / 1000;

async function runFakerootStage(planPath: string, log: (line: string) => void): Promise<string> {
  // The stage reports a coded failure as one "STAGE-ERROR CODE: message" line on stderr.
  let failure = null as string | null;
  const r = await runProcess('fakeroot', ['--', process.execPath, STAGE_MAIN, planPath], {
    env: toolEnv(),
    errorCode: 'IMAGE_TOOL_MISSING',
    installPackage: 'fakeroot',
    onStderrLine: (line) => {
      if (line.startsWith('STAGE-ERROR ')) failure = line.slice('STAGE-ERROR '.length);
      else if (line.trim()) log(line);
    },
  });
  if (r.code === 0) return r.stdout.trim();
  const text = failure ?? `IMAGE_BUILD_FAILED: the fakeroot stage exited with ${r.code ?? r.signal}`;
  const sep = text.indexOf(': ');
  throw new SidewalkError(relayedCode(text.slice(0, sep), 'IMAGE_BUILD_FAILED'), text.slice(sep + 2));
}
