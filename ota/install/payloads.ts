/**
 * Moving an opened artifact's payloads to where they are installed: OS images streamed onto the
 * inactive slot's partitions (and read back), model/app bundles into a store's staging folder.
 * Memory stays bounded by the artifact reader's chunk size.
 */
import { createHash } from 'node:crypto';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { OpenedArtifact } from '../artifact/types.js';
import type { BootControl, PartitionKind, SlotName } from '../boot/types.js';
import { checkVersionName, type VersionStore } from './store.js';

const log = createLogger('ota:payloads');
const READ_CHUNK = 1 << 20;

type Progress = (doneBytes: number, totalBytes: number | null) => void;

const totalOf = (a: OpenedArtifact) => a.info.files.reduce((sum, f) => sum + Math.max(0, f.size), 0) || null;

/** `boot.vfat` / `*.vfat` / `boot*` go to the slot's boot partition, the other file to its root partition. */
export function partitionFor(payloadName: string): PartitionKind {
  return /(^boot\b|\.vfat$)/i.test(payloadName) ? 'boot' : 'root';
}

export async function writeRootfsPayloads(boot: BootControl, slot: SlotName, artifact: OpenedArtifact, onProgress?: Progress): Promise<void> {
  const seen = new Set<PartitionKind>();
  const total = totalOf(artifact);
  let done = 0;
  for await (const payload of artifact.payloads()) {
    const kind = partitionFor(payload.name);
    if (seen.has(kind)) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: more than one ${kind} image (${payload.name})`);
    seen.add(kind);
    const capacity = await boot.partitionSize(slot, kind);
    if (payload.size > capacity) {
      throw new SidewalkError('OTA_IMAGE_TOO_LARGE', `${payload.name}: ${payload.size} bytes do not fit slot ${slot} ${kind} partition (${capacity} bytes)`);
    }
    // The reader checks the payload against the signed manifest while streaming; the read-back is
    // compared with that same manifest checksum, so no third hash pass is needed here.
    const expected = artifact.info.files.find((f) => f.name === payload.name)?.sha256;
    if (expected === undefined) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: ${payload.name} is not in its manifest`);
    const handle = await boot.openPartition(slot, kind, 'r+');
    let offset = 0;
    try {
      for await (const chunk of payload.stream as AsyncIterable<Buffer>) {
        if (offset + chunk.length > capacity) throw new SidewalkError('OTA_IMAGE_TOO_LARGE', `${payload.name}: more than ${capacity} bytes for slot ${slot} ${kind}`);
        await handle.write(chunk, offset);
        offset += chunk.length;
        done += chunk.length;
        onProgress?.(done, total);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await verifyPartition(boot, slot, kind, offset, expected);
    log.info(`wrote ${payload.name} (${offset} bytes) to slot ${slot} ${kind}`);
  }
  if (!seen.has('root')) throw new SidewalkError('OTA_PAYLOAD_LAYOUT', `artifact ${artifact.info.name}: no root filesystem image`);
}

/** Reads the written range back: a card that lost writes is caught before we boot it. */
async function verifyPartition(boot: BootControl, slot: SlotName, kind: PartitionKind, bytes: number, sha256: string): Promise<void> {
  const handle = await boot.openPartition(slot, kind, 'r');
  const hash = createHash('sha256');
  const buf = Buffer.alloc(Math.min(READ_CHUNK, Math.max(bytes, 1)));
  try {
    for (let pos = 0; pos < bytes; ) {
      const n = await handle.read(buf.subarray(0, Math.min(buf.length, bytes - pos)), pos);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    await handle.close();
  }
  const got = hash.digest('hex');
  if (got !== sha256) throw new SidewalkError('OTA_SLOT_VERIFY', `slot ${slot} ${kind}: read back sha256 ${got}, the artifact's is ${sha256}`);
}

/**
 * Stages a model (files + manifest.json, checked against the manifest) or an app (a tarball) and
 * moves it to versions/<version>. Returns the version: the manifest's for a model (which must equal
 * the artifact's declared one, if any), the declared one or the artifact name for an app.
 */
export async function stageBundle(store: VersionStore, artifact: OpenedArtifact, declared: string | null, onProgress?: Progress): Promise<string> {
  await store.beginStaging();
  const total = totalOf(artifact);
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    onProgress?.(done, total);
  };
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
  }
  await store.finishStaging(version);
  return version;
}
