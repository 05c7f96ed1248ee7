import type { Command } from 'commander';
import { SidewalkError } from '../lib/errors.js';
import { REPO_ROOT } from '../lib/paths.js';
import { buildImage, type BaseInput } from './build.js';
import { DEFAULT_SIZES, type TableType } from './layout.js';

interface BuildOpts {
  out: string;
  app: string;
  verifyKey: string;
  baseDir?: string;
  baseTar?: string;
  baseDebian?: boolean;
  basePios?: string;
  cache?: string;
  mirror?: string;
  table: string;
  bootSize: string;
  rootSize: string;
  dataSize: string;
}

function mib(value: string, option: string): number {
  if (!/^\d+$/.test(value)) throw new SidewalkError('IMAGE_INVALID_OPTION', `${option} ${value}: a whole number of MiB`);
  return Number(value);
}

function baseOf(o: BuildOpts): BaseInput {
  const given = [o.baseDir && 'dir', o.baseTar && 'tar', o.baseDebian && 'debian', o.basePios && 'pios'].filter(Boolean);
  if (given.length !== 1) throw new SidewalkError('IMAGE_INVALID_OPTION', 'give exactly one base: --base-dir DIR, --base-tar FILE, --base-debian or --base-pios IMAGE');
  if (o.baseDir) return { kind: 'dir', path: o.baseDir };
  if (o.baseTar) return { kind: 'tar', path: o.baseTar };
  if (o.basePios) return { kind: 'pios', path: o.basePios };
  return { kind: 'debian', ...(o.cache ? { cacheDir: o.cache } : {}), ...(o.mirror ? { mirror: o.mirror } : {}) };
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('flashable SD card images (A/B tryboot layout of ota/ota.example.yaml)');
  image
    .command('build')
    .description('build an SD card image, unprivileged (fakeroot + genimage; no loop devices or mounts)')
    .requiredOption('-o, --out <file>', 'the image file to write (written beside it, then renamed)')
    .requiredOption('--app <dir>', 'app bundle directory, installed as /opt/sidewalk (must hold bin/sidewalk)')
    .requiredOption('--verify-key <pem>', 'public key that signs artifacts (/etc/sidewalk/artifact-verify.pem)')
    .option('--base-dir <dir>', 'base root: a directory (files become root-owned)')
    .option('--base-tar <file>', 'base root: a tarball (owners and modes as stored)')
    .option('--base-debian', 'base root: Debian bookworm arm64 by mmdebstrap (cached; needs qemu-user binfmt)')
    .option('--base-pios <image>', 'base: a Raspberry Pi OS Lite image file (its partitions read by offset)')
    .option('--cache <dir>', 'cache folder of --base-debian (default ~/.cache/sidewalk/image-base)')
    .option('--mirror <url>', 'Debian mirror for --base-debian', 'http://deb.debian.org/debian')
    .option('--table <type>', 'partition table: mbr (default; PARTUUIDs ab12cd34-NN) or gpt', 'mbr')
    .option('--boot-size <MiB>', 'each boot slot (FAT32, >= 64)', String(DEFAULT_SIZES.bootMiB))
    .option('--root-size <MiB>', 'each root slot (ext4)', String(DEFAULT_SIZES.rootMiB))
    .option('--data-size <MiB>', 'data partition (ext4)', String(DEFAULT_SIZES.dataMiB))
    .action(async (o: BuildOpts) => {
      if (o.table !== 'mbr' && o.table !== 'gpt') throw new SidewalkError('IMAGE_INVALID_OPTION', `--table ${o.table}: mbr or gpt`);
      const r = await buildImage({
        output: o.out,
        base: baseOf(o),
        appDir: o.app,
        verifyKey: o.verifyKey,
        repoRoot: REPO_ROOT,
        table: o.table as TableType,
        sizes: { selectorMiB: DEFAULT_SIZES.selectorMiB, bootMiB: mib(o.bootSize, '--boot-size'), rootMiB: mib(o.rootSize, '--root-size'), dataMiB: mib(o.dataSize, '--data-size') },
      });
      const parts = r.layout.partitions.map((p) => `  p${p.number} ${p.name.padEnd(8)} ${p.fs.padEnd(4)} ${String(p.sizeMiB).padStart(5)} MiB  PARTUUID=${p.partuuid}`).join('\n');
      process.stdout.write(`${r.output}\n${parts}\n`);
    });
}
