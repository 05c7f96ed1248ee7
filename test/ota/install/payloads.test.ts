import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeRootfsPayloads } from '../../../ota/install/payloads.js';
import { SAMPLE_BYTES, SAMPLE_COUNT, sampleRanges, type SlotVerify } from '../../../ota/install/slot-verify.js';
import type { BootControl } from '../../../ota/boot/types.js';
import type { OtaFileHandle } from '../../../ota/fs.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { createPrng } from '../../../lib/prng.js';
import { fakeArtifact, openFake, osArtifact, BOOT_BYTES, ROOT_BYTES } from '../sim-device.js';

const MiB = 1 << 20;

interface SlotFaults {
  /** Writes at or beyond this offset are acknowledged and lost (a fake-capacity card). */
  storeBelow?: number;
  /** Writes at or beyond this offset land at offset - wrapAt (a card that wraps around). */
  wrapAt?: number;
  /** The write at this offset fails with EIO. */
  failAt?: number;
  /** Seed: each write completes after a random number of event-loop turns (out of order). */
  jitterSeed?: number;
}

interface Counters {
  reads: number;
  readBytes: number;
  syncs: number;
  /** fsyncs with no write in flight: the final one, after the whole image was written (background ones run beside writes). */
  syncsIdle: number;
  inFlight: number;
  maxInFlight: number;
  maxInFlightBytes: number;
  inFlightAtClose: number;
}

/** Partitions in memory, with the faults of cards that acknowledge writes they never store. */
function memoryBoot(sizes: { boot: number; root: number }, faults: SlotFaults = {}): { boot: BootControl; parts: Map<string, Buffer>; n: Counters } {
  const parts = new Map([
    ['B:boot', Buffer.alloc(sizes.boot)],
    ['B:root', Buffer.alloc(sizes.root)],
  ]);
  const n: Counters = { reads: 0, readBytes: 0, syncs: 0, syncsIdle: 0, inFlight: 0, maxInFlight: 0, maxInFlightBytes: 0, inFlightAtClose: 0 };
  const jitter = faults.jitterSeed === undefined ? null : createPrng(faults.jitterSeed);
  let inFlightBytes = 0;
  const turns = async (k: number) => {
    for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
  };
  const boot = {
    partitionSize: async (slot: string, kind: string) => parts.get(`${slot}:${kind}`)!.length,
    openPartition: async (slot: string, kind: string): Promise<OtaFileHandle> => {
      const part = parts.get(`${slot}:${kind}`)!;
      return {
        write: async (data, position = 0) => {
          n.inFlight++;
          inFlightBytes += data.length;
          n.maxInFlight = Math.max(n.maxInFlight, n.inFlight);
          n.maxInFlightBytes = Math.max(n.maxInFlightBytes, inFlightBytes);
          try {
            if (jitter) await turns(Math.floor(jitter() * 4));
            if (position === faults.failAt) throw Object.assign(new Error(`EIO: i/o error, write at ${position}`), { code: 'EIO' });
            if (faults.storeBelow !== undefined && position >= faults.storeBelow) return;
            part.set(data, faults.wrapAt !== undefined && position >= faults.wrapAt ? position - faults.wrapAt : position);
          } finally {
            n.inFlight--;
            inFlightBytes -= data.length;
          }
        },
        read: async (buffer, position) => {
          n.reads++;
          const got = part.copy(buffer, 0, position, Math.min(part.length, position + buffer.length));
          n.readBytes += got;
          return got;
        },
        sync: async () => {
          n.syncs++;
          if (n.inFlight === 0) n.syncsIdle++;
        },
        close: async () => {
          n.inFlightAtClose = Math.max(n.inFlightAtClose, n.inFlight);
        },
      };
    },
  };
  return { boot: boot as unknown as BootControl, parts, n };
}

const small = { boot: BOOT_BYTES, root: ROOT_BYTES };
const verifyCode = (part: string) => (err: unknown) => isSidewalkError(err, 'OTA_SLOT_VERIFY') && err.message.includes(`slot B ${part}`);

/** An OS artifact whose root image (24 MiB) is larger than the sampled ranges together. */
const BIG_ROOT = 24 * MiB;
const bigArtifact = fakeArtifact('rootfs-image', 'os-big', [{ name: 'root.ext4', data: randomBytes(BIG_ROOT) }]);
const big = { boot: BOOT_BYTES, root: 32 * MiB };

describe('writing OS payloads onto a slot', () => {
  test('the written slot is read back and must match the artifact checksum (full and sampled)', async () => {
    const artifact = osArtifact('2.0');
    const root = artifact.files.find((f) => f.name === 'root.ext4')!.data;
    for (const verifySlot of ['full', 'sampled'] as SlotVerify[]) {
      const ok = memoryBoot(small);
      await writeRootfsPayloads(ok.boot, 'B', openFake(artifact), undefined, { verifySlot });
      assert.deepEqual(ok.parts.get('B:root')!.subarray(0, root.length), root);
      assert.ok(ok.n.readBytes >= root.length, `${verifySlot}: a small image is read back whole (${ok.n.readBytes} bytes)`);

      const lossy = memoryBoot(small, { storeBelow: 0 });
      await assert.rejects(writeRootfsPayloads(lossy.boot, 'B', openFake(artifact), undefined, { verifySlot }), verifyCode('boot'));
    }
    // sampled is the default
    const lossy = memoryBoot(small, { storeBelow: 0 });
    await assert.rejects(writeRootfsPayloads(lossy.boot, 'B', openFake(artifact)), verifyCode('boot'));
  });

  test('verify_slot: off skips the read-back', async () => {
    const lossy = memoryBoot(small, { storeBelow: 0 });
    await writeRootfsPayloads(lossy.boot, 'B', openFake(osArtifact('2.0')), undefined, { verifySlot: 'off' });
    assert.equal(lossy.n.reads, 0);
    assert.equal(lossy.n.syncs, 2, 'both partitions are still fsync-ed');
  });

  test('a fake-capacity card (writes beyond 20 MiB lost) fails the sampled and the full read-back', async () => {
    const sampled = memoryBoot(big, { storeBelow: 20 * MiB });
    await assert.rejects(writeRootfsPayloads(sampled.boot, 'B', openFake(bigArtifact), undefined, { verifySlot: 'sampled' }), (err) => {
      assert.ok(verifyCode('root')(err), String(err));
      assert.match((err as Error).message, /bytes \d+\.\.\d+ read back with sha256/);
      return true;
    });
    const full = memoryBoot(big, { storeBelow: 20 * MiB });
    await assert.rejects(writeRootfsPayloads(full.boot, 'B', openFake(bigArtifact), undefined, { verifySlot: 'full' }), verifyCode('root'));
    assert.equal(full.n.readBytes, BIG_ROOT, 'full reads the whole image back');
  });

  test('a card that wraps writes around to its start fails the sampled read-back at the first range', async () => {
    const wrap = memoryBoot(big, { wrapAt: 20 * MiB });
    await assert.rejects(writeRootfsPayloads(wrap.boot, 'B', openFake(bigArtifact)), (err) => {
      assert.ok(verifyCode('root')(err), String(err));
      assert.match((err as Error).message, new RegExp(`bytes 0\\.\\.${SAMPLE_BYTES} read back`));
      return true;
    });
  });

  test('a good slot passes the sampled read-back, which reads only the sample ranges', async () => {
    const ok = memoryBoot(big, { jitterSeed: 7 });
    const progress: number[] = [];
    await writeRootfsPayloads(ok.boot, 'B', openFake(bigArtifact), (done) => progress.push(done));
    assert.deepEqual(ok.parts.get('B:root')!.subarray(0, BIG_ROOT), bigArtifact.files[0]!.data);
    assert.equal(ok.n.readBytes, SAMPLE_COUNT * SAMPLE_BYTES);
    assert.equal(progress.at(-1), BIG_ROOT);
    assert.ok(
      progress.every((d, i) => i === 0 || d > progress[i - 1]!),
      'progress only grows',
    );
  });

  test('writes overlap the stream within a bounded window, completing out of order', async () => {
    const ok = memoryBoot(big, { jitterSeed: 11 });
    await writeRootfsPayloads(ok.boot, 'B', openFake(bigArtifact), undefined, { verifySlot: 'full' });
    assert.deepEqual(ok.parts.get('B:root')!.subarray(0, BIG_ROOT), bigArtifact.files[0]!.data);
    assert.ok(ok.n.maxInFlight > 1, `writes in flight at once: ${ok.n.maxInFlight}`);
    assert.ok(ok.n.maxInFlight <= 16 && ok.n.maxInFlightBytes <= 4 * MiB, `window: ${ok.n.maxInFlight} writes, ${ok.n.maxInFlightBytes} bytes`);
    assert.equal(ok.n.inFlightAtClose, 0);
  });

  test('a write that fails in flight fails the install with its error; nothing is still writing when the slot closes', async () => {
    const failing = memoryBoot(big, { jitterSeed: 3, failAt: 5 * MiB });
    await assert.rejects(writeRootfsPayloads(failing.boot, 'B', openFake(bigArtifact)), (err) => (err as NodeJS.ErrnoException).code === 'EIO');
    assert.equal(failing.n.inFlightAtClose, 0);
    assert.equal(failing.n.syncs, 0, 'a failed slot is not fsync-ed');
    assert.equal(failing.n.reads, 0, 'nor read back');
  });

  test('a payload that fails its streaming checksum never reaches the fsync or the read-back', async () => {
    const { boot, n } = memoryBoot(big, { jitterSeed: 5 });
    await assert.rejects(writeRootfsPayloads(boot, 'B', openFake(bigArtifact, 'root.ext4')), (err) => isSidewalkError(err, 'ARTIFACT_PAYLOAD_CHECKSUM'));
    assert.equal(n.inFlightAtClose, 0);
    assert.equal(n.syncsIdle, 0, 'the final fsync is never reached');
    assert.equal(n.reads, 0);
  });
});

describe('sample ranges', () => {
  test('16 ranges of SAMPLE_BYTES: the first and the last, the rest spread evenly and 4 KiB aligned', () => {
    const size = 1000 * MiB + 12345;
    const ranges = sampleRanges(size);
    assert.equal(ranges.length, SAMPLE_COUNT);
    assert.deepEqual(ranges[0], { start: 0, end: SAMPLE_BYTES });
    assert.deepEqual(ranges.at(-1), { start: size - SAMPLE_BYTES, end: size });
    for (const [i, r] of ranges.entries()) {
      assert.equal(r.end - r.start, SAMPLE_BYTES);
      if (i > 0 && i < ranges.length - 1) assert.equal(r.start % 4096, 0);
      if (i > 0) assert.ok(r.start >= ranges[i - 1]!.end, `range ${i} does not overlap the one before`);
    }
    assert.deepEqual(sampleRanges(size), ranges, 'deterministic');
  });

  test('an image no larger than the samples together is one range: all of it', () => {
    const together = SAMPLE_COUNT * SAMPLE_BYTES;
    assert.deepEqual(sampleRanges(together - 3), [{ start: 0, end: together - 3 }]);
    assert.deepEqual(sampleRanges(together), [{ start: 0, end: together }]);
    assert.equal(sampleRanges(together + 1).length, SAMPLE_COUNT);
    assert.deepEqual(sampleRanges(0), []);
  });
});
