/**
 * Slow tier (not in `npm test`; run with `npm run test:image-slow`): a card from the real base, Debian
 * bookworm arm64 by mmdebstrap (raspi-firmware, linux-image-arm64, systemd), cached in
 * ~/.cache/sidewalk/image-base. Needs the network (Debian mirror), qemu-user-static registered through
 * binfmt_misc and, as a normal user, user namespaces. SIDEWALK_IMAGE_APP may name the real arm64 bundle
 * folder (build/bundle); otherwise a stand-in with bin/sidewalk is installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSidewalk } from '../helpers/cli-guard.js';
import { Card, e2fsck, makeAppBundle, makeVerifyKey } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';

describe('image build from the mmdebstrap Debian bookworm arm64 base (slow tier)', () => {
  let work: string;
  let card: Card;
  let rootDump: string;

  before(async () => {
    work = makeTempDirSync('sidewalk-image-debian-');
    const app = process.env.SIDEWALK_IMAGE_APP ?? join(work, 'app');
    if (!process.env.SIDEWALK_IMAGE_APP) makeAppBundle(app);
    const out = join(work, 'debian.img');
    const started = Date.now();
    const r = await runSidewalk(['image', 'build', '-o', out, '--app', app, '--verify-key', makeVerifyKey(work).publicPem, '--base-debian'], { timeoutMs: 3_600_000 });
    assert.equal(r.code, 0, r.stderr);
    process.stderr.write(`${r.stderr}(slow tier: image build ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    card = new Card(out);
    rootDump = card.dumpExt4(5, join(work, 'rootA'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('boot slots carry Debian\'s Raspberry Pi firmware, kernel, initramfs and Pi 4 device tree', () => {
    for (const n of [2, 3]) {
      const files = card.fatList(n);
      for (const f of ['start4.elf', 'fixup4.dat', 'vmlinuz', 'initrd.img', 'bcm2711-rpi-4-b.dtb', 'config.txt', 'cmdline.txt']) assert.ok(files.includes(f), `p${n} lacks ${f}: ${files.join(' ')}`);
    }
  });

  test('filesystems clean; units verify against the real arm64 root with no output', () => {
    for (const n of [5, 6, 7]) assert.equal(e2fsck(`${card.path}?offset=${card.offset(n)}`).status, 0);
    const units = ['sidewalk-runtime.service', 'sidewalk-ota.service', 'sidewalk-provision.service'].map((u) => `/etc/systemd/system/${u}`);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${rootDump}`, '--man=no', ...units], { encoding: 'utf8' });
    assert.deepEqual({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }, { status: 0, output: '' });
    assert.deepEqual(card.inode(5, '/usr/bin/passwd').mode, '04755');
    assert.match(card.debugfs(5, 'cat /etc/os-release'), /bookworm/);
  });
});
