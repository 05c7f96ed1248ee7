/**
 * Our part of every image, applied over the base root in the staging tree (under fakeroot, so chown
 * and chmod record the owners the ext4 images get): the app bundle at /opt/sidewalk, the device units
 * (enabled), image/rootfs (configs, drop-ins), /etc/sidewalk/ota.yaml for this layout, the artifact
 * verification key, fstab and the data partition's tree.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { SidewalkError } from '../lib/errors.js';
import { validateOtaConfig } from '../ota/config.js';
import { ensureAccounts } from './accounts.js';
import { DATA_MOUNT, DEVICE_DIR, PERSISTENT_DIRS, PROVISION_BOOT_MOUNT, SECRETS_DIR, SERVICE_GROUPS, SERVICE_USER, WIFI_CONFIG } from './device-paths.js';
import { partition, type Layout } from './layout.js';
import { runTool } from './tools.js';

export interface OverlayInput {
  /** Installed as /opt/sidewalk; must hold an executable bin/sidewalk. */
  appDir: string;
  /** PEM public key that signs artifacts, installed as /etc/sidewalk/artifact-verify.pem. */
  verifyKey: string;
  /** The repository: image/systemd, image/rootfs, ota/ota.example.yaml. */
  repoRoot: string;
}

/** Units for the training box, not for scooters. */
const HOST_ONLY_UNIT = /^sidewalk-pipeline\./;

export async function validateOverlayInput(input: OverlayInput): Promise<void> {
  const bin = join(input.appDir, 'bin', 'sidewalk');
  const st = await lstat(bin).catch(() => null);
  if (!st) throw new SidewalkError('IMAGE_APP_INVALID', `${input.appDir}: no bin/sidewalk: the app bundle directory is installed as /opt/sidewalk and must hold its launcher`);
  if (!st.isSymbolicLink() && (st.mode & 0o111) === 0) throw new SidewalkError('IMAGE_APP_INVALID', `${bin}: not executable`);
  const pem = await readFile(input.verifyKey, 'utf8').catch(() => {
    throw new SidewalkError('IMAGE_KEY_INVALID', `${input.verifyKey}: cannot read the artifact verification key`);
  });
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public' || !pem.includes('PUBLIC KEY')) throw new Error('not a public key');
  } catch {
    throw new SidewalkError('IMAGE_KEY_INVALID', `${input.verifyKey}: not a PEM public key (the image must never hold the private signing key)`);
  }
}

export async function applyOverlay(rootDir: string, dataDir: string, layout: Layout, input: OverlayInput): Promise<void> {
  const ids = await ensureAccounts(rootDir, SERVICE_USER, SERVICE_GROUPS);

  const app = join(rootDir, 'opt/sidewalk');
  await rm(app, { recursive: true, force: true });
  await mkdir(dirname(app), { recursive: true });
  await runTool('cp', ['-a', input.appDir, app]);
  // The bundle is code: root-owned, nobody else may write it.
  await runTool('chown', ['-R', '-h', '0:0', app]);
  await runTool('chmod', ['-R', 'go-w', app]);

  await runTool('cp', ['-r', '--no-preserve=ownership', `${join(input.repoRoot, 'image/rootfs')}/.`, rootDir]);
  await installUnits(rootDir, join(input.repoRoot, 'image/systemd'));
  await mkdir(join(rootDir, 'etc/sidewalk'), { recursive: true });
  await writeFile(join(rootDir, 'etc/sidewalk/ota.yaml'), await otaConfigFor(layout, join(input.repoRoot, 'ota/ota.example.yaml')));
  await writeFile(join(rootDir, 'etc/sidewalk/artifact-verify.pem'), await readFile(input.verifyKey));
  await writeFile(join(rootDir, 'etc/fstab'), fstab(layout));
  await mkdir(join(rootDir, 'etc/systemd/system/boot-firmware.mount.d'), { recursive: true });
  await writeFile(join(rootDir, 'etc/systemd/system/boot-firmware.mount.d/10-slot-a-only.conf'), bootMountDropIn(layout));
  // Every card gets its own id on its first boot (image/initramfs.ts keeps it on /data): a base's id is dropped.
  await writeFile(join(rootDir, 'etc/machine-id'), '');
  await mkdir(join(rootDir, 'etc/wpa_supplicant'), { recursive: true });
  await rm(join(rootDir, 'etc/wpa_supplicant/wpa_supplicant-wlan0.conf'), { force: true });
  await symlink(join(DATA_MOUNT, WIFI_CONFIG), join(rootDir, 'etc/wpa_supplicant/wpa_supplicant-wlan0.conf'));
  await enableIfPresent(rootDir, 'wpa_supplicant@.service', 'wpa_supplicant@wlan0.service', 'multi-user.target');
  await enableIfPresent(rootDir, 'systemd-networkd.service', 'systemd-networkd.service', 'multi-user.target');
  // Debian's prometheus package starts a full server on :9090; the scooter runs it only in agent mode
  // (sidewalk-prometheus-agent.service, telemetry/README.md).
  await mask(rootDir, 'prometheus.service');
  for (const dir of [DATA_MOUNT, PROVISION_BOOT_MOUNT, '/tmp', '/var/tmp']) await mkdir(join(rootDir, dir), { recursive: true });
  await chownTree(rootDir, ['etc/sidewalk', 'etc/systemd', 'etc/fstab', 'etc/machine-id', 'etc/wpa_supplicant', DATA_MOUNT, PROVISION_BOOT_MOUNT]);
  await chmod(join(rootDir, 'etc/machine-id'), 0o444);
  await chmod(join(rootDir, 'tmp'), 0o1777);
  await chmod(join(rootDir, 'var/tmp'), 0o1777);

  // The data partition: the persistent directories move there (seeded with the base's content).
  await mkdir(dataDir, { recursive: true });
  for (const p of PERSISTENT_DIRS) {
    const from = join(rootDir, p.rootPath);
    const to = join(dataDir, p.dataDir);
    if (existsSync(from)) await rename(from, to);
    else await mkdir(to, { recursive: true });
    await mkdir(from, { recursive: true });
  }
  await chown(join(dataDir, 'sidewalk'), ids.uid, ids.gid);
  await chmod(join(dataDir, 'sidewalk'), 0o750);
  await mkdir(join(dataDir, 'log/journal'), { recursive: true });
  const journalGid = ids.groups.get('systemd-journal') ?? 0;
  await chown(join(dataDir, 'log/journal'), 0, journalGid);
  await chmod(join(dataDir, 'log/journal'), 0o2755);
  await mkdir(join(dataDir, SECRETS_DIR), { recursive: true });
  await chown(join(dataDir, DEVICE_DIR), 0, 0);
  await chmod(join(dataDir, DEVICE_DIR), 0o755);
  await chown(join(dataDir, SECRETS_DIR), 0, ids.gid);
  await chmod(join(dataDir, SECRETS_DIR), 0o750);
}

/** Every partition by PARTUUID, so it holds in either slot; the root itself is mounted read-only by the kernel (`ro`). */
export function fstab(layout: Layout): string {
  const data = partition(layout, 'data').partuuid;
  const bootA = partition(layout, 'bootA').partuuid;
  const binds = PERSISTENT_DIRS.map((p) => `${DATA_MOUNT}/${p.dataDir}\t${p.rootPath}\tnone\tbind,x-systemd.requires-mounts-for=${DATA_MOUNT}\t0 0`);
  return [
    '# Written by `sidewalk image build`. The root filesystem stays read-only (cmdline.txt: ro);',
    '# state lives on the data partition. Boot slot A is mounted only for first-boot provisioning.',
    `PARTUUID=${data}\t${DATA_MOUNT}\text4\tdefaults,noatime,nodev,nosuid,commit=30\t0 2`,
    ...binds,
    'tmpfs\t/tmp\ttmpfs\tnosuid,nodev,mode=1777,size=64M\t0 0',
    'tmpfs\t/var/tmp\ttmpfs\tnosuid,nodev,mode=1777,size=16M\t0 0',
    // device-timeout: long enough for a slow first boot's udev (10 s was too short under QEMU, and
    // provisioning would then have run without its file); nofail keeps the boot going if it ever expires.
    `PARTUUID=${bootA}\t${PROVISION_BOOT_MOUNT}\tvfat\tnoauto,nofail,nodev,nosuid,noexec,umask=0077,x-systemd.device-timeout=60s\t0 0`,
    '',
  ].join('\n');
}

/**
 * Boot slot A is mounted for provisioning only while slot A runs: while slot B runs, p2 belongs to the
 * inactive slot, which the updater rewrites as a raw device underneath any mount.
 */
export function bootMountDropIn(layout: Layout): string {
  return [
    '# Written by `sidewalk image build`: mount boot slot A (provisioning) only when running from root A;',
    '# while slot B runs, boot A is the inactive slot the updater rewrites.',
    '[Unit]',
    `ConditionKernelCommandLine=root=PARTUUID=${partition(layout, 'rootA').partuuid}`,
    '',
  ].join('\n');
}

/** ota.example.yaml with this layout's partitions (identical for the default MBR layout). */
async function otaConfigFor(layout: Layout, example: string): Promise<string> {
  const doc = parse(await readFile(example, 'utf8')) as Record<string, unknown> & { boot: Record<string, unknown> };
  const dev = (name: Parameters<typeof partition>[1]) => `/dev/disk/by-partuuid/${partition(layout, name).partuuid}`;
  doc.boot.selector_device = dev('selector');
  doc.boot.slots = {
    A: { boot_partition: partition(layout, 'bootA').number, boot_device: dev('bootA'), root_device: dev('rootA') },
    B: { boot_partition: partition(layout, 'bootB').number, boot_device: dev('bootB'), root_device: dev('rootB') },
  };
  validateOtaConfig(structuredClone(doc), example);
  return `# /etc/sidewalk/ota.yaml, written by \`sidewalk image build\` from ota/ota.example.yaml for this card's layout.\n${stringify(doc)}`;
}

async function installUnits(rootDir: string, unitDir: string): Promise<void> {
  const target = join(rootDir, 'etc/systemd/system');
  await mkdir(target, { recursive: true });
  for (const name of (await readdir(unitDir)).sort()) {
    if (HOST_ONLY_UNIT.test(name) || !/\.(service|timer|socket|path|mount)$/.test(name)) continue;
    const text = await readFile(join(unitDir, name), 'utf8');
    await writeFile(join(target, name), text);
    await chmod(join(target, name), 0o644);
    for (const m of text.matchAll(/^WantedBy=(.+)$/gm)) {
      for (const wanted of m[1]!.trim().split(/\s+/)) await enable(rootDir, name, name, wanted);
    }
  }
}

async function enable(rootDir: string, unitFile: string, instance: string, wantedBy: string): Promise<void> {
  const wants = join(rootDir, 'etc/systemd/system', `${wantedBy}.wants`);
  await mkdir(wants, { recursive: true });
  await rm(join(wants, instance), { force: true });
  const inEtc = existsSync(join(rootDir, 'etc/systemd/system', unitFile));
  const vendor = existsSync(join(rootDir, 'usr/lib/systemd/system', unitFile)) ? '/usr/lib/systemd/system' : '/lib/systemd/system';
  await symlink(inEtc ? `../${unitFile}` : `${vendor}/${unitFile}`, join(wants, instance));
}

async function mask(rootDir: string, unitFile: string): Promise<void> {
  const link = join(rootDir, 'etc/systemd/system', unitFile);
  await rm(link, { force: true });
  await symlink('/dev/null', link);
}

async function enableIfPresent(rootDir: string, unitFile: string, instance: string, wantedBy: string): Promise<void> {
  if (existsSync(join(rootDir, 'lib/systemd/system', unitFile)) || existsSync(join(rootDir, 'usr/lib/systemd/system', unitFile))) {
    await enable(rootDir, unitFile, instance, wantedBy);
  }
}

async function chownTree(rootDir: string, paths: readonly string[]): Promise<void> {
  const existing = paths.map((p) => join(rootDir, p)).filter((p) => existsSync(p));
  if (existing.length > 0) await runTool('chown', ['-R', '-h', '0:0', ...existing]);
}
