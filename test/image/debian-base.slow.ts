/**
 * Slow tier (not in `npm test`; `npm run test:image-slow`, or `bash scripts/test-slow.sh dist/test/image`):
 * a card from the real base, Debian bookworm arm64 by mmdebstrap (raspi-firmware, linux-image-arm64,
 * systemd, ffmpeg, busybox-static), cached in ~/.cache/sidewalk/image-base, with the real arm64 app
 * bundle (built here, or SIDEWALK_IMAGE_APP=<bundle dir>). Then the card's root A is booted under
 * qemu-system-aarch64 -M virt with the kernel and our initramfs from boot slot A, until the runtime,
 * in replay mode, tells systemd READY=1. Needs the network (Debian mirror, first build only), qemu-user
 * registered through binfmt_misc (scripts/slow-prereqs.sh does it as root) and qemu-system-arm.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { buildAppBundle } from '../../build/bundle/index.js';
import { runSidewalk } from '../helpers/cli-guard.js';
import { Card, e2fsck, makeVerifyKey } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';
import { bootUntil } from './qemu-boot.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, MTOOLS_SKIP_CHECK: '1' };
const say = (line: string) => process.stderr.write(`[image-slow] ${line}\n`);

describe('image build from the mmdebstrap Debian bookworm arm64 base (slow tier)', () => {
  let work: string;
  let card: Card;
  let rootDump: string;
  let bootA: string;

  before(async () => {
    work = makeTempDirSync('sidewalk-image-debian-');
    let app = process.env.SIDEWALK_IMAGE_APP;
    if (!app) {
      const t = Date.now();
      app = (await buildAppBundle({ out: join(work, 'bundle'), say })).dir;
      say(`arm64 bundle built in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    }
    const out = join(work, 'debian.img');
    const started = Date.now();
    const r = await runSidewalk(['image', 'build', '-o', out, '--app', app, '--verify-key', makeVerifyKey(work).publicPem, '--base-debian'], { timeoutMs: 3_600_000 });
    assert.equal(r.code, 0, r.stderr);
    say(`${r.stderr.trim()}\nimage build ${((Date.now() - started) / 1000).toFixed(0)} s`);
    card = new Card(out);
    rootDump = card.dumpExt4(5, join(work, 'rootA'));
    bootA = card.dumpFat(2, join(work, 'bootA'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("boot slots carry Debian's Raspberry Pi firmware, kernel, Pi 4 device tree and our initramfs", () => {
    for (const n of [2, 3]) {
      const files = card.fatList(n);
      for (const f of ['start4.elf', 'fixup4.dat', 'vmlinuz', 'initrd.img', 'bcm2711-rpi-4-b.dtb', 'config.txt', 'cmdline.txt']) assert.ok(files.includes(f), `p${n} lacks ${f}: ${files.join(' ')}`);
      assert.match(card.fatRead(n, 'config.txt'), /^initramfs initrd\.img followkernel$/m);
    }
    const initrd = gunzipSync(readFileSync(join(bootA, 'initrd.img'))).toString('latin1');
    for (const member of ['init', 'bin/busybox', 'dev/console']) assert.ok(initrd.includes(`${member}\0`), `initramfs lacks ${member}`);
    for (const module of ['virtio_blk.ko', 'ext4.ko', 'sdhci-iproc.ko']) assert.ok(initrd.includes(module), `initramfs lacks ${module}`);
  });

  test('filesystems clean; units verify against the real arm64 root with no output', () => {
    for (const n of [5, 6, 7]) assert.equal(e2fsck(`${card.path}?offset=${card.offset(n)}`).status, 0);
    const units = ['sidewalk-runtime.service', 'sidewalk-ota.service', 'sidewalk-provision.service', 'sidewalk-prometheus-agent.service'].map((u) => `/etc/systemd/system/${u}`);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${rootDump}`, '--man=no', ...units], { encoding: 'utf8' });
    assert.deepEqual({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }, { status: 0, output: '' });
    assert.deepEqual(card.inode(5, '/usr/bin/passwd').mode, '04755');
    assert.match(card.debugfs(5, 'cat /usr/lib/os-release'), /bookworm/);
    assert.equal(card.debugfs(5, 'cat /etc/machine-id'), '');
  });

  test('root A boots under qemu-system-aarch64 -M virt and the runtime in replay mode reaches READY', async () => {
    // A provisioned card whose runtime replays the sample ride: written into the data partition (p7).
    const data = join(work, 'data-in');
    mkdirSync(data);
    const config = {
      mode: 'replay',
      device: { id: 'qemu-virt', location: 'slow-tier' },
      model: { bundle: '/var/lib/sidewalk/models/current', delegate: 'xnnpack', num_threads: 2 },
      camera: { source: 'replay', width: 256, height: 192, fps: 15, replay: { input: '/var/lib/sidewalk/replay/sample-ride.mp4', realtime: true } },
      limiter: { kind: 'simulated' },
      speed_source: { kind: 'none' },
    };
    writeFileSync(join(data, 'runtime.yaml'), stringify(config));
    writeFileSync(join(data, 'provisioned'), 'qemu-virt\n');
    const cmds = [
      'mkdir /sidewalk/replay',
      `write ${join(REPO, 'demo/sample-ride.mp4')} /sidewalk/replay/sample-ride.mp4`,
      'mkdir /sidewalk/models',
      'mkdir /sidewalk/models/current',
      ...['model.tflite', 'manifest.json'].map((f) => `write ${join(REPO, 'demo/model', f)} /sidewalk/models/current/${f}`),
      'rm /device/runtime.yaml',
      `write ${join(data, 'runtime.yaml')} /device/runtime.yaml`,
      `write ${join(data, 'provisioned')} /device/provisioned`,
    ];
    writeFileSync(join(work, 'data.debugfs'), `${cmds.join('\n')}\n`);
    execFileSync('debugfs', ['-w', '-f', join(work, 'data.debugfs'), `${card.path}?offset=${card.offset(7)}`], { env: ENV, stdio: 'ignore' });
    assert.equal(e2fsck(`${card.path}?offset=${card.offset(7)}`).status, 0);
    // Emulation (TCG) runs the Pi's start-up far slower than a Pi: the unit's 90 s start limit would end
    // the runtime before its first frame. A drop-in on this test card's root A gives it 15 minutes.
    writeFileSync(join(data, 'tcg.conf'), '# qemu slow tier only\n[Service]\nTimeoutStartSec=15min\n');
    writeFileSync(join(work, 'root.debugfs'), `write ${join(data, 'tcg.conf')} /etc/systemd/system/sidewalk-runtime.service.d/90-qemu-tcg.conf\n`);
    execFileSync('debugfs', ['-w', '-f', join(work, 'root.debugfs'), `${card.path}?offset=${card.offset(5)}`], { env: ENV, stdio: 'ignore' });
    assert.match(card.debugfs(5, 'cat /etc/systemd/system/sidewalk-runtime.service.d/90-qemu-tcg.conf'), /TimeoutStartSec=15min/);

    const result = await bootUntil({
      image: card.path,
      kernel: join(bootA, 'vmlinuz'),
      initrd: join(bootA, 'initrd.img'),
      cmdline: `${card.fatRead(2, 'cmdline.txt')} systemd.journald.forward_to_console=1`,
      milestones: {
        initramfs: /initramfs: root PARTUUID=ab12cd34-05 is \/dev\/vda5/,
        systemd: /systemd\[1\]: systemd 252/,
        data: /Mounted data\.mount/,
        // The console is 80 columns wide: systemd shortens long unit names (sidewalk-provisi…).
        provisioning: /Finished sidewalk-provisi/,
        ready: /Started sidewalk-runtime/,
      },
      goal: /Started sidewalk-runtime/,
      fatal: /Failed to start sidewalk-runtime\.service|Kernel panic|initramfs: (no|cannot)/,
      timeoutMs: 900_000,
      logFile: join(tmpdir(), 'sidewalk-qemu-boot.log'),
    });
    say(`qemu boot: ${result.why} after ${result.seconds.toFixed(0)} s; milestones ${JSON.stringify(result.milestones)} (console: ${join(tmpdir(), 'sidewalk-qemu-boot.log')})`);
    assert.ok(result.reached, `${result.why}\n${result.consoleTail}`);
    for (const m of ['initramfs', 'systemd', 'data', 'provisioning']) assert.ok(result.milestones[m] !== undefined, `no ${m} milestone before READY`);
  });
});
