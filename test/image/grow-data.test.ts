/**
 * First-boot growth of the data partition (image/grow-data.ts) on a built card: the partition table is
 * rewritten in place (read back with sfdisk), and the two-boot sequence runs against the card as the Pi
 * presents it (the SD card's /dev and /sys entries, simulated as files; resize2fs is the real one).
 * The kernel side (reboot, online resize) is exercised by the slow tier's QEMU boot.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ALIGN_SECTORS, applyGrowth, growData, planDiskGrowth } from '../../image/grow-data.js';
import { makeLayout } from '../../image/layout.js';
import { fstab } from '../../image/overlay.js';
import { isSidewalkError } from '../../lib/errors.js';
import { runProcess } from '../../lib/run-process.js';
import { runSidewalk } from '../helpers/cli-guard.js';
import { makeTempDirSync } from '../helpers/temp.js';
import { Card, e2fsck, makeAppBundle, makeSyntheticTar, makeVerifyKey } from './image-fixtures.js';

const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
const EXTRA_MIB = 100;

function firstSector(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(512);
    readSync(fd, b, 0, 512, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

function blockCount(fsImage: string): number {
  const out = execFileSync('dumpe2fs', ['-h', fsImage], { env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return Number(/^Block count:\s+(\d+)$/m.exec(out)![1]);
}

describe('first boot: the data partition grows to the end of the card', () => {
  let work: string;
  let built: string;

  before(async () => {
    work = makeTempDirSync('sidewalk-grow-');
    built = join(work, 'card.img');
    const app = join(work, 'app');
    makeAppBundle(app);
    const args = ['image', 'build', '-o', built, '--app', app, '--verify-key', makeVerifyKey(work).publicPem, '--base-tar', makeSyntheticTar(work)];
    // Small partitions keep the card quick to build and copy.
    const r = await runSidewalk([...args, '--boot-size', '64', '--root-size', '64', '--data-size', '64'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** A copy of the built card on a larger SD card. */
  const biggerCard = (name: string): string => {
    const disk = join(work, name);
    copyFileSync(built, disk);
    truncateSync(disk, statSync(disk).size + EXTRA_MIB * 2 ** 20);
    return disk;
  };

  test('the MBR entry of extended p4 and the EBR entry of p7 get the new aligned end; nothing else moves', async () => {
    const disk = biggerCard('table.img');
    const before = new Card(disk).table.partitions;
    const sectors = statSync(disk).size / 512;
    const plan = planDiskGrowth(disk, sectors, 7);
    assert.equal(plan.kind, 'grow');
    if (plan.kind !== 'grow') return;
    await applyGrowth(disk, plan);

    const after = new Card(disk).table.partitions;
    const end = Math.floor(sectors / ALIGN_SECTORS) * ALIGN_SECTORS;
    const p = (list: typeof after, n: number) => list.find((x) => x.number === n)!;
    assert.equal(p(after, 7).start + p(after, 7).size, end);
    assert.equal(p(after, 4).start + p(after, 4).size, end);
    assert.ok(p(after, 7).size > p(before, 7).size + (EXTRA_MIB - 4) * 2048);
    for (const n of [1, 2, 3, 5, 6]) assert.deepEqual(p(after, n), p(before, n));
    assert.deepEqual({ start: p(after, 7).start, uuid: p(after, 7).uuid }, { start: p(before, 7).start, uuid: p(before, 7).uuid });
    const verify = execFileSync('sfdisk', ['--verify', disk], { env: ENV, encoding: 'utf8' });
    assert.match(verify, /No errors detected/);
    assert.equal(e2fsck(`${disk}?offset=${p(after, 7).start * 512}`).status, 0, 'the filesystem itself is untouched');
    assert.deepEqual(planDiskGrowth(disk, sectors, 7), { kind: 'full', dataSectors: p(after, 7).size }, 'a second pass changes nothing');
  });

  test('two boots on a simulated Pi SD card: table and reboot, then the filesystem online and the marker', async () => {
    // The Pi's view: /dev/mmcblk0 (the card), /dev/mmcblk0p7 (the data partition as the kernel sizes it),
    // the by-partuuid link, and /sys/class/block entries with sizes in 512-byte sectors.
    const root = join(work, 'pi');
    const disk = join(root, 'dev/mmcblk0');
    mkdirSync(join(root, 'dev/disk/by-partuuid'), { recursive: true });
    copyFileSync(biggerCard('pi.img'), disk);
    const card = new Card(disk);
    const part = join(root, 'dev/mmcblk0p7');
    card.extract(7, part);
    symlinkSync('../../mmcblk0p7', join(root, 'dev/disk/by-partuuid/ab12cd34-07'));
    const partSys = join(root, 'sys/class/block/mmcblk0/mmcblk0p7');
    mkdirSync(partSys, { recursive: true });
    writeFileSync(join(root, 'sys/class/block/mmcblk0/size'), `${statSync(disk).size / 512}\n`);
    writeFileSync(join(partSys, 'partition'), '7\n');
    const kernelSees = (sectors: number) => {
      writeFileSync(join(partSys, 'size'), `${sectors}\n`);
      truncateSync(part, sectors * 512);
    };
    kernelSees(card.part(7).size);
    symlinkSync('mmcblk0/mmcblk0p7', join(root, 'sys/class/block/mmcblk0p7'));
    writeFileSync(join(root, 'fstab'), fstab(makeLayout('mbr')));

    const marker = join(root, 'data-grown');
    const said: string[] = [];
    let reboots = 0;
    const run = () =>
      growData({
        fstab: join(root, 'fstab'),
        marker,
        root,
        say: (l) => said.push(l),
        reboot: async () => {
          reboots++;
        },
        resizeFilesystem: async (device) => {
          await runProcess('resize2fs', [device], { check: true, env: ENV });
        },
      });
    const oldBlocks = blockCount(part);

    // A sysfs size that is not a number stops before anything is written.
    const diskSize = join(root, 'sys/class/block/mmcblk0/size');
    const goodSize = readFileSync(diskSize, 'utf8');
    const tableBefore = firstSector(disk);
    writeFileSync(diskSize, 'NaN\n');
    await assert.rejects(run(), (e: unknown) => isSidewalkError(e) && e.code === 'GROW_TABLE_INVALID' && e.message.includes(`${diskSize}: "NaN" is not a positive whole number`));
    assert.deepEqual(firstSector(disk), tableBefore);
    assert.equal(reboots, 0);
    writeFileSync(diskSize, goodSize);

    assert.equal(await run(), 'rebooting');
    assert.equal(reboots, 1);
    assert.match(said.at(-1)!, /p7 64 -> 1[56]\d MiB in the partition table; rebooting once/);
    assert.ok(!existsSync(marker));
    // Power cut before the reboot happened: the kernel still has the old size, so it asks for the reboot again.
    assert.equal(await run(), 'rebooting');
    assert.equal(reboots, 2);
    assert.equal(blockCount(part), oldBlocks, 'no resize while the kernel has the old size');

    kernelSees(new Card(disk).part(7).size);
    assert.equal(await run(), 'grown');
    assert.equal(blockCount(part) * 4096, statSync(part).size, 'the filesystem fills the partition');
    assert.match(readFileSync(marker, 'utf8'), /^grown: \d+ sectors\n$/);
    assert.equal(e2fsck(part).status, 0);
    assert.equal(await run(), 'grown', 'idempotent (resize2fs: nothing to do)');
    assert.equal(reboots, 2);
  });

  test('a GPT card is left as it is; a damaged table or an fstab without /data is refused by name', async () => {
    const gpt = join(work, 'gpt.img');
    writeFileSync(gpt, Buffer.alloc(64 * 2 ** 20));
    execFileSync('sfdisk', ['--quiet', gpt], { env: ENV, input: 'label: gpt\n,32M\n,\n' });
    assert.deepEqual(planDiskGrowth(gpt, (64 * 2 ** 20) / 512, 7), { kind: 'unsupported', why: 'GPT partition table: growing the data partition is done for MBR cards only' });

    const blank = join(work, 'blank.img');
    writeFileSync(blank, Buffer.alloc(2 ** 20));
    assert.throws(
      () => planDiskGrowth(blank, 2048, 7),
      (e: unknown) => isSidewalkError(e) && e.code === 'GROW_TABLE_INVALID' && e.message.includes(`${blank}: sector 0 (byte 510) has no 55 aa boot signature`),
    );
    const noData = join(work, 'fstab-no-data');
    writeFileSync(noData, 'tmpfs /tmp tmpfs defaults 0 0\n');
    await assert.rejects(
      growData({ fstab: noData, marker: join(work, 'm'), say: () => {}, reboot: async () => {}, resizeFilesystem: async () => {} }),
      (e: unknown) => isSidewalkError(e) && e.code === 'GROW_TABLE_INVALID' && e.message === `${noData}: no /data line`,
    );
    assert.ok(!existsSync(join(work, 'm')));
  });
});
