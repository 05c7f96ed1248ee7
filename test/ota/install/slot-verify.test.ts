import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_BYTES, SAMPLE_COUNT, SlotChecker, sampleRanges, type SlotVerify } from '../../../ota/install/slot-verify.js';
import { writeRootfsPayloads } from '../../../ota/install/payloads.js';
import type { BootControl, SlotConfig } from '../../../ota/boot/types.js';
import { nodeFs } from '../../../ota/fs.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { fakeArtifact, openFake } from '../sim-device.js';
import { makeTempDir } from '../../helpers/temp.js';

/** The read-back on partition files: it reads the device path from the medium, not what the write handle saw. */
const MiB = 1 << 20;
/** Larger than the samples together, and not a multiple of 4 KiB: the last range is unaligned. */
const IMAGE_BYTES = 6 * MiB + 1000;

let dir: string;
let directWorks: boolean;

before(async () => {
  dir = await makeTempDir('sidewalk-slot-verify-');
  const probe = join(dir, 'probe');
  await writeFile(probe, Buffer.alloc(4096));
  directWorks = await open(probe, constants.O_RDONLY | constants.O_DIRECT).then(
    async (h) => {
      await h.close();
      return true;
    },
    () => false,
  );
});
after(() => rm(dir, { recursive: true, force: true }));

/**
 * Slot B's partitions as files at their device paths. With `loseWrites`, writes go to another file
 * (a card's cache that never reaches the medium): the device path keeps its old bytes.
 */
async function fileBoot(name: string, options: { loseWrites?: boolean } = {}): Promise<BootControl> {
  const part = (p: string) => join(dir, `${name}-${p}`);
  for (const p of ['b-boot', 'b-root']) await writeFile(part(p), Buffer.alloc(p === 'b-root' ? 8 * MiB : MiB));
  const slot = (boot: string, root: string, n: number): SlotConfig => ({ bootPartition: n, bootDevice: part(boot), rootDevice: part(root) });
  const slots = { A: slot('a-boot', 'a-root', 2), B: slot('b-boot', 'b-root', 3) };
  const path = (kind: string) => (kind === 'boot' ? slots.B.bootDevice : slots.B.rootDevice);
  return {
    slots,
    partitionSize: async (_slot: string, kind: string) => (await stat(path(kind))).size,
    openPartition: async (_slot: string, kind: string, mode: 'r' | 'r+') => {
      if (mode === 'r+' && options.loseWrites) {
        await writeFile(`${path(kind)}.cache`, '');
        return nodeFs.open(`${path(kind)}.cache`, 'r+');
      }
      return nodeFs.open(path(kind), mode);
    },
  } as unknown as BootControl;
}

const image = randomBytes(IMAGE_BYTES);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `data` at the start of slot B's root file and checks it with `policy`; returns finish()'s description. */
async function writeAndCheck(boot: BootControl, policy: SlotVerify, data: Buffer, tamper?: (path: string) => Promise<void>, tryDirect = true): Promise<string> {
  const checker = new SlotChecker(boot, 'B', 'root', policy, data.length, sha256(data), tryDirect);
  const handle = await boot.openPartition('B', 'root', 'r+');
  for (let off = 0; off < data.length; off += MiB) {
    const chunk = data.subarray(off, off + MiB);
    checker.update(chunk, off);
    await handle.write(chunk, off);
  }
  await handle.sync();
  await handle.close();
  await tamper?.(boot.slots.B.rootDevice);
  return checker.finish();
}

describe('slot read-back from the medium', () => {
  test('a good slot passes sampled and full read-backs, through O_DIRECT where the file system allows it', async () => {
    for (const policy of ['sampled', 'full'] as const) {
      const how = await writeAndCheck(await fileBoot(`good-${policy}`), policy, image);
      assert.match(how, directWorks ? /\(O_DIRECT\)$/ : /\(cache dropped\)$/, how);
      assert.match(how, policy === 'sampled' ? new RegExp(`${SAMPLE_COUNT} x ${SAMPLE_BYTES} bytes`) : /all of it/);
    }
  });

  test('without O_DIRECT the read-back drops the cached pages first and catches the same change', async () => {
    const how = await writeAndCheck(await fileBoot('cached'), 'sampled', image, undefined, false);
    assert.match(how, /\(cache dropped\)$/, how);
    await assert.rejects(
      writeAndCheck(
        await fileBoot('cached-bad'),
        'full',
        image,
        async (path) => {
          const h = await open(path, 'r+');
          await h.write(Buffer.from([image[4096]! ^ 1]), 0, 1, 4096);
          await h.sync();
          await h.close();
        },
        false,
      ),
      (err) => isSidewalkError(err, 'OTA_SLOT_VERIFY') && /read back sha256/.test(err.message),
    );
  });

  test('a changed byte at the unaligned end of the image, at its start or in a middle range fails the read-back', async () => {
    const middle = sampleRanges(IMAGE_BYTES)[7]!;
    const flip = (at: number) => async (path: string) => {
      const h = await open(path, 'r+');
      const b = Buffer.alloc(1);
      await h.read(b, 0, 1, at);
      b[0]! ^= 0xff;
      await h.write(b, 0, 1, at);
      await h.sync();
      await h.close();
    };
    for (const [what, at, range] of [
      ['last byte', IMAGE_BYTES - 1, `${IMAGE_BYTES - SAMPLE_BYTES}\\.\\.${IMAGE_BYTES}`],
      ['first byte', 0, `0\\.\\.${SAMPLE_BYTES}`],
      ['last byte of a middle range', middle.end - 1, `${middle.start}\\.\\.${middle.end}`],
    ] as const) {
      await assert.rejects(writeAndCheck(await fileBoot(`flip-${at}`), 'sampled', image, flip(at)), (err) => {
        assert.ok(isSidewalkError(err, 'OTA_SLOT_VERIFY'), `${what}: ${String(err)}`);
        assert.match(err.message, new RegExp(`bytes ${range} read back`), what);
        return true;
      });
    }
  });

  test('writes that never reach the medium fail the install, whatever the write handle saw', async () => {
    const artifact = fakeArtifact('rootfs-image', 'os-lost', [{ name: 'root.ext4', data: image }]);
    for (const verifySlot of ['sampled', 'full'] as const) {
      const boot = await fileBoot(`lost-${verifySlot}`, { loseWrites: true });
      await assert.rejects(writeRootfsPayloads(boot, 'B', openFake(artifact), undefined, { verifySlot }), (err) => isSidewalkError(err, 'OTA_SLOT_VERIFY'));
    }
  });
});
