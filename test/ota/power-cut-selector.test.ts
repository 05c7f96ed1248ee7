/**
 * Power cuts while autoboot.txt is committed on a real FAT selector image (mkfs.fat + mcopy), which the
 * simulated firmware reads through its FAT like the Pi's. The commit rewrites one 512-byte sector in
 * place; cuts at every operation and torn at every kind of byte offset inside that sector must leave
 * an autoboot.txt that names the old or the new slot, and a file system fsck.fat finds clean.
 * Torn sectors are the worst case modelled on purpose: we ASSUME (not guaranteed by any SD spec we
 * know of) that a card programs a 512-byte sector all-or-nothing; the design must be safe without it.
 * The last test shows why the tmp + rename commit is not enough on FAT.
 */
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAutoboot } from '../../ota/boot/autoboot.js';
import { locateFile, parseSync, readContent, rewriteInPlace } from '../../ota/boot/fat.js';
import { makeSimImage } from '../../ota/boot/sim-image.js';
import { createFatImage, SimulatedBootControl, SimulatedFirmware, simulatedLayout, type SimulatedLayout } from '../../ota/boot/simulated.js';
import { slotOfPartition } from '../../ota/boot/types.js';
import { nodeFs } from '../../ota/fs.js';
import { AUTOBOOT_A, AUTOBOOT_B, changedSectors, fsckFat, mtools } from './boot/fat-tools.js';
import { CrashFs, isPowerLoss, rng } from './crash-fs.js';
import { runUncut, runWithCut, type CutRun } from './power-cut-harness.js';
import { SimDevice, osArtifact } from './sim-device.js';
import { makeTempDirSync } from '../helpers/temp.js';

/** What a commit torn between the two digits leaves: the new default, the old tryboot target. */
const AUTOBOOT_TORN = AUTOBOOT_A.replace('boot_partition=2', 'boot_partition=3');

/** autoboot.txt as the firmware model reads it from the image; null when it cannot (the device would not boot). */
function firmwareText(image: string): string | null {
  try {
    const bytes = readFileSync(image);
    return parseSync(readContent(parseSync(locateFile('autoboot.txt', image), bytes), image), bytes).toString('utf8');
  } catch {
    return null;
  }
}

describe('power cuts while committing autoboot.txt in place on a FAT selector', () => {
  let dir: string;
  let layout: SimulatedLayout;
  const templates = new Map<number, Buffer>();
  let imageFatBits = 0;

  /** Resets the selector to slot A; a FAT32 image is 34 MB, so after the first time only its data sector is restored. */
  function resetSelector(fatBits: 12 | 32): void {
    const template = templates.get(fatBits)!;
    if (imageFatBits !== fatBits) writeFileSync(layout.selectorImage!, template);
    else {
      const { offset } = parseSync(locateFile('autoboot.txt', 'template'), template).extents[0]!;
      const fd = openSync(layout.selectorImage!, 'r+');
      writeSync(fd, template, offset, 512, offset);
      closeSync(fd);
    }
    imageFatBits = fatBits;
  }

  before(() => {
    dir = makeTempDirSync('sidewalk-pc-selector-');
    layout = simulatedLayout(dir, { selectorImage: join(dir, 'p1-selector.vfat') });
    SimulatedFirmware.createDisk(layout, { bootBytes: 4096, rootBytes: 8192, bootA: makeSimImage({ version: 'boot-1', bodyBytes: 100 }), rootA: makeSimImage({ version: '1', bodyBytes: 100 }) });
    const pad = (b: Buffer, n: number) => Buffer.concat([b, Buffer.alloc(n - b.length)]);
    writeFileSync(layout.slots.B.bootDevice, pad(makeSimImage({ version: 'boot-2', bodyBytes: 100 }), 4096));
    writeFileSync(layout.slots.B.rootDevice, pad(makeSimImage({ version: '2', bodyBytes: 100 }), 8192));
    for (const fatBits of [12, 32] as const) {
      const img = join(dir, `template-${fatBits}.vfat`);
      createFatImage(img, { 'autoboot.txt': AUTOBOOT_A }, { fatBits });
      templates.set(fatBits, readFileSync(img));
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Commits slot B with the power cut at operation `cutAt`, powers on, and checks what the firmware sees. */
  /** `tornAt` (0..511): the cut write lands exactly that many bytes of the sector; else a seeded random count. */
  async function cutCommit(fatBits: 12 | 32, cutAt: number | null, seed: number, loseUnsynced: boolean, tornAt?: number): Promise<{ text: string; ops: number; cutOp: string | null }> {
    resetSelector(fatBits);
    const firmware = new SimulatedFirmware(layout);
    const random = tornAt === undefined ? rng(seed) : () => (tornAt + 0.5) / 512;
    const crash = new CrashFs({ cutAt, random, loseUnsynced });
    try {
      await new SimulatedBootControl({ fs: crash, firmware }).commit('B');
    } catch (err) {
      if (!isPowerLoss(err)) throw err;
    }
    crash.powerOff();
    firmware.powerCut();
    const ctx = `FAT${fatBits} cut at ${crash.cutOp ?? 'never'} seed ${seed}${loseUnsynced ? ' lose-unsynced' : ''}`;
    const b = firmware.boot();
    assert.ok(b.ok, `${ctx}: ${JSON.stringify(b)}`);
    const text = firmwareText(layout.selectorImage!);
    assert.ok(text === AUTOBOOT_A || text === AUTOBOOT_B || text === AUTOBOOT_TORN, `${ctx}: ${JSON.stringify(text)}`);
    assert.equal(b.slot, slotOfPartition(layout.slots, parseAutoboot(text).defaultPartition), ctx);
    const fsck = fsckFat(layout.selectorImage!);
    assert.ok(fsck.clean, `${ctx}: ${fsck.output}`);
    return { text, ops: crash.ops, cutOp: crash.cutOp };
  }

  test('the commit is three operations: open the device, write one sector, fsync', async () => {
    const counting = new CrashFs({ cutAt: null });
    resetSelector(12);
    await new SimulatedBootControl({ fs: counting, firmware: new SimulatedFirmware(layout) }).commit('B');
    assert.deepEqual(
      counting.log.map((e) => e.kind),
      ['open(r+)', 'write', 'fsync'],
    );
    assert.equal((await cutCommit(12, null, 1, false)).text, AUTOBOOT_B);
  });

  test('cut at every operation, and the sector write torn at every byte of the file and random offsets after it: always the old, the new or a valid mix', async (t) => {
    const seen = { old: 0, new: 0, torn: 0 };
    const count = (text: string) => (text === AUTOBOOT_A ? seen.old++ : text === AUTOBOOT_B ? seen.new++ : seen.torn++);
    for (const loseUnsynced of [false, true]) {
      // 4: the power goes right after the commit's fsync.
      for (let cutAt = 1; cutAt <= 4; cutAt++) count((await cutCommit(12, cutAt, cutAt, loseUnsynced)).text);
    }
    // The write (operation 2) torn after 0..70 bytes (the file is the first 64 bytes of its sector), then at random.
    for (let tornAt = 0; tornAt <= 70; tornAt++) count((await cutCommit(12, 2, 0, false, tornAt)).text);
    for (let seed = 1; seed <= 60; seed++) count((await cutCommit(12, 2, seed, seed % 3 === 0)).text);
    for (let seed = 1; seed <= 12; seed++) count((await cutCommit(32, 2, 500 + seed, false)).text);
    // Cut after the fsync the new text must be there; torn between the two digits, the mix is valid.
    assert.ok(seen.old > 0 && seen.new > 0 && seen.torn > 0, JSON.stringify(seen));
    t.diagnostic(`outcomes: ${JSON.stringify(seen)}`);
  });
});

describe('power cuts during a whole rootfs update with a FAT selector', () => {
  const ARTIFACT = '/data/ota/downloads/os-2.0.mender';
  const artifact = osArtifact('2.0');
  const SELECTOR = 'p1-selector.vfat';
  let template: string;
  let totalOps = 0;
  let selectorWrites: number[] = [];

  /** A device whose selector is the FAT image (its p1-selector folder stays, untouched, as a witness). */
  function device(): SimDevice {
    const dev = SimDevice.fromTemplate(template);
    dev.firmware.layout.selectorImage = join(dev.dir, SELECTOR);
    dev.artifacts.set(ARTIFACT, artifact);
    return dev;
  }

  before(async () => {
    template = SimDevice.template();
    createFatImage(join(template, SELECTOR), { 'autoboot.txt': AUTOBOOT_A });
    const dev = device();
    const counting = new CrashFs({ cutAt: null });
    const out = await runUncut(dev, ARTIFACT, counting);
    assert.deepEqual(out, { kind: 'idle', result: 'success' });
    assert.equal(firmwareText(join(dev.dir, SELECTOR)), AUTOBOOT_B);
    dev.remove();
    totalOps = counting.ops;
    selectorWrites = counting.log.flatMap((e, i) => (e.kind === 'write' && e.path.endsWith(SELECTOR) ? [i + 1] : []));
  });
  after(() => rmSync(template, { recursive: true, force: true }));

  async function run(cutAt: number, seed: number, loseUnsynced: boolean): Promise<CutRun> {
    const dev = device();
    try {
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt, seed, loseUnsynced });
      const ctx = `cut ${cutAt} (${r.cutOp}) seed ${seed}${loseUnsynced ? ' lose-unsynced' : ''}: ${r.error ?? ''}`;
      const image = join(dev.dir, SELECTOR);
      const text = firmwareText(image);
      assert.ok(text === AUTOBOOT_A || text === AUTOBOOT_B, `${ctx}: settled on ${JSON.stringify(text)}`);
      assert.equal(r.bootedSlot, text === AUTOBOOT_B ? 'B' : 'A', `${ctx}: booted slot is the committed default`);
      assert.equal(r.bootedVersion, r.result === 'success' ? '2.0' : '1.0', ctx);
      assert.equal(r.bootedSlot, r.result === 'success' ? 'B' : 'A', ctx);
      const fsck = fsckFat(image);
      assert.ok(fsck.clean, `${ctx}: ${fsck.output}`);
      assert.equal(dev.autobootDefaultSlot(), 'A', `${ctx}: the folder selector was never written`);
      return r;
    } finally {
      dev.remove();
    }
  }

  test('a cut at every operation (alternately keeping and losing unsynced data), and torn selector sector writes', async (t) => {
    assert.equal(selectorWrites.length, 1, 'one sector write commits the new slot');
    const results = { success: 0, failure: 0, none: 0 };
    // Every operation once (power-cut-rootfs.test.ts covers both variants of each with the folder selector).
    for (let cutAt = 1; cutAt <= totalOps; cutAt++) results[(await run(cutAt, cutAt, cutAt % 2 === 0)).result]++;
    for (let seed = 1; seed <= 40; seed++) results[(await run(selectorWrites[0]!, 7000 + seed, seed % 2 === 0)).result]++;
    assert.ok(results.success > 0 && results.failure > 0, JSON.stringify(results));
    t.diagnostic(`cut points: ${totalOps + 40} -> ${JSON.stringify(results)}`);
  });
});

describe('why not tmp + rename on FAT', () => {
  test('a rename-based commit changes several sectors; some subsets of them (what a power cut can leave) lose autoboot.txt', async (t) => {
    const dir = makeTempDirSync('sidewalk-why-');
    try {
      const img = join(dir, 'selector.vfat');
      createFatImage(img, { 'autoboot.txt': AUTOBOOT_A });
      const before = readFileSync(img);
      // What the rename path does to the file system, done by mtools: write a tmp file, rename it over.
      const renamed = join(dir, 'renamed.vfat');
      copyFileSync(img, renamed);
      mtools('mcopy', [renamed, '-', '::autoboot.tmp'], AUTOBOOT_B);
      mtools('mmove', [renamed, '-D', 'o', '::autoboot.tmp', '::autoboot.txt']);
      assert.equal(firmwareText(renamed), AUTOBOOT_B);
      const sectors = changedSectors(before, readFileSync(renamed));
      assert.ok(sectors.length >= 3, `rename touched sectors ${sectors.join(', ')}: FATs, directory, data`);

      // The card may have any subset of those sector writes when the power goes (no ordering on FAT).
      const judge = join(dir, 'judge.vfat');
      const after = readFileSync(renamed);
      let unbootable = 0;
      let unclean = 0;
      for (let mask = 0; mask < 1 << sectors.length; mask++) {
        const image = Buffer.from(before);
        sectors.forEach((s, i) => {
          if (mask & (1 << i)) after.copy(image, s * 512, s * 512, s * 512 + 512);
        });
        writeFileSync(judge, image);
        const text = firmwareText(judge);
        if (text !== AUTOBOOT_A && text !== AUTOBOOT_B) unbootable++;
        if (!fsckFat(judge).clean) unclean++;
      }
      assert.ok(unbootable > 0, 'some intermediate state has no usable autoboot.txt');
      t.diagnostic(`rename: ${sectors.length} sectors changed, ${1 << sectors.length} possible states after a cut: ${unbootable} without a usable autoboot.txt, ${unclean} that fsck.fat rejects`);

      // In place: one sector, so a cut leaves the old or the new image (a torn sector is covered above).
      await rewriteInPlace(nodeFs, img, 'autoboot.txt', Buffer.from(AUTOBOOT_B));
      assert.equal(changedSectors(before, readFileSync(img)).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
