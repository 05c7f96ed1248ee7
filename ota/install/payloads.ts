/**
 * Moving an opened artifact's payloads to where they are installed: OS images streamed onto the
 * inactive slot's partitions (and read back), model/app bundles into a store's staging folder.
 * Memory stays bounded: by the reader's buffer pool for an artifact file, by its chunk size times
 * the write window for a stream.
 */
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { OTA_DEFAULTS } from '../config.js';
import type { OpenedArtifact } from '../artifact/types.js';
import type { BootControl, PartitionKind, SlotName } from '../boot/types.js';
import { SlotChecker, type SlotVerify } from './slot-verify.js';
import { checkAppManifest } from './app-manifest.js';
import { checkVersionName, type VersionStore } from './store.js';
import { WriteWindow } from './write-window.js';

const log = createLogger('ota:payloads');

type Progress = (doneBytes: number, totalBytes: number | null) => void;

export interface SlotWriteOptions {
  verifySlot?: SlotVerify;
}

/** Adds up the bytes moved so far and reports them against the artifact's payload total. */
function progressCounter(artifact: OpenedArtifact, onProgress?: Progress): (bytes: number) => void {
  const total = artifact.info.files.reduce((sum, f) => sum + Math.max(0, f.size), 0) || null;
  let done = 0;
  return (bytes) => {
    done += bytes;
    onProgress?.(done, total);
  };
}

/** `boot.vfat` / `*.vfat` / `boot*` go to the slot's boot partition, the other file to its root partition. */
export function partitionFor(payloadName: string): PartitionKind {
  return /(^boot\b|\.vfat$)/i.test(payloadName) ? 'boot' : 'root';
}

/**
 * Streams an OS artifact's images onto slot `slot`'s partitions (one root image, an optional boot
 * image), fsyncs each and reads it back as verify_slot says. Throws before the caller may journal
 * the slot as written: on a too-large or misplaced image, a failed write, a checksum or a read-back.
 */
export async function writeRootfsPayloads(boot: BootControl, slot: SlotName, artifact: OpenedArtifact, onProgress?: Progress, options: SlotWriteOptions = {}): Promise<void> {
  const verify = options.verifySlot ?? OTA_DEFAULTS.boot.verify_slot;
  const seen = new Set<PartitionKind>();
  const onWritten = progressCounter(artifact, onProgress);
  for await (const payload of artifact.payloads()) {
    const kind = partitionFor(payload.name);
    if (seen.has(kind)) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: more than one ${kind} image (${payload.name})`);
    seen.add(kind);
    const capacity = await boot.partitionSize(slot, kind);
    if (payload.size > capacity) {
      throw new SidewalkError('OTA_IMAGE_TOO_LARGE', `${payload.name}: ${payload.size} bytes do not fit slot ${slot} ${kind} partition (${capacity} bytes)`);
    }
    // The reader checks the payload against the signed manifest while streaming; a whole-image
    // read-back is compared with that same checksum, sampled ranges with their hashes taken here.
    const expected = artifact.info.files.find((f) => f.name === payload.name)?.sha256;
    if (expected === undefined) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: ${payload.name} is not in its manifest`);
    const checker = new SlotChecker(boot, slot, kind, verify, payload.size, expected);
    const handle = await boot.openPartition(slot, kind, 'r+');
    const window = new WriteWindow(handle);
    let offset = 0;
    const t0 = performance.now();
    let tSync = t0;
    try {
      for await (const chunk of payload.chunks()) {
        if (offset + chunk.data.length > capacity) throw new SidewalkError('OTA_IMAGE_TOO_LARGE', `${payload.name}: more than ${capacity} bytes for slot ${slot} ${kind}`);
        checker.update(chunk.data, offset);
        await window.write(chunk, offset, onWritten);
        offset += chunk.data.length;
      }
      await window.flush();
      tSync = performance.now();
      // Durable before the caller journals the slot as written (power-cut contract).
      await handle.sync();
    } catch (err) {
      // Nothing may still be writing when the handle closes; a write that failed first wins over a
      // later stream error (as in a serial loop, which would never have pulled that far).
      await window.settle();
      throw window.failure ? window.failure.error : err;
    } finally {
      await handle.close();
    }
    const tRead = performance.now();
    if (offset !== payload.size) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `${payload.name}: streamed ${offset} bytes, its tar header says ${payload.size}`);
    const checked = await checker.finish();
    log.info(`wrote ${payload.name} (${offset} bytes) to slot ${slot} ${kind}, ${checked} (verify_slot: ${verify})`, {
      streamMs: Math.round(tSync - t0),
      fsyncMs: Math.round(tRead - tSync),
      readBackMs: Math.round(performance.now() - tRead),
    });
  }
  if (!seen.has('root')) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: no root filesystem image`);
}

/**
 * Stages a model (files + manifest.json, checked against the manifest) or an app (a tarball, checked
 * against its bundle-manifest.json when it has one) and
 * moves it to versions/<version>. Returns the version: the manifest's for a model (which must equal
 * the artifact's declared one, if any), the declared one or the artifact name for an app.
 */
export async function stageBundle(store: VersionStore, artifact: OpenedArtifact, declared: string | null, onProgress?: Progress): Promise<string> {
  await store.beginStaging();
  const onBytes = progressCounter(artifact, onProgress);
  for await (const payload of artifact.payloads()) {
    if (store.kind === 'app') await store.stageTar(payload.stream, payload.name, onBytes);
    else await store.stageFile(payload.name, payload.stream as AsyncIterable<Buffer>, onBytes);
  }
  let version: string;
  if (store.kind === 'model') {
    version = await store.validateModel();
    if (declared !== null && declared !== version) {
      throw new SidewalkError('OTA_MODEL_INVALID', `artifact ${artifact.info.name} declares version ${declared}, its manifest.json says ${version}`);
    }
  } else {
    version = checkVersionName(declared ?? artifact.info.name, `artifact ${artifact.info.name}`);
    try {
      await checkAppManifest(store.fs, store.stagingDir, store.staged, declared);
    } catch (err) {
      await store.discardStaging();
      throw err;
    }
  }
  await store.finishStaging(version);
  return version;
}
