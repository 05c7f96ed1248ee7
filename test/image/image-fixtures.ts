/**
 * Inputs for image builds in the fast tier, made at test time (no network, a few hundred KiB): a small
 * synthetic base root (systemd's own unit files from the host, so `systemd-analyze verify --root` can
 * resolve sysinit.target; stand-ins for the Raspberry Pi firmware, kernel, initramfs and a device tree),
 * a stand-in app bundle, an artifact verification key; and readers of a built card that never mount it.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KERNEL_VERSION = '6.1.0-sim-arm64';
const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, MTOOLS_SKIP_CHECK: '1' };

function write(root: string, path: string, text: string, mode = 0o644): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
  chmodSync(join(root, path), mode);
}

/** A merged-/usr root with the accounts, shadow files and boot files a Debian base has. */
export function makeSyntheticRoot(root: string): void {
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
  cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  for (const d of ['bin', 'sbin', 'lib']) symlinkSync(`usr/${d}`, join(root, d));
  write(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nmessagebus:x:100:101::/nonexistent:/usr/sbin/nologin\n');
  write(root, 'etc/group', 'root:x:0:\ndialout:x:20:\nshadow:x:42:\nvideo:x:44:\nsystemd-journal:x:101:\n');
  write(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o640);
  write(root, 'etc/gshadow', 'root:*::\n', 0o640);
  write(root, 'etc/hostname', 'sidewalk\n');
  write(root, 'etc/sidewalk-os-version', '1.0\n');
  write(root, 'usr/bin/sh', '#!/bin/sh\n', 0o755);
  write(root, 'usr/bin/passwd', '#!/bin/sh\n', 0o4755);
  write(root, 'usr/sbin/wpa_supplicant', '#!/bin/sh\n', 0o755);
  write(
    root,
    'usr/lib/systemd/system/wpa_supplicant@.service',
    '[Unit]\nDescription=WPA supplicant for %i\n[Service]\nExecStart=/usr/sbin/wpa_supplicant -c/etc/wpa_supplicant/wpa_supplicant-%I.conf -i%I\n[Install]\nWantedBy=multi-user.target\n',
  );
  write(root, 'usr/lib/raspi-firmware/start4.elf', 'simulated VideoCore firmware\n');
  write(root, 'usr/lib/raspi-firmware/fixup4.dat', 'simulated fixup\n');
  write(root, `boot/vmlinuz-${KERNEL_VERSION}`, 'simulated kernel\n');
  write(root, `boot/initrd.img-${KERNEL_VERSION}`, 'simulated initramfs\n');
  write(root, `usr/lib/linux-image-${KERNEL_VERSION}/broadcom/bcm2711-rpi-4-b.dtb`, 'simulated dtb\n');
  write(root, 'var/log/dpkg.log', 'base install log\n');
  write(root, 'var/lib/systemd/deb-systemd-helper-enabled/.keep', '');
}

/** The synthetic root as a tarball whose stored owners differ from the builder's (shadow group 42). */
export function makeSyntheticTar(work: string): string {
  const root = join(work, 'base-root');
  makeSyntheticRoot(root);
  const tar = join(work, 'base.tar');
  execFileSync(
    'fakeroot',
    ['--', 'sh', '-c', 'chown -R -h 0:0 "$1" && chown 0:42 "$1/etc/shadow" "$1/etc/gshadow" && chmod 0 "$1/etc/gshadow" && tar -C "$1" --numeric-owner -cf "$2" .', 'sh', root, tar],
    { env: ENV },
  );
  return tar;
}

/** Stands in for the arm64 app bundle (build/): what the image build requires of it is bin/sidewalk. */
export function makeAppBundle(dir: string): void {
  write(dir, 'bin/sidewalk', '#!/bin/sh\nexec /opt/sidewalk/node/bin/node /opt/sidewalk/dist/bin/sidewalk.js "$@"\n', 0o775);
  write(dir, 'dist/bin/sidewalk.js', '// stand-in\n');
  write(dir, 'manifest.json', '{"app_version":"0.1.0","arch":"arm64"}\n');
}

export function makeVerifyKey(dir: string): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = join(dir, 'verify-public.pem');
  const privatePem = join(dir, 'signing-private.pem');
  writeFileSync(publicPem, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(privatePem, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { publicPem, privatePem };
}

/** A Raspberry Pi OS Lite-like card (p1 FAT boot, p2 ext4 root), made with the same genimage. */
export function makePiOsImage(work: string): string {
  const boot = join(work, 'pios-boot');
  write(boot, 'start4.elf', 'pi os firmware\n');
  write(boot, 'kernel8.img', 'pi os kernel\n');
  write(boot, 'config.txt', '# Raspberry Pi OS\ndtoverlay=vc4-kms-v3d\n[pi4]\narm_boost=1\n');
  write(boot, 'cmdline.txt', 'console=serial0,115200 root=PARTUUID=deadbeef-02 init=/usr/lib/raspberrypi-sys-mods/firstboot\n');
  write(boot, 'overlays/disable-bt.dtbo', 'overlay\n');
  const root = join(work, 'pios-root');
  makeSyntheticRoot(root);
  write(root, 'etc/os-release', 'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\n');
  const cfg = join(work, 'pios.cfg');
  writeFileSync(
    cfg,
    `image boot.vfat { vfat { label = "bootfs" extraargs = "-F 32" } srcpath = "${boot}" size = 64M }\n` +
      `image root.ext4 { ext4 { label = "rootfs" use-mke2fs = true } srcpath = "${root}" size = 48M }\n` +
      `image pios.img { hdimage { partition-table-type = "mbr" disk-signature = 0xdeadbeef } partition boot { partition-type = 0x0C image = "boot.vfat" } partition root { partition-type = 0x83 image = "root.ext4" } }\n`,
  );
  for (const d of ['pios-gi-root', 'pios-gi-in', 'pios-gi-tmp']) mkdirSync(join(work, d), { recursive: true });
  // Owners as Pi OS has them (shadow group 42), recorded by fakeroot for mke2fs.
  execFileSync(
    'fakeroot',
    [
      '--',
      'sh',
      '-c',
      'chown -R -h 0:0 "$1" && chown 0:42 "$1/etc/shadow" && shift && exec genimage "$@"',
      'sh',
      root,
      '--config',
      cfg,
      '--rootpath',
      join(work, 'pios-gi-root'),
      '--inputpath',
      join(work, 'pios-gi-in'),
      '--outputpath',
      join(work, 'pios-out'),
      '--tmppath',
      join(work, 'pios-gi-tmp'),
    ],
    { env: ENV, stdio: 'pipe' },
  );
  return join(work, 'pios-out/pios.img');
}

export interface CardPartition {
  number: number;
  start: number;
  size: number;
  type: string;
  uuid?: string;
  bootable?: boolean;
}

/** Reads a built card without mounting it: sfdisk for the table, mtools (img@@offset) and debugfs (img?offset=). */
export class Card {
  readonly table: { label: string; id: string; partitions: CardPartition[] };

  constructor(readonly path: string) {
    const json = JSON.parse(execFileSync('sfdisk', ['--json', path], { env: ENV, encoding: 'utf8' })) as {
      partitiontable: { label: string; id: string; partitions: { node: string; start: number; size: number; type: string; uuid?: string; bootable?: boolean }[] };
    };
    const t = json.partitiontable;
    this.table = { label: t.label, id: t.id, partitions: t.partitions.map((p) => ({ ...p, number: Number(/(\d+)$/.exec(p.node)![1]) })) };
  }

  part(number: number): CardPartition {
    const p = this.table.partitions.find((x) => x.number === number);
    if (!p) throw new Error(`no partition ${number} in ${this.path}`);
    return p;
  }

  offset(number: number): number {
    return this.part(number).start * 512;
  }

  fatRead(number: number, file: string): string {
    return execFileSync('mtype', ['-i', `${this.path}@@${this.offset(number)}`, `::${file}`], { env: ENV, encoding: 'utf8' });
  }

  fatList(number: number): string[] {
    const out = execFileSync('mdir', ['-b', '-i', `${this.path}@@${this.offset(number)}`, '::'], { env: ENV, encoding: 'utf8' });
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^::\//, ''))
      .sort();
  }

  /** debugfs output; it exits 0 even on a missing path, so callers compare the text. */
  debugfs(number: number, request: string): string {
    return execFileSync('debugfs', ['-R', request, `${this.path}?offset=${this.offset(number)}`], { env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
  }

  /** Mode (octal text), uid and gid of a path in an ext4 partition. */
  inode(number: number, path: string): { type: string; mode: string; uid: number; gid: number; link?: string } {
    const out = this.debugfs(number, `stat "${path}"`);
    const m = /Type: (\w+)\s+Mode:\s+(\d+)[\s\S]*?User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out);
    if (!m) throw new Error(`${path}: not found in partition ${number}`);
    const link = /Fast link dest: "([^"]*)"/.exec(out)?.[1];
    return { type: m[1]!, mode: m[2]!, uid: Number(m[3]), gid: Number(m[4]), ...(link !== undefined ? { link } : {}) };
  }

  /** A byte copy of one partition (fsck.fat has no offset option). */
  extract(number: number, file: string): string {
    const p = this.part(number);
    execFileSync('dd', [`if=${this.path}`, `of=${file}`, 'bs=512', `skip=${p.start}`, `count=${p.size}`, 'status=none'], { env: ENV });
    return file;
  }

  /** The files of an ext4 partition copied out into a folder (debugfs rdump). */
  dumpExt4(number: number, dir: string): string {
    mkdirSync(dir, { recursive: true });
    execFileSync('debugfs', ['-R', `rdump / ${dir}`, `${this.path}?offset=${this.offset(number)}`], { env: ENV, stdio: 'ignore' });
    return dir;
  }

  /** The files of a FAT partition copied out into a folder. */
  dumpFat(number: number, dir: string): string {
    mkdirSync(dir, { recursive: true });
    execFileSync('mcopy', ['-s', '-n', '-i', `${this.path}@@${this.offset(number)}`, '::*', dir], { env: ENV });
    return dir;
  }
}

export function fsckFat(file: string): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync('fsck.fat', ['-n', file], { env: ENV, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export function e2fsck(device: string): { status: number; output: string } {
  try {
    execFileSync('e2fsck', ['-fn', device], { env: ENV, encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, output: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
