/**
 * Where things live on a flashed card. The root filesystem is mounted read-only; everything that
 * changes is on the data partition (p7, mounted at /data): the runtime's and updater's state, the logs,
 * systemd's state, and the device identity and secrets written by first-boot provisioning.
 */
export const DATA_MOUNT = '/data';
/** Root directories that are bind mounts of data partition directories (seeded from the base at build). */
export const PERSISTENT_DIRS: readonly { rootPath: string; dataDir: string }[] = [
  { rootPath: '/var/lib/sidewalk', dataDir: 'sidewalk' },
  { rootPath: '/var/log', dataDir: 'log' },
  { rootPath: '/var/lib/systemd', dataDir: 'systemd' },
];
/** Where a path under one of PERSISTENT_DIRS lives on the data partition (relative to its mount). */
export function dataPathOf(devicePath: string): string {
  const dir = PERSISTENT_DIRS.find((p) => devicePath.startsWith(`${p.rootPath}/`));
  if (!dir) throw new Error(`${devicePath} is not on the data partition`);
  return `${dir.dataDir}/${devicePath.slice(dir.rootPath.length + 1)}`;
}
/** The fleet Prometheus' CA for the metrics agent's remote_write (provisioned; public, so world-readable). */
export const DEVICE_AGENT_CA = '/var/lib/sidewalk/device/metrics-ca.pem';
/** Boot slot A's FAT partition, mounted (noauto) only for provisioning: the first boot is always slot A. */
export const PROVISION_BOOT_MOUNT = '/boot/firmware';
export const PROVISION_FILE = 'sidewalk-provision.yaml';
/** What is left on the FAT partition after provisioning: the same file without its secrets. */
export const PROVISION_DONE_FILE = 'sidewalk-provision.done.yaml';
/** On the data partition: identity (world-readable), secrets (root:sidewalk 0750), the per-device runtime config. */
export const DEVICE_DIR = 'device';
export const SECRETS_DIR = 'device/secrets';
export const DEVICE_RUNTIME_CONFIG = 'device/runtime.yaml';
export const PROVISIONED_MARKER = 'device/provisioned';
export const PROVISION_STATUS = 'device/provision-status.json';
export const WIFI_CONFIG = 'device/secrets/wpa_supplicant-wlan0.conf';
export const SERVICE_USER = 'sidewalk';
export const SERVICE_GROUPS = ['video', 'gpio', 'dialout'] as const;
