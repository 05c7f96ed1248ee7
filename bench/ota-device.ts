/**
 * A simulated device for the OTA benchmark, built like test/ota/sim-device.ts but with a large,
 * sparse inactive root slot (SimulatedFirmware.createDisk allocates every partition in memory, which
 * would distort the RSS measurement), and the real artifact reader behind the Updater, opened as
 * ota/device.ts opens it (openArtifactFile).
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runMenderArtifact } from '../build/mender-artifact-cli.js';
import { openArtifactFile } from '../ota/artifact/index.js';
import { formatAutoboot } from '../ota/boot/autoboot.js';
import { makeSimImage } from '../ota/boot/sim-image.js';
import { SimulatedBootControl, SimulatedFirmware, simulatedLayout } from '../ota/boot/simulated.js';
import { nodeFs } from '../ota/fs.js';
import { VersionStore } from '../ota/install/store.js';
import { Updater, type ProgressEvent } from '../ota/install/updater.js';
import { writeRootfsPayloads } from '../ota/install/payloads.js';
import type { SlotVerify } from '../ota/install/slot-verify.js';
import type { OpenedArtifact } from '../ota/artifact/types.js';

export const DEVICE_TYPE = 'raspberrypi4';
const CURRENT = { artifact_name: 'os-1.0', 'rootfs-image.version': '1.0' };

/** Writes `bytes` of random (or, with `zero`, sparse zero) content. */
export async function writePayload(path: string, bytes: number, content: 'random' | 'zero'): Promise<void> {
  const handle = await open(path, 'w');
  try {
    if (content === 'zero') {
      await handle.truncate(bytes);
      return;
    }
    const { randomFillSync } = await import('node:crypto');
    const chunk = Buffer.alloc(4 << 20);
    for (let off = 0; off < bytes; off += chunk.length) {
      const n = Math.min(chunk.length, bytes - off);
      randomFillSync(chunk, 0, n);
      await handle.write(chunk, 0, n, off);
    }
  } finally {
    await handle.close();
  }
}

/** A rootfs-image artifact of one file, uncompressed, written by the real mender-artifact CLI. */
export async function writeRootfsArtifact(payload: string, output: string): Promise<void> {
  const r = await runMenderArtifact(['write', 'rootfs-image', '-t', DEVICE_TYPE, '-n', 'os-2.0', '-f', payload, '--compression', 'none', '--no-progress', '-o', output]);
  if (r.code !== 0 || r.stderr.trim() !== '') throw new Error(`mender-artifact write failed (exit ${r.code}): ${r.stderr.trim()}`);
}

export interface BenchDevice {
  updater: Updater;
  boot: SimulatedBootControl;
  /** The inactive slot's root partition file the installer writes. */
  targetRoot: string;
}

/** Slot A committed and booted (small sim images); slot B's root is a sparse file of `rootBytes`. */
export async function makeDevice(dir: string, rootBytes: number, onProgress?: (e: ProgressEvent) => void): Promise<BenchDevice> {
  const layout = simulatedLayout(join(dir, 'disk'));
  await mkdir(layout.selectorDir, { recursive: true });
  await writeFile(join(layout.selectorDir, 'autoboot.txt'), formatAutoboot(layout.slots.A.bootPartition, layout.slots.B.bootPartition));
  const padded = (image: Buffer, bytes: number) => Buffer.concat([image, Buffer.alloc(bytes - image.length)]);
  await writeFile(layout.slots.A.bootDevice, padded(makeSimImage({ version: 'boot-1.0', bodyBytes: 24 * 1024 }), 64 * 1024));
  await writeFile(layout.slots.A.rootDevice, padded(makeSimImage({ version: '1.0', bodyBytes: 200 * 1024 }), 320 * 1024));
  await writeFile(layout.slots.B.bootDevice, Buffer.alloc(64 * 1024));
  await writePayload(layout.slots.B.rootDevice, rootBytes, 'zero');
  const firmware = new SimulatedFirmware(layout);
  const booted = firmware.boot();
  if (!booted.ok) throw new Error(`simulated device does not boot: ${booted.reason}`);

  const stateDir = join(dir, 'data', 'ota');
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, 'provides.json'), JSON.stringify({ current: CURRENT, previous: null }));
  const boot = new SimulatedBootControl({ fs: nodeFs, firmware });
  const updater = new Updater({
    fs: nodeFs,
    stateDir,
    stores: { model: new VersionStore(nodeFs, join(stateDir, 'stores', 'model'), 'model'), app: new VersionStore(nodeFs, join(stateDir, 'stores', 'app'), 'app') },
    boot,
    openArtifact: openBenchArtifact,
    health: { os: async () => ({ ok: true, polls: 1 }), model: async () => ({ ok: true, polls: 1 }), app: async () => ({ ok: true, polls: 1 }) },
    notifyRuntime: async () => {},
    isMoving: async () => false,
    lockPollMs: 0,
    sleep: async () => {},
    ...(onProgress ? { onProgress } : {}),
  });
  await updater.init();
  return { updater, boot, targetRoot: layout.slots.B.rootDevice };
}

/** As the Updater opens it (ota/device.ts), with no keys and the bench device's provides. */
function openBenchArtifact(path: string): Promise<OpenedArtifact> {
  return openArtifactFile(path, { publicKeys: [], allowUnsigned: true, deviceType: DEVICE_TYPE, deviceProvides: CURRENT });
}

/**
 * Only the slot write of an install (open, stream, fsync, read-back with `verifySlot`), on the
 * device's inactive slot B, without the journal: how much of an install each verify_slot policy costs.
 */
export async function writeSlotOnly(device: BenchDevice, artifact: string, verifySlot: SlotVerify): Promise<number> {
  const t0 = performance.now();
  const opened = await openBenchArtifact(artifact);
  try {
    await writeRootfsPayloads(device.boot, 'B', opened, undefined, { verifySlot });
  } finally {
    await opened.close();
  }
  return (performance.now() - t0) / 1000;
}

/** Installs `artifact` up to the trial reboot; returns seconds. Throws unless the updater asks for the reboot. */
export async function installRootfs(device: BenchDevice, artifact: string): Promise<number> {
  const t0 = performance.now();
  const outcome = await device.updater.install(artifact);
  const seconds = (performance.now() - t0) / 1000;
  const { state, update } = device.updater.status();
  if (outcome.kind !== 'reboot' || state !== 'reboot' || update?.kind !== 'rootfs' || update.targetSlot !== 'B') {
    throw new Error(`install did not reach the trial reboot: outcome ${JSON.stringify(outcome)}, state ${state}, last ${JSON.stringify(device.updater.status().last)}`);
  }
  return seconds;
}

/** The artifact reader alone (parse, stream, sha256 check), as the installer opens it: seconds. */
export async function readArtifactOnly(artifact: string): Promise<number> {
  const t0 = performance.now();
  const opened = await openBenchArtifact(artifact);
  try {
    for await (const p of opened.payloads()) for await (const chunk of p.chunks()) chunk.release();
  } finally {
    await opened.close();
  }
  return (performance.now() - t0) / 1000;
}
