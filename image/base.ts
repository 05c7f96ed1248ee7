/**
 * The base root filesystem an image starts from, unpacked into the staging root (this runs under
 * fakeroot, so the owners it sets are recorded, not applied):
 *  - dir:    a directory tree (the fast tests' synthetic base); every file becomes root-owned.
 *  - tar:    a root tarball, owners and modes as stored (e.g. an mmdebstrap output).
 *  - debian: Debian bookworm arm64 built by mmdebstrap, cached as a tarball (see debian-base.ts).
 *  - pios:   a Raspberry Pi OS Lite image file; its boot (FAT) and root (ext4) partitions are read by
 *            offset (mtools img@@offset, debugfs img?offset=), nothing is mounted.
 * It also collects the Raspberry Pi boot files a slot needs: firmware, kernel, initramfs, device trees.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, lchown, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { buildInitramfs } from './initramfs.js';
import { runTool } from './tools.js';

export type BaseSource = { kind: 'dir'; path: string } | { kind: 'tar'; path: string } | { kind: 'pios'; path: string };

export interface PreparedBase {
  /** Lines config.txt needs for this base's kernel (written before image/boot/config.txt). */
  configPrefix: string;
  /** Files for each boot slot (the firmware, kernel, initramfs and device trees), already in bootDir. */
  bootFiles: string[];
}

/** `epoch`: the time stamp of generated files (SOURCE_DATE_EPOCH). */
export async function prepareBase(source: BaseSource, rootDir: string, bootDir: string, epoch: number): Promise<PreparedBase> {
  await mkdir(rootDir, { recursive: true });
  await mkdir(bootDir, { recursive: true });
  if (source.kind === 'dir') {
    if (!existsSync(join(source.path, 'etc'))) throw new SidewalkError('IMAGE_BASE_INVALID', `${source.path}: not a root filesystem (no etc/)`);
    await runTool('cp', ['-a', `${source.path}/.`, rootDir]);
    await chownToRoot(rootDir);
    return debianBootFiles(rootDir, bootDir, epoch);
  }
  if (source.kind === 'tar') {
    await runTool('tar', ['-C', rootDir, '--numeric-owner', '-xpf', source.path]);
    if (!existsSync(join(rootDir, 'etc'))) throw new SidewalkError('IMAGE_BASE_INVALID', `${source.path}: the tarball holds no etc/ at its top: not a root filesystem`);
    return debianBootFiles(rootDir, bootDir, epoch);
  }
  return piOsBase(source.path, rootDir, bootDir);
}

/** Debian's layout: raspi-firmware in /usr/lib/raspi-firmware, the kernel in /boot, device trees with the kernel's modules. */
async function debianBootFiles(rootDir: string, bootDir: string, epoch: number): Promise<PreparedBase> {
  const firmware = join(rootDir, 'usr/lib/raspi-firmware');
  if (!existsSync(firmware)) {
    throw new SidewalkError('IMAGE_BASE_INVALID', "the base root has no usr/lib/raspi-firmware: include Debian's raspi-firmware package (component non-free-firmware)");
  }
  await runTool('cp', ['-r', '--no-preserve=ownership', `${firmware}/.`, bootDir]);
  const kernels = (await readdir(join(rootDir, 'boot')).catch(() => [] as string[])).filter((f) => f.startsWith('vmlinuz-')).sort(compareVersions);
  const kernel = kernels.at(-1);
  if (!kernel) throw new SidewalkError('IMAGE_BASE_INVALID', 'the base root has no boot/vmlinuz-*: include linux-image-arm64');
  const version = kernel.slice('vmlinuz-'.length);
  await copyFile(join(rootDir, 'boot', kernel), join(bootDir, 'vmlinuz'));
  let config = 'kernel=vmlinuz\n';
  // Debian's own initrd when the base has one; otherwise ours when the kernel has modules (a Debian
  // kernel mounts its root only through modules); none for a kernel without modules (synthetic bases).
  const initrd = join(rootDir, 'boot', `initrd.img-${version}`);
  if (existsSync(initrd)) {
    await copyFile(initrd, join(bootDir, 'initrd.img'));
    config += 'initramfs initrd.img followkernel\n';
  } else if (existsSync(join(rootDir, 'lib/modules', version))) {
    await writeFile(join(bootDir, 'initrd.img'), buildInitramfs(rootDir, version, epoch));
    config += 'initramfs initrd.img followkernel\n';
  }
  const dtbDir = join(rootDir, 'usr/lib', `linux-image-${version}`, 'broadcom');
  for (const dtb of await readdir(dtbDir).catch(() => [] as string[])) {
    if (dtb.endsWith('.dtb')) await copyFile(join(dtbDir, dtb), join(bootDir, dtb));
  }
  return { configPrefix: config, bootFiles: (await readdir(bootDir)).sort() };
}

interface SfdiskPart {
  start: number;
  size: number;
  type: string;
}

/** Pi OS Lite: p1 FAT boot (firmware, kernels, overlays), p2 ext4 root. */
async function piOsBase(image: string, rootDir: string, bootDir: string): Promise<PreparedBase> {
  if (!existsSync(image)) throw new SidewalkError('IMAGE_BASE_INVALID', `${image}: no such image file`);
  let parts: SfdiskPart[];
  try {
    const { stdout } = await runTool('sfdisk', ['--json', image]);
    parts = (JSON.parse(stdout) as { partitiontable: { partitions: SfdiskPart[] } }).partitiontable.partitions;
  } catch (err) {
    throw new SidewalkError('IMAGE_BASE_INVALID', `${image}: no readable partition table (sfdisk --json)`, { cause: err });
  }
  const [boot, root] = parts;
  if (!boot || !root || parts.length !== 2) throw new SidewalkError('IMAGE_BASE_INVALID', `${image}: ${parts.length} partitions; a Raspberry Pi OS image has 2 (boot FAT, root ext4)`);
  await runTool('mcopy', ['-s', '-p', '-n', '-i', `${image}@@${boot.start * 512}`, '::*', bootDir]).catch((err: unknown) => {
    throw new SidewalkError('IMAGE_BASE_INVALID', `${image}: partition 1 (offset ${boot.start * 512}) is not a readable FAT filesystem`, { cause: err });
  });
  const rootDev = `${image}?offset=${root.start * 512}`;
  await runTool('e2fsck', ['-fn', rootDev]).catch((err: unknown) => {
    throw new SidewalkError('IMAGE_BASE_INVALID', `${image}: partition 2 (offset ${root.start * 512}) is not a clean ext4 filesystem (e2fsck -fn)`, { cause: err });
  });
  await runTool('debugfs', ['-R', `rdump / ${rootDir}`, rootDev]);
  await restoreInodeAttributes(rootDev, rootDir);
  await rm(join(rootDir, 'lost+found'), { recursive: true, force: true });
  if (!existsSync(join(rootDir, 'etc'))) throw new SidewalkError('IMAGE_BASE_INVALID', `${image}: partition 2 holds no etc/: not a root filesystem`);
  // Its own cmdline.txt names its own root; ours replaces it. Its config.txt stays first, ours follows.
  const config = await readFile(join(bootDir, 'config.txt'), 'utf8').catch(() => '');
  await rm(join(bootDir, 'cmdline.txt'), { force: true });
  await rm(join(bootDir, 'config.txt'), { force: true });
  return { configPrefix: config ? `${config.trimEnd()}\n` : '', bootFiles: (await readdir(bootDir)).sort() };
}

/**
 * rdump sets a file's mode before its owner, and a chown clears setuid/setgid bits; so owners and modes
 * are set again from the ext4's own inodes (`ls -p` of every folder, one debugfs run): owner first, then mode.
 */
async function restoreInodeAttributes(rootDev: string, rootDir: string): Promise<void> {
  const dirs: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    dirs.push(rel);
    for (const entry of await readdir(join(rootDir, rel), { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(posix.join(rel, entry.name));
    }
  };
  await walk('/');
  const unquotable = dirs.filter((d) => /["\n]/.test(d));
  if (unquotable.length > 0) throw new SidewalkError('IMAGE_BASE_INVALID', `${rootDev}: folder name ${JSON.stringify(unquotable[0])} cannot be listed by debugfs`);
  const cmdFile = join(rootDir, '..', 'restore-attributes.debugfs');
  await writeFile(cmdFile, dirs.map((d) => `ls -p "${d}"`).join('\n'));
  const { stdout } = await runTool('debugfs', ['-f', cmdFile, rootDev]);
  await rm(cmdFile);
  let dir: string | null = null;
  for (const line of stdout.split('\n')) {
    const command = /^debugfs: ls -p "(.*)"$/.exec(line);
    if (command) {
      dir = command[1]!;
      continue;
    }
    const f = line.split('/');
    if (dir === null || f.length < 8 || f[5] === '..') continue;
    const path = join(rootDir, dir, f[5] === '.' ? '' : f[5]!);
    const mode = parseInt(f[2]!, 8);
    const uid = Number(f[3]);
    const gid = Number(f[4]);
    if ((mode & 0o170000) === 0o120000) {
      await lchown(path, uid, gid);
      continue;
    }
    await chown(path, uid, gid);
    await chmod(path, mode & 0o7777);
  }
}

/** Everything root-owned; setuid/setgid bits, which a chown clears, are set again. */
async function chownToRoot(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      await lchown(path, 0, 0);
      continue;
    }
    const { mode } = await lstat(path);
    await chown(path, 0, 0);
    if (mode & 0o6000) await chmod(path, mode & 0o7777);
    if (entry.isDirectory()) await chownToRoot(path);
  }
}

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
