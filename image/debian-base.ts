/**
 * Base (a) of issue 12: Debian bookworm arm64 built by mmdebstrap from Debian's own packages (systemd,
 * raspi-firmware from non-free-firmware, linux-image-arm64, as Debian's Raspberry Pi images do), as a
 * tarball cached by its inputs. Building needs qemu-user through binfmt_misc (an arm64 root's
 * maintainer scripts run during the build) and, as a normal user, user namespaces (--mode=unshare).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { arch, homedir } from 'node:os';
import { join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { requireTools, runTool, toolEnv } from './tools.js';

export const DEBIAN_PACKAGES = [
  'systemd-sysv',
  'systemd-timesyncd',
  'udev',
  'kmod',
  'ca-certificates',
  'raspi-firmware',
  'linux-image-arm64',
  'initramfs-tools',
  'firmware-brcm80211',
  'wpasupplicant',
  'wireless-regdb',
  'iproute2',
  // replay and ride recording decode/encode with ffmpeg (build/README.md).
  'ffmpeg',
  // The arm64 busybox our own initramfs is made of (image/initramfs.ts).
  'busybox-static',
  // Runs in agent mode only (sidewalk-prometheus-agent.service); its own server unit is masked.
  'prometheus',
];

export interface DebianBaseOptions {
  cacheDir?: string;
  mirror?: string;
  suite?: string;
  packages?: readonly string[];
  log: (line: string) => void;
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sidewalk', 'image-base');
}

/** The cached tarball for these inputs, built first if absent. */
export async function ensureDebianBase(options: DebianBaseOptions): Promise<string> {
  const suite = options.suite ?? 'bookworm';
  const mirror = options.mirror ?? 'http://deb.debian.org/debian';
  const packages = [...(options.packages ?? DEBIAN_PACKAGES)].sort();
  const key = createHash('sha256')
    .update(JSON.stringify({ suite, mirror, packages, arch: 'arm64', v: 2 }))
    .digest('hex')
    .slice(0, 16);
  const dir = options.cacheDir ?? defaultCacheDir();
  const tar = join(dir, `debian-${suite}-arm64-${key}.tar`);
  if (existsSync(tar)) {
    options.log(`base: cached ${tar}`);
    return tar;
  }
  requireTools(['mmdebstrap']);
  checkEmulation();
  const rootless = process.getuid?.() !== 0;
  if (rootless) {
    requireTools(['newuidmap']);
    checkUserNamespaces();
  }
  await mkdir(dir, { recursive: true });
  const partial = `${tar}.partial-${process.pid}`;
  options.log(`base: mmdebstrap ${suite} arm64 (${packages.length} packages, first build takes many minutes under emulation) -> ${tar}`);
  const started = Date.now();
  try {
    await runTool(
      'mmdebstrap',
      [
        `--mode=${rootless ? 'unshare' : 'root'}`,
        '--arch=arm64',
        // Explicit: the partial name's suffix would otherwise make mmdebstrap write a folder, not a tarball.
        '--format=tar',
        '--variant=minbase',
        '--components=main,non-free-firmware',
        `--include=${packages.join(',')}`,
        suite,
        partial,
        mirror,
      ],
      {
        // INITRD=No: the kernel's initramfs hook would run mkinitramfs under qemu-user (about 10 min per run,
        // image/README.md, "Initramfs"); the image gets its own small initramfs, made on the host (image/initramfs.ts).
        env: toolEnv({ INITRD: 'No' }),
        heartbeat: (s) => options.log(`base: mmdebstrap still running (${s} s)`),
      },
    );
    await rename(partial, tar);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  options.log(`base: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return tar;
}

function checkEmulation(): void {
  if (arch() === 'arm64') return;
  const entry = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
  let enabled = false;
  try {
    enabled = readFileSync(entry, 'utf8').startsWith('enabled');
  } catch {
    enabled = false;
  }
  if (!enabled) {
    throw new SidewalkError(
      'IMAGE_NO_BINFMT',
      `${entry} is not registered: building an arm64 root on ${arch()} runs its package scripts under qemu-user. As root: apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc (if unmounted); update-binfmts --enable qemu-aarch64`,
    );
  }
}

function checkUserNamespaces(): void {
  let max = 0;
  try {
    max = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
  } catch {
    max = 0;
  }
  if (!(max > 0)) {
    throw new SidewalkError('IMAGE_NO_USERNS', 'user namespaces are disabled (/proc/sys/user/max_user_namespaces = 0): enable them (sysctl user.max_user_namespaces=10000) or build as root');
  }
}
