import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeRootfsPayloads } from '../../../ota/install/payloads.js';
import type { BootControl } from '../../../ota/boot/types.js';
import type { OtaFileHandle } from '../../../ota/fs.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { openFake, osArtifact, BOOT_BYTES, ROOT_BYTES } from '../sim-device.js';

/** Partitions in memory; `loseWrites` models a card that acknowledges writes it never stores. */
function memoryBoot(loseWrites: boolean): { boot: BootControl; parts: Map<string, Buffer> } {
  const parts = new Map([['B:boot', Buffer.alloc(BOOT_BYTES)], ['B:root', Buffer.alloc(ROOT_BYTES)]]);
  const boot = {
    partitionSize: async (slot: string, kind: string) => parts.get(`${slot}:${kind}`)!.length,
    openPartition: async (slot: string, kind: string): Promise<OtaFileHandle> => {
      const part = parts.get(`${slot}:${kind}`)!;
      return {
        write: async (data, position = 0) => {
          if (!loseWrites) part.set(data, position);
        },
        read: async (buffer, position) => part.copy(buffer, 0, position, Math.min(part.length, position + buffer.length)),
        sync: async () => {},
        close: async () => {},
      };
    },
  };
  return { boot: boot as unknown as BootControl, parts };
}

test('the written slot is read back and must match the artifact checksum', async () => {
  const artifact = osArtifact('2.0');
  const ok = memoryBoot(false);
  await writeRootfsPayloads(ok.boot, 'B', openFake(artifact));
  const root = artifact.files.find((f) => f.name === 'root.ext4')!.data;
  assert.deepEqual(ok.parts.get('B:root')!.subarray(0, root.length), root);

  const lossy = memoryBoot(true);
  await assert.rejects(writeRootfsPayloads(lossy.boot, 'B', openFake(artifact)), (err) => isSidewalkError(err, 'OTA_SLOT_VERIFY') && /slot B boot/.test(err.message));
});

test('a payload that fails its streaming checksum never reaches the read-back', async () => {
  const { boot } = memoryBoot(false);
  await assert.rejects(writeRootfsPayloads(boot, 'B', openFake(osArtifact('2.0'), 'root.ext4')), (err) => isSidewalkError(err, 'ARTIFACT_PAYLOAD_CHECKSUM'));
});
