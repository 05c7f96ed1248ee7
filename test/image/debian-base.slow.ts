/**
 * Slow tier (not in `npm test`; `npm run test:image-slow`, or `bash scripts/test-slow.sh dist/test/image`):
 * a card from the real base, Debian bookworm arm64 by mmdebstrap (raspi-firmware, linux-image-arm64,
 * systemd, ffmpeg, busybox-static), cached in ~/.cache/sidewalk/image-base, with the real arm64 app
 * bundle (built here, or SIDEWALK_IMAGE_APP=<bundle dir>). Then the card's root A is booted under
 * qemu-system-aarch64 -M virt with the kernel and our initramfs from boot slot A, until the runtime,
 * in replay mode, tells systemd READY=1; the card is larger than the image, so the first boot grows the data partition
 * (and reboots); the journal, the machine-id and the grown filesystem are then read back from the card. Needs the network (Debian mirror, first build only), qemu-user
 * registered through binfmt_misc (scripts/slow-prereqs.sh does it as root) and qemu-system-arm.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { buildAppBundle } from '../../build/bundle/index.js';
import { ALIGN_SECTORS } from '../../image/grow-data.js';
import { runSidewalk } from '../helpers/cli-guard.js';
import { makeCert, provisionYaml } from './certs.js';
import { Card, e2fsck, makeVerifyKey } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';
import { bootUntil } from './qemu-boot.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, MTOOLS_SKIP_CHECK: '1' };
/** How much larger than the image the simulated SD card is. */
const GROW_MIB = 512;
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
    const units = ['sidewalk-runtime.service', 'sidewalk-ota.service', 'sidewalk-provision.service', 'sidewalk-grow-data.service', 'sidewalk-prometheus-agent.service'].map(
      (u) => `/etc/systemd/system/${u}`,
    );
    const r = spawnSync('systemd-analyze', ['verify', `--root=${rootDump}`, '--man=no', ...units], { encoding: 'utf8' });
    assert.deepEqual({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }, { status: 0, output: '' });
    assert.deepEqual(card.inode(5, '/usr/bin/passwd').mode, '04755');
    assert.match(card.debugfs(5, 'cat /usr/lib/os-release'), /bookworm/);
    assert.equal(card.debugfs(5, 'cat /etc/machine-id'), '');
  });

  test('root A boots under qemu-system-aarch64 -M virt and the runtime in replay mode reaches READY', async () => {
    // The card as an operator prepares it: a provisioning file on boot slot A (p2), which the first full
    // boot applies. The runtime replays the sample ride instead of a camera: its config, the demo model
    // and the video go onto the data partition (p7), and a test-only drop-in points the unit at it.
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
    const certs = join(work, 'certs');
    mkdirSync(certs);
    writeFileSync(join(data, 'sidewalk-provision.yaml'), provisionYaml({ deviceId: 'scooter-qemu', ca: makeCert(certs, 'fleet-ca'), client: makeCert(certs, 'scooter-qemu') }));
    execFileSync('mcopy', ['-i', `${card.path}@@${card.offset(2)}`, join(data, 'sidewalk-provision.yaml'), '::sidewalk-provision.yaml'], { env: ENV });
    const cmds = [
      'mkdir /sidewalk/replay',
      `write ${join(REPO, 'demo/sample-ride.mp4')} /sidewalk/replay/sample-ride.mp4`,
      'mkdir /sidewalk/models',
      'mkdir /sidewalk/models/current',
      ...['model.tflite', 'manifest.json'].map((f) => `write ${join(REPO, 'demo/model', f)} /sidewalk/models/current/${f}`),
      `write ${join(data, 'runtime.yaml')} /sidewalk/qemu-runtime.yaml`,
    ];
    writeFileSync(join(work, 'data.debugfs'), `${cmds.join('\n')}\n`);
    execFileSync('debugfs', ['-w', '-f', join(work, 'data.debugfs'), `${card.path}?offset=${card.offset(7)}`], { env: ENV, stdio: 'ignore' });
    assert.equal(e2fsck(`${card.path}?offset=${card.offset(7)}`).status, 0);
    // Emulation (TCG) runs the Pi's start-up far slower than a Pi: the unit's 90 s start limit would end
    // the runtime before its first frame. A drop-in on this test card's root A runs it on the replay
    // config, gives it 15 minutes and, once the runtime has sent READY=1 (ExecStartPost runs only after it, for Type=notify), powers the
    // guest off, so that the journal on the data partition is complete and clean for reading back.
    // (systemd stops printing unit status on the console once boot is over, and the sandboxed unit's
    // ExecStartPost output to /dev/console or /dev/kmsg never showed there, so READY is read from the journal.)
    const dropIn = [
      '# qemu slow tier only',
      '[Service]',
      'TimeoutStartSec=15min',
      'ExecStart=',
      'ExecStart=/opt/sidewalk/bin/sidewalk run --config /var/lib/sidewalk/qemu-runtime.yaml',
      'ExecStartPost=+/bin/systemctl --no-block start poweroff.target',
      'ExecStopPost=',
      'ExecStopPost=/opt/sidewalk/bin/sidewalk limiter safe --config /var/lib/sidewalk/qemu-runtime.yaml',
      '',
    ].join('\n');
    writeFileSync(join(data, 'tcg.conf'), dropIn);
    writeFileSync(join(work, 'root.debugfs'), `write ${join(data, 'tcg.conf')} /etc/systemd/system/sidewalk-runtime.service.d/90-qemu-tcg.conf\n`);
    execFileSync('debugfs', ['-w', '-f', join(work, 'root.debugfs'), `${card.path}?offset=${card.offset(5)}`], { env: ENV, stdio: 'ignore' });
    assert.match(card.debugfs(5, 'cat /etc/systemd/system/sidewalk-runtime.service.d/90-qemu-tcg.conf'), /TimeoutStartSec=15min/);
    // The card is larger than the image: the first boot grows the data partition.
    const dataBefore = card.part(7).size;
    truncateSync(card.path, statSync(card.path).size + GROW_MIB * 2 ** 20);

    const boot = (logFile: string, goal: RegExp) =>
      bootUntil({
        image: card.path,
        kernel: join(bootA, 'vmlinuz'),
        initrd: join(bootA, 'initrd.img'),
        cmdline: card.fatRead(2, 'cmdline.txt'),
        milestones: {
          initramfs: /initramfs: root PARTUUID=ab12cd34-05 is \/dev\/vda5/,
          machineId: /initramfs: machine-id [0-9a-f]{32}/,
          systemd: /systemd\[1\]: systemd 252/,
          data: /Mounted data\.mount/,
          // The console is 80 columns wide: systemd shortens long unit names (sidewalk-provisi…).
          provisioning: /Finished sidewalk-provisi/,
        },
        goal,
        waitForExit: true,
        fatal: /Failed to start sidewalk-runtime\.service|Kernel panic|initramfs: (no|cannot)/,
        timeoutMs: 1_200_000,
        logFile,
      });
    const machineIdOf = (log: string, how: string) => new RegExp(`initramfs: machine-id ([0-9a-f]{32}) \\(${how}`).exec(readFileSync(log, 'utf8'))?.[1];

    // Boot 1: the data partition's table entries grow and the guest reboots (-no-reboot: QEMU exits).
    const firstLog = join(tmpdir(), 'sidewalk-qemu-boot-1.log');
    const first = await boot(firstLog, /reboot: Restarting system/);
    say(`boot 1 (grow the table): ${first.why} after ${first.seconds.toFixed(0)} s; milestones ${JSON.stringify(first.milestones)} (console: ${firstLog})`);
    assert.ok(first.reached, `${first.why}\n${first.consoleTail}`);
    const machineId = machineIdOf(firstLog, 'new');
    assert.ok(machineId, 'the first boot made a new machine-id');
    assert.equal(card.debugfs(7, 'cat /device/machine-id').trim(), machineId);
    const grown = new Card(card.path);
    const end = Math.floor(statSync(card.path).size / 512 / ALIGN_SECTORS) * ALIGN_SECTORS;
    assert.equal(grown.part(7).start + grown.part(7).size, end, 'p7 ends at the end of the card');
    assert.ok(grown.part(7).size >= dataBefore + (GROW_MIB - 4) * 2048);

    // Boot 2: the filesystem grows online, provisioning, the runtime's READY, power-off.
    const secondLog = join(tmpdir(), 'sidewalk-qemu-boot-2.log');
    const result = await boot(secondLog, /reboot: Power down/);
    say(`boot 2 (to READY): ${result.why} after ${result.seconds.toFixed(0)} s; milestones ${JSON.stringify(result.milestones)} (console: ${secondLog})`);
    // The card's journal first, so that whatever fails below can be read (kept in $TMPDIR after the test).
    const dataAt = `${card.path}?offset=${grown.offset(7)}`;
    const logs = join(tmpdir(), 'sidewalk-qemu-journal');
    rmSync(logs, { recursive: true, force: true });
    mkdirSync(logs);
    execFileSync('debugfs', ['-R', `rdump /log/journal ${logs}`, dataAt], { env: ENV, stdio: 'ignore' });
    const journal = (unit: string, format = 'cat') => execFileSync('journalctl', ['--directory', join(logs, 'journal'), '--no-pager', '-o', format, '-u', unit], { encoding: 'utf8' });
    const provisionLog = journal('sidewalk-provision.service');
    assert.ok(result.reached, `${result.why}\n${result.consoleTail}`);
    for (const m of ['initramfs', 'machineId', 'systemd', 'data', 'provisioning']) assert.ok(result.milestones[m] !== undefined, `no ${m} milestone in boot 2; provisioning said:\n${provisionLog}`);
    assert.equal(machineIdOf(secondLog, 'kept'), machineId, 'the second boot keeps the machine-id');

    // Read back from the card: a clean data partition that fills p7, the marker, and one journal folder
    // (named by the kept machine-id) holding the growth, the provisioning and the runtime's READY.
    assert.equal(e2fsck(dataAt).status, 0, 'the data partition is clean after the power-off');
    const blocks = Number(/Block count:\s+(\d+)/.exec(grown.debugfs(7, 'stats'))![1]);
    assert.equal(blocks * 4096, grown.part(7).size * 512, 'the filesystem fills the grown partition');
    assert.match(grown.debugfs(7, 'cat /device/data-grown'), /^grown: /);
    assert.deepEqual(readdirSync(join(logs, 'journal')), [machineId], 'one journal folder, named by the kept machine-id');
    assert.match(journal('sidewalk-grow-data.service'), /p7 1024 -> \d+ MiB in the partition table; rebooting once[\s\S]*filesystem fills p7/);
    // Provisioning ran for real in boot 2: boot slot A mounted, the file applied, the secrets gone from FAT.
    assert.match(journal('boot-firmware.mount'), /Mounted boot-firmware\.mount/);
    assert.match(provisionLog, /provision: provisioned scooter-qemu; secrets moved/);
    assert.deepEqual(
      new Card(card.path).fatList(2).filter((f) => f.startsWith('sidewalk-provision')),
      ['sidewalk-provision.done.yaml'],
    );
    assert.match(grown.debugfs(7, 'cat /device/identity.yaml'), /scooter-qemu/);
    assert.deepEqual([grown.inode(7, '/device/secrets/client.key').mode, grown.inode(7, '/device/secrets/client.key').uid], ['0640', 0]);
    // short-monotonic: seconds since the kernel started, about the same as since QEMU started.
    const ready = /^\[\s*(\d+\.\d+)\].*first frame classified: ready/m.exec(journal('sidewalk-runtime.service', 'short-monotonic'));
    assert.ok(ready, 'the runtime logged its first classified frame (it sends READY=1 right after)');
    say(`boot 2: the runtime's READY ${Number(ready[1]).toFixed(0)} s after the kernel started`);
  });
});
