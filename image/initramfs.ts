/**
 * Our own small initramfs for a Debian base, made on the host from the base's own files: the arm64
 * busybox of Debian's busybox-static and the kernel modules that mounting the root needs (Debian's
 * linux-image-arm64 builds ext4, virtio and the Pi's SD host drivers as modules). Debian's generic
 * initrd would have to be made by mkinitramfs under qemu-user while the base is built (about 10 min
 * per run, image/README.md), so the base skips it (INITRD=No in debian-base.ts).
 *
 * /init loads the modules, waits for the partition named by root=PARTUUID= (MBR: the disk signature in
 * the MBR and the partition number), mounts it read-only, keeps the card's machine-id on the data
 * partition and switches to its /sbin/init. The archive is a newc cpio written here (owners 0:0, fixed mtime, sorted), gzipped: the
 * same base gives the same bytes, and no root or device nodes on the host are needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SidewalkError } from '../lib/errors.js';

/** Modules the root mount may need; the ones the kernel does not have (or has built in) are skipped. */
export const ROOT_MODULES = [
  // QEMU's -M virt disk (the slow tier's boot test).
  'virtio_pci',
  'virtio_mmio',
  'virtio_blk',
  // Raspberry Pi SD card: Pi 4 (emmc2: sdhci-iproc), Pi 5 (sdhci-brcmstb), Pi 3 (bcm2835 sdhost).
  'mmc_block',
  'sdhci_iproc',
  'sdhci_brcmstb',
  'bcm2835',
  // ext4's and jbd2's metadata checksums ask the crypto API for crc32c at mount time (request_module,
  // which this initramfs cannot answer), so it is loaded first; modules.dep does not list it.
  'crc32c_generic',
  'ext4',
];
/** Without these the root cannot be mounted at all. */
const REQUIRED = ['ext4'];

export interface InitramfsFile {
  path: string;
  mode: number;
  data?: Buffer;
  symlink?: string;
  /** Character device [major, minor]. */
  dev?: [number, number];
}

/** The modules to load for `wanted`, dependencies first, as paths relative to lib/modules/<version>. */
export function moduleLoadOrder(modulesDep: string, builtin: string, wanted: readonly string[], required: readonly string[] = REQUIRED): string[] {
  const norm = (n: string) => n.replace(/-/g, '_');
  const nameOf = (path: string) => norm(path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.xz|\.zst|\.gz)?$/, ''));
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    deps.set(
      path,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
    byName.set(nameOf(path), path);
  }
  const builtins = new Set(builtin.split('\n').filter(Boolean).map(nameOf));
  const order: string[] = [];
  const visit = (path: string, chain: string[]): void => {
    if (order.includes(path)) return;
    if (chain.includes(path)) throw new SidewalkError('IMAGE_BASE_INVALID', `modules.dep: dependency cycle ${[...chain, path].join(' -> ')}`);
    for (const dep of deps.get(path) ?? []) visit(dep, [...chain, path]);
    order.push(path);
  };
  for (const name of wanted.map(norm)) {
    const path = byName.get(name);
    if (path) visit(path, []);
    else if (required.map(norm).includes(name) && !builtins.has(name)) {
      throw new SidewalkError('IMAGE_BASE_INVALID', `lib/modules: the kernel has no ${name} module and does not build it in; the root cannot be mounted`);
    }
  }
  return order;
}

/** awk program printing the data partition's PARTUUID from an fstab (image/overlay.ts writes that line). */
export const DATA_PARTUUID_AWK = '$2 == "/data" && $1 ~ /^PARTUUID=/ { print tolower(substr($1, 10)) }';

/** The /init script; `modules` are loaded in this order (paths under /lib/modules). */
export function initScript(modules: readonly string[]): string {
  return `#!/bin/busybox sh
# Sidewalk Guard initramfs (image/initramfs.ts): load the root's modules, find root=PARTUUID=, mount it
# read-only, switch to its init. Any failure ends in a kernel panic (panic= on the command line reboots).
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t sysfs sysfs /sys
fail() { echo "initramfs: $*"; exit 1; }
for m in ${modules.map((m) => `/lib/modules/${m}`).join(' ')}; do
  insmod "$m" || echo "initramfs: insmod $m failed"
done
root=; fstype=ext4; init=/sbin/init
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=PARTUUID=*) root=$(echo "\${arg#root=PARTUUID=}" | tr A-F a-f) ;;
    rootfstype=*) fstype=\${arg#rootfstype=} ;;
    init=*) init=\${arg#init=} ;;
  esac
done
[ -n "$root" ] || fail "no root=PARTUUID= on the kernel command line"
# The kernel's partition uevent has no PARTUUID (Linux 6.1), so an MBR PARTUUID (<disk signature>-<nn>)
# is resolved here: the disk whose MBR bytes 440-443 hold the signature, its partition number nn (hex).
# Sets dev (e.g. vda5) or returns 1.
find_partuuid() {
  case "$1" in
    [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]) ;;
    *) return 1 ;;
  esac
  sig=\${1%-*}
  num=$((0x\${1#*-}))
  dev=
  for d in /sys/block/*; do
    disk=\${d##*/}
    s=$(dd if="/dev/$disk" bs=1 skip=440 count=4 2>/dev/null | od -An -tx4 | tr -d ' \n')
    [ "$s" = "$sig" ] || continue
    for p in "$d/$disk"*; do
      [ "$(cat "$p/partition" 2>/dev/null)" = "$num" ] && dev=\${p##*/}
    done
  done
  [ -n "$dev" ]
}
case "$root" in
  [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]) ;;
  *) fail "root=PARTUUID=$root: this initramfs resolves MBR PARTUUIDs (xxxxxxxx-nn) only" ;;
esac
tries=0
until find_partuuid "$root"; do
  tries=$((tries + 1))
  [ $tries -le 60 ] || fail "no partition with PARTUUID $root after 30 s"
  sleep 0.5
done
echo "initramfs: root PARTUUID=$root is /dev/$dev"
mount -t "$fstype" -o ro "/dev/$dev" /root || fail "cannot mount /dev/$dev ($fstype)"
# One machine-id per card for all its boots (the journal's folder on /data is named by it): the image's
# /etc/machine-id is empty on a read-only root, where systemd would make a new one at every boot. It is
# kept in /data/device/machine-id (made here on the first boot) and bind-mounted over /etc/machine-id
# from a /run that systemd then keeps. Any problem leaves systemd's own per-boot id; the boot goes on.
keep_machine_id() {
  [ -f /root/etc/machine-id ] && [ ! -s /root/etc/machine-id ] || return 0
  data=$(awk '${DATA_PARTUUID_AWK}' /root/etc/fstab 2>/dev/null)
  [ -n "$data" ] || return 0
  find_partuuid "$data" || { echo "initramfs: machine-id: no data partition PARTUUID=$data"; return 0; }
  mkdir -p /data
  mount -t ext4 -o rw,nodev,nosuid,noexec "/dev/$dev" /data || { echo "initramfs: machine-id: cannot mount /dev/$dev"; return 0; }
  id=$(cat /data/device/machine-id 2>/dev/null)
  how=kept
  if ! echo "$id" | grep -qx '[0-9a-f]\\{32\\}'; then
    id=$(sed 's/-//g' /proc/sys/kernel/random/uuid)
    how=new
    mkdir -p /data/device && echo "$id" > /data/device/machine-id.tmp && sync && mv /data/device/machine-id.tmp /data/device/machine-id && sync || how="new, not saved"
  fi
  umount /data
  mount -t tmpfs -o mode=0755,nodev,nosuid,size=20% tmpfs /root/run || return 0
  echo "$id" > /root/run/machine-id && chmod 0444 /root/run/machine-id && mount -o bind /root/run/machine-id /root/etc/machine-id || return 0
  echo "initramfs: machine-id $id ($how, /dev/$dev)"
}
keep_machine_id
umount /proc /sys
mount -o move /dev /root/dev || umount /dev
exec switch_root /root "$init" "$@"
`;
}

/** The initramfs of a Debian root for kernel `version`: gzipped newc cpio. */
export function buildInitramfs(rootDir: string, version: string, epoch: number): Buffer {
  const modDir = join(rootDir, 'lib/modules', version);
  const busybox = ['usr/bin/busybox', 'bin/busybox'].map((p) => join(rootDir, p)).find((p) => existsSync(p));
  if (!busybox) throw new SidewalkError('IMAGE_BASE_INVALID', "the base root has no usr/bin/busybox: include Debian's busybox-static package (our initramfs is made of it)");
  const dep = join(modDir, 'modules.dep');
  if (!existsSync(dep)) throw new SidewalkError('IMAGE_BASE_INVALID', `${dep} is missing: depmod did not run for kernel ${version}`);
  const builtin = join(modDir, 'modules.builtin');
  const order = moduleLoadOrder(readFileSync(dep, 'utf8'), existsSync(builtin) ? readFileSync(builtin, 'utf8') : '', ROOT_MODULES);
  const compressed = order.find((m) => !m.endsWith('.ko'));
  if (compressed) throw new SidewalkError('IMAGE_BASE_INVALID', `${compressed}: compressed modules are not supported by this initramfs (busybox insmod reads plain .ko)`);

  const files: InitramfsFile[] = [
    { path: 'bin', mode: 0o40755 },
    { path: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) },
    { path: 'dev', mode: 0o40755 },
    { path: 'dev/console', mode: 0o20600, dev: [5, 1] },
    { path: 'init', mode: 0o100755, data: Buffer.from(initScript(order)) },
    { path: 'lib', mode: 0o40755 },
    { path: 'lib/modules', mode: 0o40755 },
    { path: 'proc', mode: 0o40755 },
    { path: 'root', mode: 0o40755 },
    { path: 'sys', mode: 0o40755 },
  ];
  const dirs = new Set<string>();
  for (const m of order) {
    const parts = m.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`lib/modules/${parts.slice(0, i).join('/')}`);
    files.push({ path: `lib/modules/${m}`, mode: 0o100644, data: readFileSync(join(modDir, m)) });
  }
  for (const d of dirs) files.push({ path: d, mode: 0o40755 });
  return gzipSync(newcArchive(files, epoch), { level: 9 });
}

/** A newc ("070701") cpio archive, entries sorted by path so parents come first; owners 0:0. */
export function newcArchive(files: readonly InitramfsFile[], mtime: number): Buffer {
  const chunks: Buffer[] = [];
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (ino: number, f: InitramfsFile): void => {
    const body = f.symlink !== undefined ? Buffer.from(f.symlink) : (f.data ?? Buffer.alloc(0));
    const name = Buffer.from(`${f.path}\0`);
    const fields = [ino, f.mode, 0, 0, f.mode & 0o40000 ? 2 : 1, mtime, body.length, 0, 0, f.dev?.[0] ?? 0, f.dev?.[1] ?? 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map((v) => v.toString(16).padStart(8, '0')).join('')}`, 'ascii');
    chunks.push(header, name, pad(header.length + name.length), body, pad(body.length));
  };
  for (const [i, f] of sorted.entries()) entry(i + 1, f);
  entry(0, { path: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(chunks);
}
