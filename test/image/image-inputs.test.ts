/**
 * The other inputs of `sidewalk image build`: a Raspberry Pi OS-like card read by offset (with the GPT
 * option), a base folder; and bad input, which fails with one coded line and leaves no image (nor any
 * half-written file) under the output name.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectCleanFailure, runSidewalk } from '../helpers/cli-guard.js';
import { Card, e2fsck, makeAppBundle, makePiOsImage, makeSyntheticRoot, makeVerifyKey } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';

const SMALL = ['--boot-size', '64', '--root-size', '48', '--data-size', '32'];

describe('image build inputs', () => {
  let work: string;
  let keys: { publicPem: string; privatePem: string };
  let app: string;
  let baseDir: string;

  before(() => {
    work = makeTempDirSync('sidewalk-image-in-');
    keys = makeVerifyKey(work);
    app = join(work, 'app');
    makeAppBundle(app);
    baseDir = join(work, 'base');
    makeSyntheticRoot(baseDir);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('a Raspberry Pi OS image as base, GPT table: its partitions read by offset, our slots and PARTUUIDs', async () => {
    const pios = makePiOsImage(work);
    const out = join(work, 'pios-gpt.img');
    const r = await runSidewalk(['image', 'build', '-o', out, '--app', app, '--verify-key', keys.publicPem, '--base-pios', pios, '--table', 'gpt', ...SMALL], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const card = new Card(out);
    assert.equal(card.table.label, 'gpt');
    assert.deepEqual(
      card.table.partitions.map((p) => p.number),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(card.table.partitions[3]!.uuid?.toLowerCase(), 'a0000000-0000-4000-8000-000000000004');
    assert.equal(card.fatRead(1, 'autoboot.txt'), '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n');
    assert.match(card.fatRead(2, 'cmdline.txt'), /root=PARTUUID=a0000000-0000-4000-8000-000000000004 /);
    assert.match(card.fatRead(3, 'cmdline.txt'), /root=PARTUUID=a0000000-0000-4000-8000-000000000005 /);
    assert.doesNotMatch(card.fatRead(2, 'cmdline.txt'), /firstboot|deadbeef/);
    // Pi OS's firmware and kernel, its config.txt first and ours after it under [all].
    assert.equal(card.fatRead(2, 'kernel8.img'), 'pi os kernel\n');
    assert.equal(card.fatRead(3, 'overlays/disable-bt.dtbo'), 'overlay\n');
    assert.match(card.fatRead(2, 'config.txt'), /^# Raspberry Pi OS\ndtoverlay=vc4-kms-v3d\n\[pi4\]\narm_boost=1\n\n\[all\]\n[\s\S]*arm_64bit=1\n$/);
    assert.match(card.debugfs(4, 'cat /etc/os-release'), /Raspbian GNU\/Linux 12/);
    assert.match(card.debugfs(4, 'cat /etc/fstab'), /^PARTUUID=a0000000-0000-4000-8000-000000000006\t\/data\t/m);
    assert.match(card.debugfs(4, 'cat /etc/sidewalk/ota.yaml'), /root_device: \/dev\/disk\/by-partuuid\/a0000000-0000-4000-8000-000000000005/);
    assert.equal(card.inode(4, '/opt/sidewalk/bin/sidewalk').mode, '0755');
    assert.deepEqual(card.inode(4, '/etc/shadow'), { type: 'regular', mode: '0640', uid: 0, gid: 42 }, 'owners read from the Pi OS ext4');
    assert.deepEqual(card.inode(4, '/usr/bin/passwd'), { type: 'regular', mode: '04755', uid: 0, gid: 0 });
    assert.equal(e2fsck(`${out}?offset=${card.offset(4)}`).status, 0);
  });

  test('a base folder: every file root-owned, modes kept', async () => {
    const out = join(work, 'dir.img');
    const r = await runSidewalk(['image', 'build', '-o', out, '--app', app, '--verify-key', keys.publicPem, '--base-dir', baseDir, ...SMALL], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const card = new Card(out);
    assert.deepEqual(card.inode(5, '/usr/bin/passwd'), { type: 'regular', mode: '04755', uid: 0, gid: 0 });
    assert.deepEqual(card.inode(5, '/etc/hostname'), { type: 'regular', mode: '0644', uid: 0, gid: 0 });
    assert.equal(card.fatRead(2, 'start4.elf'), 'simulated VideoCore firmware\n');
  });

  describe('bad input: one coded line, no image', () => {
    const build = (out: string, extra: string[], base: string[] = ['--base-dir', baseDir]) => ['image', 'build', '-o', out, ...base, ...extra, ...SMALL];
    const cases = () => {
      const out = join(work, 'bad.img');
      const noFirmware = join(work, 'no-firmware');
      mkdirSync(join(noFirmware, 'etc'), { recursive: true });
      writeFileSync(join(noFirmware, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
      writeFileSync(join(noFirmware, 'etc/group'), 'root:x:0:\n');
      // A PATH with a shell only: genimage, fakeroot, mtools, tar are missing (dosfstools and e2fsprogs are found in /usr/sbin).
      const shellOnly = join(work, 'shell-only-bin');
      mkdirSync(shellOnly, { recursive: true });
      if (!existsSync(join(shellOnly, 'sh'))) symlinkSync('/bin/sh', join(shellOnly, 'sh'));
      const appNoBin = join(work, 'app-no-bin');
      mkdirSync(appNoBin, { recursive: true });
      return [
        { name: 'app folder without bin/sidewalk', args: build(out, ['--app', appNoBin, '--verify-key', keys.publicPem]), code: 'IMAGE_APP_INVALID' },
        { name: 'the private signing key as verification key', args: build(out, ['--app', app, '--verify-key', keys.privatePem]), code: 'IMAGE_KEY_INVALID' },
        { name: 'two bases', args: build(out, ['--app', app, '--verify-key', keys.publicPem, '--base-tar', join(work, 'x.tar')]), code: 'IMAGE_INVALID_OPTION' },
        { name: 'no base', args: build(out, ['--app', app, '--verify-key', keys.publicPem], []), code: 'IMAGE_INVALID_OPTION' },
        { name: 'missing base folder', args: build(out, ['--app', app, '--verify-key', keys.publicPem], ['--base-dir', join(work, 'nope')]), code: 'IMAGE_BASE_INVALID' },
        { name: 'FAT32 boot slot below 64 MiB', args: [...build(out, ['--app', app, '--verify-key', keys.publicPem]), '--boot-size', '32'], code: 'IMAGE_INVALID_OPTION' },
        { name: 'unknown table type', args: build(out, ['--app', app, '--verify-key', keys.publicPem, '--table', 'apm']), code: 'IMAGE_INVALID_OPTION' },
        { name: 'a Pi OS image that is not one', args: build(out, ['--app', app, '--verify-key', keys.publicPem], ['--base-pios', keys.publicPem]), code: 'IMAGE_BASE_INVALID' },
        { name: 'missing tools', args: build(out, ['--app', app, '--verify-key', keys.publicPem]), env: { PATH: shellOnly }, code: 'IMAGE_TOOL_MISSING' },
        // Fails inside the fakeroot stage, after work has started: the work folder goes too.
        { name: 'base without the Raspberry Pi firmware', args: build(out, ['--app', app, '--verify-key', keys.publicPem], ['--base-dir', noFirmware]), code: 'IMAGE_BASE_INVALID' },
      ].map((c) => ({ ...c, mustNotExist: [out], timeoutMs: 60_000 }));
    };
    test('every case; a missing base package is named', async () => {
      for (const c of cases()) {
        const run = await expectCleanFailure(c);
        if (c.name.startsWith('base without')) assert.match(run.stderr, /include Debian's raspi-firmware package/);
        if (c.name === 'missing tools') assert.match(run.stderr, /genimage, fakeroot, mcopy, tar not found: install the Debian packages genimage fakeroot mtools tar \(apt-get install/);
      }
      assert.deepEqual(
        readdirSync(work).filter((f) => f.startsWith('.bad.img')),
        [],
        'no work folder left behind',
      );
    });
  });
});
