/**
 * Our initramfs (image/initramfs.ts), on a synthetic Debian-like root: which modules go in and in what
 * order, the newc archive's members, modes and owners, byte-for-byte reproducibility, clear errors.
 * The boot itself is proved in the slow tier (debian-base.slow.ts boots it under qemu-system-aarch64).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildInitramfs, DATA_PARTUUID_AWK, moduleLoadOrder } from '../../image/initramfs.js';
import { makeLayout } from '../../image/layout.js';
import { fstab } from '../../image/overlay.js';
import { isSidewalkError } from '../../lib/errors.js';

interface Member {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  rdev: [number, number];
  data: Buffer;
}

/** Reads a newc cpio archive (what the kernel unpacks). */
function readNewc(buf: Buffer): Member[] {
  const out: Member[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    assert.equal(buf.toString('ascii', at, at + 6), '070701', `newc magic at ${at}`);
    const f = (i: number) => parseInt(buf.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const nameSize = f(11);
    const size = f(6);
    const name = buf.toString('utf8', at + 110, at + 110 + nameSize - 1);
    const dataAt = align(at + 110 + nameSize);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode: f(1), uid: f(2), gid: f(3), mtime: f(5), rdev: [f(9), f(10)], data: buf.subarray(dataAt, dataAt + size) });
    at = align(dataAt + size);
  }
}

const DEP = [
  'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko',
  'kernel/fs/jbd2/jbd2.ko:',
  'kernel/fs/mbcache.ko:',
  'kernel/lib/crc16.ko:',
  'kernel/drivers/block/virtio_blk.ko:',
  'kernel/drivers/mmc/host/sdhci-iproc.ko: kernel/drivers/mmc/host/sdhci-pltfm.ko kernel/drivers/mmc/host/sdhci.ko',
  'kernel/drivers/mmc/host/sdhci-pltfm.ko: kernel/drivers/mmc/host/sdhci.ko',
  'kernel/drivers/mmc/host/sdhci.ko:',
  'kernel/drivers/net/dummy.ko:',
  '',
].join('\n');

describe('initramfs made from the base root', () => {
  const work = mkdtempSync(join(tmpdir(), 'sidewalk-initramfs-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  const makeRoot = (name: string, opts: { busybox?: boolean; dep?: string } = {}): string => {
    const root = join(work, name);
    const mods = join(root, 'lib/modules/6.1.0-test-arm64');
    for (const line of (opts.dep ?? DEP).split('\n')) {
      const path = line.split(':')[0]!;
      if (!path) continue;
      mkdirSync(join(mods, path, '..'), { recursive: true });
      writeFileSync(join(mods, path), `module ${path}\n`);
    }
    writeFileSync(join(mods, 'modules.dep'), opts.dep ?? DEP);
    writeFileSync(join(mods, 'modules.builtin'), 'kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/mmc/core/mmc_block.ko\n');
    if (opts.busybox !== false) {
      mkdirSync(join(root, 'usr/bin'), { recursive: true });
      writeFileSync(join(root, 'usr/bin/busybox'), 'arm64 busybox stand-in');
    }
    return root;
  };

  test('modules load dependencies first; absent optional modules are skipped; a missing ext4 is an error', () => {
    const order = moduleLoadOrder(DEP, '', ['virtio_blk', 'sdhci_iproc', 'bcm2835', 'ext4']);
    assert.deepEqual(order, [
      'kernel/drivers/block/virtio_blk.ko',
      'kernel/drivers/mmc/host/sdhci.ko',
      'kernel/drivers/mmc/host/sdhci-pltfm.ko',
      'kernel/drivers/mmc/host/sdhci-iproc.ko',
      'kernel/fs/jbd2/jbd2.ko',
      'kernel/fs/mbcache.ko',
      'kernel/lib/crc16.ko',
      'kernel/fs/ext4/ext4.ko',
    ]);
    assert.deepEqual(moduleLoadOrder('', 'kernel/fs/ext4/ext4.ko\n', ['ext4']), [], 'a built-in ext4 needs no module');
    assert.throws(
      () => moduleLoadOrder('kernel/drivers/block/virtio_blk.ko:\n', '', ['virtio_blk', 'ext4']),
      (e: unknown) => isSidewalkError(e) && e.code === 'IMAGE_BASE_INVALID' && /no ext4 module/.test(e.message),
    );
    assert.throws(() => moduleLoadOrder('a/ext4.ko: a/b.ko\na/b.ko: a/ext4.ko\n', '', ['ext4']), /dependency cycle/);
  });

  test('archive: busybox, /init, the console node and the needed modules, all root-owned at the epoch; same input, same bytes', () => {
    const root = makeRoot('ok');
    const image = buildInitramfs(root, '6.1.0-test-arm64', 1_700_000_000);
    const members = readNewc(gunzipSync(image));
    const byName = new Map(members.map((m) => [m.name, m]));
    assert.deepEqual(
      members.map((m) => m.name),
      [...members.map((m) => m.name)].sort(),
      'sorted, so folders precede their files',
    );
    assert.equal(byName.get('bin/busybox')?.data.toString(), 'arm64 busybox stand-in');
    assert.equal(byName.get('bin/busybox')?.mode, 0o100755);
    assert.deepEqual({ mode: byName.get('dev/console')?.mode, rdev: byName.get('dev/console')?.rdev }, { mode: 0o20600, rdev: [5, 1] });
    assert.ok(members.every((m) => m.uid === 0 && m.gid === 0 && m.mtime === 1_700_000_000));
    assert.equal(byName.has('lib/modules/kernel/drivers/net/dummy.ko'), false, 'only what the root mount needs');
    assert.equal(byName.get('lib/modules/kernel/fs/ext4/ext4.ko')?.data.toString(), 'module kernel/fs/ext4/ext4.ko\n');
    const init = byName.get('init')!.data.toString();
    assert.equal(byName.get('init')!.mode, 0o100755);
    assert.match(init, /^#!\/bin\/busybox sh\n/);
    // insmod order in /init is the dependency order.
    const loads = /for m in ([^;]*); do/.exec(init)![1]!.split(' ');
    assert.ok(loads.indexOf('/lib/modules/kernel/fs/jbd2/jbd2.ko') < loads.indexOf('/lib/modules/kernel/fs/ext4/ext4.ko'));
    assert.ok(loads.indexOf('/lib/modules/kernel/drivers/mmc/host/sdhci.ko') < loads.indexOf('/lib/modules/kernel/drivers/mmc/host/sdhci-iproc.ko'));
    assert.match(init, /root=PARTUUID=\*\)/);
    assert.match(init, /exec switch_root \/root "\$init"/);
    assert.ok(init.indexOf('\nkeep_machine_id\n') < init.indexOf('exec switch_root'), 'the machine-id is bound before systemd starts');
    assert.ok(init.includes(`awk '${DATA_PARTUUID_AWK}' /root/etc/fstab`), "the data partition is found through the root's fstab");
    const syntax = spawnSync('sh', ['-n'], { input: init, encoding: 'utf8' });
    assert.equal(syntax.status, 0, `/init: ${syntax.stderr}`);
    assert.deepEqual(buildInitramfs(root, '6.1.0-test-arm64', 1_700_000_000), image);
  });

  test("the data partition's PARTUUID, where the machine-id is kept, is read from the image's own fstab", () => {
    const tab = fstab(makeLayout('mbr'));
    const r = spawnSync('awk', [DATA_PARTUUID_AWK], { input: tab, encoding: 'utf8' });
    assert.equal(r.stdout, 'ab12cd34-07\n');
  });

  test('a base without busybox-static or without depmod output is refused with what to include', () => {
    const noBusybox = makeRoot('no-busybox', { busybox: false });
    assert.throws(
      () => buildInitramfs(noBusybox, '6.1.0-test-arm64', 0),
      (e: unknown) => isSidewalkError(e) && e.code === 'IMAGE_BASE_INVALID' && /busybox-static/.test(e.message),
    );
    const root = makeRoot('no-dep');
    rmSync(join(root, 'lib/modules/6.1.0-test-arm64/modules.dep'));
    assert.throws(
      () => buildInitramfs(root, '6.1.0-test-arm64', 0),
      (e: unknown) => isSidewalkError(e) && e.code === 'IMAGE_BASE_INVALID' && /modules\.dep/.test(e.message),
    );
  });
});
