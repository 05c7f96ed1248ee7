import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { validateOtaConfig } from '../../../ota/config.js';
import { createBootControl, simulatedFirmware } from '../../../ota/device.js';
import { DeviceAutobootFile } from '../../../ota/boot/autoboot-device.js';
import { locateFile, parseSync, readFatFile, readVolume, rewriteInPlace } from '../../../ota/boot/fat.js';
import { RealBootControl } from '../../../ota/boot/real.js';
import { makeSimImage } from '../../../ota/boot/sim-image.js';
import { createFatImage, SimulatedBootControl, SimulatedFirmware, simulatedLayout } from '../../../ota/boot/simulated.js';
import type { SlotName } from '../../../ota/boot/types.js';
import { nodeFs } from '../../../ota/fs.js';
import { AUTOBOOT_A, AUTOBOOT_B, changedSectors, fsckFat, mtools, mtype } from './fat-tools.js';
import { makeTempDirSync } from '../../helpers/temp.js';

const slots = simulatedLayout('/nonexistent').slots;

describe('FAT reader and in-place rewrite (images made by mkfs.fat + mcopy)', () => {
  let dir: string;
  before(() => {
    dir = makeTempDirSync('sidewalk-fat-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const fatBits of [12, 16, 32] as const) {
    test(`FAT${fatBits}: finds AUTOBOOT.TXT among long names and deleted entries, rewrites exactly one sector, mtype and fsck.fat agree`, async () => {
      const img = join(dir, `fat${fatBits}.img`);
      // A deleted entry (marked 0xE5, not the end of the directory), long file names, and on FAT32 (512-byte
      // clusters at this size) enough files before it that the root directory is a chain of several clusters.
      const filler = Object.fromEntries(Array.from({ length: fatBits === 32 ? 24 : 2 }, (_, i) => [`f${i}.txt`, `${i}`]));
      createFatImage(img, { 'config.txt': 'arm_64bit=1\n', 'deleted.txt': 'gone', 'A rather long file name.txt': 'x'.repeat(3000), ...filler, 'autoboot.txt': AUTOBOOT_A }, { fatBits });
      mtools('mdel', [img, '::deleted.txt']);
      const image = readFileSync(img);
      const file = parseSync(locateFile('autoboot.txt', img), image);
      assert.equal(file.volume.fatBits, fatBits);
      assert.equal(file.size, AUTOBOOT_A.length);
      assert.equal(file.extents.length, 1);
      if (fatBits === 32) assert.ok(file.entryOffset >= file.volume.dataOffset + file.volume.bytesPerCluster, "entry beyond the root directory's first cluster");
      assert.equal(image.toString('utf8', file.extents[0]!.offset, file.extents[0]!.offset + file.size), AUTOBOOT_A);
      assert.equal((await readFatFile(nodeFs, img, 'AUTOBOOT.TXT')).content.toString(), AUTOBOOT_A);

      assert.deepEqual(await rewriteInPlace(nodeFs, img, 'autoboot.txt', Buffer.from(AUTOBOOT_B)), { written: true });
      assert.equal(mtype(img, 'autoboot.txt'), AUTOBOOT_B);
      const after = readFileSync(img);
      assert.deepEqual(changedSectors(image, after), [Math.floor(file.extents[0]!.offset / 512)], 'only the data sector changed');
      const fsck = fsckFat(img);
      assert.ok(fsck.clean, fsck.output);
      assert.deepEqual(await rewriteInPlace(nodeFs, img, 'autoboot.txt', Buffer.from(AUTOBOOT_B)), { written: false }, 'same content: no write');
    });
  }

  test('a FAT32 volume below the recommended size (mkfs.fat warns) is read as FAT32, like Linux does', () => {
    // mtools goes by the cluster count (FAT16 here) and cannot even mcopy into it, so only the empty root is checked.
    const img = join(dir, 'small32.img');
    execFileSync('mkfs.fat', ['-C', '-F', '32', img, String(16 * 1024)], { stdio: 'pipe' });
    const image = readFileSync(img);
    assert.equal(parseSync(readVolume(img), image).fatBits, 32);
    assert.throws(
      () => parseSync(locateFile('autoboot.txt', img), image),
      (e) => isSidewalkError(e, 'OTA_AUTOBOOT_MISSING'),
    );
  });

  test('bytes past the end of the file in its sector are preserved (read-modify-write)', async () => {
    const img = join(dir, 'tail.img');
    createFatImage(img, { 'autoboot.txt': AUTOBOOT_A });
    const file = parseSync(locateFile('autoboot.txt', img), readFileSync(img));
    const raw = readFileSync(img);
    raw.write('SLACK', file.extents[0]!.offset + file.size);
    writeFileSync(img, raw);
    await rewriteInPlace(nodeFs, img, 'autoboot.txt', Buffer.from(AUTOBOOT_B));
    assert.equal(readFileSync(img).toString('utf8', file.extents[0]!.offset + file.size, file.extents[0]!.offset + file.size + 5), 'SLACK');
    assert.equal(mtype(img, 'autoboot.txt'), AUTOBOOT_B);
  });

  test('content of another length, or a file spanning two sectors, is refused and nothing is written', async () => {
    const img = join(dir, 'refuse.img');
    createFatImage(img, { 'autoboot.txt': AUTOBOOT_A, 'big.txt': 'y'.repeat(700) });
    const before = readFileSync(img);
    await assert.rejects(
      rewriteInPlace(nodeFs, img, 'autoboot.txt', Buffer.from(`${AUTOBOOT_B}#`)),
      (e) => isSidewalkError(e, 'OTA_SELECTOR_NOT_IN_PLACE') && e.message.includes(`is ${AUTOBOOT_A.length} bytes, the new content ${AUTOBOOT_A.length + 1}`),
    );
    await assert.rejects(
      rewriteInPlace(nodeFs, img, 'big.txt', Buffer.from('z'.repeat(700))),
      (e) => isSidewalkError(e, 'OTA_SELECTOR_NOT_IN_PLACE') && /not within one 512-byte sector/.test(e.message),
    );
    assert.ok(readFileSync(img).equals(before));
  });

  test('a damaged boot sector names the byte; a missing file says so', async () => {
    const img = join(dir, 'bad.img');
    createFatImage(img, { 'config.txt': 'x' });
    await assert.rejects(readFatFile(nodeFs, img, 'autoboot.txt'), (e) => isSidewalkError(e, 'OTA_AUTOBOOT_MISSING') && /no AUTOBOOT\.TXT in the root directory/.test(e.message));
    const good = readFileSync(img);
    const broken = (patch: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      patch(b);
      writeFileSync(img, b);
    };
    broken((b) => (b[511] = 0));
    await assert.rejects(readFatFile(nodeFs, img, 'autoboot.txt'), (e) => isSidewalkError(e, 'OTA_SELECTOR_INVALID') && /bytes 510-511 are 0x55 0x00/.test(e.message));
    broken((b) => b.writeUInt16LE(1000, 11));
    await assert.rejects(readFatFile(nodeFs, img, 'autoboot.txt'), /BPB_BytsPerSec \(byte 11\) is 1000/);
    broken((b) => (b[13] = 3));
    await assert.rejects(readFatFile(nodeFs, img, 'autoboot.txt'), /BPB_SecPerClus \(byte 13\) is 3/);
    writeFileSync(img, good.subarray(0, 1024)); // FAT12 64 KiB: boot sector, 2 one-sector FATs, root directory at byte 1536
    await assert.rejects(readFatFile(nodeFs, img, 'autoboot.txt'), /root directory: short read at byte 1536/);
    writeFileSync(img, Buffer.alloc(4096));
    await assert.rejects(readFatFile(nodeFs, img, 'autoboot.txt'), (e) => isSidewalkError(e, 'OTA_SELECTOR_INVALID') && e.message.startsWith(img));
  });
});

describe('autoboot.txt on a selector device', () => {
  let dir: string;
  before(() => {
    dir = makeTempDirSync('sidewalk-selector-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('commits both ways in place; a longer hand-written file is matched with trailing newlines', async () => {
    const img = join(dir, 'sel.img');
    createFatImage(img, { 'autoboot.txt': `# selector, do not edit\n${AUTOBOOT_A}` });
    const store = new DeviceAutobootFile(nodeFs, img, slots);
    assert.equal((await store.read()).defaultPartition, 2);
    await store.commit('B');
    assert.deepEqual(await store.read(), { defaultPartition: 3, trybootPartition: 2, trybootAB: true });
    assert.equal(mtype(img, 'autoboot.txt'), AUTOBOOT_B.padEnd(AUTOBOOT_A.length + 24, '\n'));
    await store.commit('A');
    assert.equal(mtype(img, 'autoboot.txt').trimEnd(), AUTOBOOT_A.trimEnd());
    assert.ok(fsckFat(img).clean);
  });

  test('a file too short for the canonical text falls back to the (non-atomic) rename store, or fails without one', async () => {
    const img = join(dir, 'short.img');
    createFatImage(img, { 'autoboot.txt': '[all]\nboot_partition=2\n' });
    await assert.rejects(new DeviceAutobootFile(nodeFs, img, slots).commit('B'), (e) => isSidewalkError(e, 'OTA_SELECTOR_NOT_IN_PLACE'));
    const fallbackCommits: SlotName[] = [];
    const fallback = { read: async () => ({ defaultPartition: 2, trybootPartition: 2, trybootAB: false }), commit: async (s: SlotName) => void fallbackCommits.push(s) };
    await new DeviceAutobootFile(nodeFs, img, slots, fallback).commit('B');
    assert.deepEqual(fallbackCommits, ['B']);
    assert.equal(mtype(img, 'autoboot.txt'), '[all]\nboot_partition=2\n', 'the device itself was not touched');
  });

  test('the real backend with selector_device reads and commits through the device, not the mounted folder', async () => {
    const img = join(dir, 'real.img');
    createFatImage(img, { 'autoboot.txt': AUTOBOOT_A }, { fatBits: 32 });
    const real = new RealBootControl({ selectorDir: join(dir, 'not-mounted'), selectorDevice: img, slots, run: async () => ({ code: 0, stdout: '', stderr: '' }) });
    await real.commit('B');
    assert.deepEqual(await real.readAutoboot(), { defaultPartition: 3, trybootPartition: 2, trybootAB: true });
    assert.equal(mtype(img, 'autoboot.txt'), AUTOBOOT_B);
    assert.ok(fsckFat(img).clean);
  });

  test('simulated device on a FAT selector image: the firmware reads the FAT; config selector_device wires it', async () => {
    const disk = join(dir, 'disk');
    const config = validateOtaConfig({ device_type: 'raspberrypi4', boot: { backend: 'simulated', simulated_dir: disk, selector_device: join(disk, 'p1.vfat') } });
    // The updater refuses a simulated_dir without a disk (OTA_SIM_MISSING), so the disk is made first.
    SimulatedFirmware.createDisk(simulatedLayout(disk, { selectorImage: join(disk, 'p1.vfat') }), {
      bootBytes: 4096,
      rootBytes: 8192,
      bootA: makeSimImage({ version: 'boot-1', bodyBytes: 100 }),
      rootA: makeSimImage({ version: '1', bodyBytes: 100 }),
    });
    const firmware = simulatedFirmware(config);
    assert.equal(firmware.layout.selectorImage, join(disk, 'p1.vfat'));
    const { slots: s } = firmware.layout;
    const pad = (b: Buffer, n: number) => Buffer.concat([b, Buffer.alloc(n - b.length)]);
    writeFileSync(s.B.bootDevice, pad(makeSimImage({ version: 'boot-2', bodyBytes: 100 }), 4096));
    writeFileSync(s.B.rootDevice, pad(makeSimImage({ version: '2', bodyBytes: 100 }), 8192));
    const boot = createBootControl(config)!;
    assert.ok(boot instanceof SimulatedBootControl);
    const first = firmware.boot();
    assert.ok(first.ok && first.slot === 'A');
    await boot.commit('B');
    const second = new SimulatedFirmware(firmware.layout).boot();
    assert.ok(second.ok && second.slot === 'B', JSON.stringify(second));
    assert.equal(mtype(firmware.layout.selectorImage!, 'autoboot.txt'), AUTOBOOT_B);
    // The firmware finds autoboot.txt through the directory: without the entry there is nothing to boot.
    mtools('mdel', [firmware.layout.selectorImage!, '::autoboot.txt']);
    const bricked = firmware.boot();
    assert.ok(!bricked.ok && /no AUTOBOOT\.TXT/.test(bricked.reason), JSON.stringify(bricked));
  });
});
