/**
 * `sidewalk image build` from a small synthetic base tarball (no network), then the card is read back
 * without mounting it: partition table (sfdisk --json), autoboot.txt and both cmdline.txt (mtools),
 * ext4 contents, modes and owners (debugfs), fsck of every filesystem, the units under
 * `systemd-analyze verify --root` and `security --offline`, and first-boot provisioning run on copies
 * of the card's data and boot A partitions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { validateOtaConfig } from '../../ota/config.js';
import { runSidewalk } from '../helpers/cli-guard.js';
import { DIST_ROOT, REPO_ROOT } from '../helpers/paths.js';
import { makeCert, provisionYaml } from './certs.js';
import { Card, e2fsck, fsckFat, makeAppBundle, makeSyntheticTar, makeVerifyKey } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';

/** Highest accepted `systemd-analyze security` exposure per unit (0 = locked down, 10 = fully exposed). The
 * updater runs as root by design (it writes block devices and the firmware mailbox), hence its higher bound. */
const EXPOSURE_LIMIT: Record<string, number> = { 'sidewalk-runtime.service': 4.0, 'sidewalk-provision.service': 4.0, 'sidewalk-ota.service': 6.5, 'sidewalk-grow-data.service': 4.0 };
const DEVICE_UNITS = Object.keys(EXPOSURE_LIMIT);

describe('image build (MBR, synthetic base tarball)', () => {
  let work: string;
  let card: Card;
  let rootDump: string;
  let publicPem: string;
  let buildOutput: string;

  before(async () => {
    work = makeTempDirSync('sidewalk-image-');
    const tar = makeSyntheticTar(work);
    makeAppBundle(join(work, 'app'));
    publicPem = makeVerifyKey(work).publicPem;
    const out = join(work, 'card.img');
    const r = await runSidewalk(
      ['image', 'build', '-o', out, '--app', join(work, 'app'), '--verify-key', publicPem, '--base-tar', tar, '--boot-size', '64', '--root-size', '64', '--data-size', '32'],
      { timeoutMs: 120_000 },
    );
    buildOutput = r.stderr;
    assert.equal(r.code, 0, r.stderr);
    card = new Card(out);
    rootDump = card.dumpExt4(5, join(work, 'rootA'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('reports progress and leaves only the image beside it', () => {
    assert.match(buildOutput, /\[1\/6\] base root from tar/);
    assert.match(buildOutput, /\[5\/6\] genimage/);
    assert.match(buildOutput, /\[6\/6\] ext4 inode change times/);
    assert.match(buildOutput, /wrote .*card\.img: \d+ MiB/);
    assert.deepEqual(
      readdirSync(work).filter((f) => f.startsWith('.card.img')),
      [],
    );
  });

  test('partition table: MBR with the fixed signature, p1-p3 FAT32, extended p4 holding p5-p7 ext4', () => {
    assert.equal(card.table.label, 'dos');
    assert.equal(card.table.id, '0xab12cd34');
    assert.deepEqual(
      card.table.partitions.map((p) => [p.number, p.type]),
      [
        [1, 'c'],
        [2, 'c'],
        [3, 'c'],
        [4, 'f'],
        [5, '83'],
        [6, '83'],
        [7, '83'],
      ],
    );
    assert.equal(card.part(1).bootable, true);
    assert.ok(card.part(1).size * 512 >= 64 * 2 ** 20, 'selector >= 64 MiB');
    assert.equal(card.part(5).size, card.part(6).size, 'root slots are the same size');
    const ext = card.part(4);
    for (const n of [5, 6, 7]) assert.ok(card.part(n).start > ext.start && card.part(n).start + card.part(n).size <= ext.start + ext.size, `p${n} inside the extended partition`);
    const verify = spawnSync('sfdisk', ['--verify', card.path], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });

  test('selector holds only autoboot.txt: A by default, B on tryboot', () => {
    assert.deepEqual(card.fatList(1), ['autoboot.txt']);
    assert.equal(card.fatRead(1, 'autoboot.txt'), '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n');
  });

  test("each boot slot's cmdline.txt names its own root by PARTUUID, read-only", () => {
    assert.match(card.fatRead(2, 'cmdline.txt'), /^console=tty1 .*\broot=PARTUUID=ab12cd34-05 rootfstype=ext4 rootwait ro\b/);
    assert.match(card.fatRead(3, 'cmdline.txt'), /\broot=PARTUUID=ab12cd34-06 /);
    for (const n of [2, 3]) {
      // The UARTs are the limiter's and the GPS's (docs/hardware.md): no serial console on them.
      assert.doesNotMatch(card.fatRead(n, 'cmdline.txt'), /console=(serial|ttyAMA|ttyS)/);
      assert.deepEqual(card.fatList(n), ['bcm2711-rpi-4-b.dtb', 'cmdline.txt', 'config.txt', 'fixup4.dat', 'initrd.img', 'start4.elf', 'vmlinuz']);
      const config = card.fatRead(n, 'config.txt');
      assert.match(config, /^kernel=vmlinuz\ninitramfs initrd\.img followkernel\n/);
      assert.ok(config.includes(readFileSync(join(REPO_ROOT, 'image/boot/config.txt'), 'utf8').trim()), 'image/boot/config.txt is included');
      // The hardware settings of docs/hardware.md, read from the built card: a released GPIO line
      // reverts to its pull (limited), the full UART is enabled and taken from Bluetooth.
      for (const line of ['dtparam=strict_gpiod', 'enable_uart=1', 'dtoverlay=disable-bt']) {
        assert.match(config, new RegExp(`^${line}$`, 'm'), `${line} in boot slot ${n}'s config.txt`);
      }
    }
    assert.equal(card.fatRead(2, 'vmlinuz'), 'simulated kernel\n');
  });

  test('every filesystem is clean: fsck.fat -n on p1-p3, e2fsck -fn on p5-p7', () => {
    for (const n of [1, 2, 3]) {
      const r = fsckFat(card.extract(n, join(work, `p${n}.vfat`)));
      assert.equal(r.status, 0, `p${n}: ${r.output}`);
    }
    for (const n of [5, 6, 7]) {
      const r = e2fsck(`${card.path}?offset=${card.offset(n)}`);
      assert.equal(r.status, 0, `p${n}: ${r.output}`);
      assert.match(card.debugfs(n, 'stats'), /Block size:\s+4096/);
    }
    assert.match(card.debugfs(6, 'stats'), /Filesystem volume name:\s+rootB/);
    assert.deepEqual(
      card
        .debugfs(6, 'ls -p /')
        .trim()
        .split('\n')
        .map((l) => l.split('/')[5])
        .filter((n) => n && n !== '.' && n !== '..'),
      ['lost+found'],
    );
  });

  test('root A: owners and modes from the tarball and the overlay', () => {
    assert.deepEqual(card.inode(5, '/etc/shadow'), { type: 'regular', mode: '0640', uid: 0, gid: 42 });
    assert.deepEqual(card.inode(5, '/etc/gshadow'), { type: 'regular', mode: '0000', uid: 0, gid: 42 });
    assert.deepEqual(card.inode(5, '/usr/bin/passwd'), { type: 'regular', mode: '04755', uid: 0, gid: 0 });
    // The bundle arrives group-writable (0775); nobody but root may change code on the card.
    assert.deepEqual(card.inode(5, '/opt/sidewalk/bin/sidewalk'), { type: 'regular', mode: '0755', uid: 0, gid: 0 });
    assert.deepEqual(card.inode(5, '/etc/sidewalk/artifact-verify.pem'), { type: 'regular', mode: '0644', uid: 0, gid: 0 });
    assert.equal(card.debugfs(5, 'cat /etc/sidewalk/artifact-verify.pem'), readFileSync(publicPem, 'utf8'));
    assert.equal(card.inode(5, '/tmp').mode, '01777');
    assert.deepEqual(card.inode(5, '/etc/wpa_supplicant/wpa_supplicant-wlan0.conf'), { type: 'symlink', mode: '0777', uid: 0, gid: 0, link: '/data/device/secrets/wpa_supplicant-wlan0.conf' });
    assert.match(card.debugfs(5, 'cat /etc/passwd'), /^sidewalk:x:(\d+):(\d+):Sidewalk Guard:\/var\/lib\/sidewalk:\/usr\/sbin\/nologin$/m);
    assert.match(card.debugfs(5, 'cat /etc/group'), /^video:x:44:sidewalk$/m);
    assert.match(card.debugfs(5, 'cat /etc/group'), /^gpio:x:\d+:sidewalk$/m);
  });

  test('root A: units installed and enabled (not the training box pipeline), configs, journald limits, fstab', () => {
    const wants = card.debugfs(5, 'ls -p /etc/systemd/system/multi-user.target.wants');
    for (const unit of DEVICE_UNITS) {
      assert.equal(card.inode(5, `/etc/systemd/system/multi-user.target.wants/${unit}`).link, `../${unit}`);
      assert.equal(card.debugfs(5, `cat /etc/systemd/system/${unit}`), readFileSync(join(REPO_ROOT, 'image/systemd', unit), 'utf8'));
    }
    assert.match(wants, /wpa_supplicant@wlan0\.service/);
    assert.doesNotMatch(card.debugfs(5, 'ls -p /etc/systemd/system'), /sidewalk-pipeline/);
    assert.equal(card.debugfs(5, 'cat /etc/sidewalk/runtime.yaml'), readFileSync(join(REPO_ROOT, 'image/rootfs/etc/sidewalk/runtime.yaml'), 'utf8'));
    assert.match(card.debugfs(5, 'cat /etc/systemd/journald.conf.d/sidewalk.conf'), /^SystemMaxUse=64M$/m);
    const ota = validateOtaConfig(parse(card.debugfs(5, 'cat /etc/sidewalk/ota.yaml')));
    assert.equal(ota.boot.selector_device, '/dev/disk/by-partuuid/ab12cd34-01');
    assert.deepEqual(ota.boot.slots, {
      A: { boot_partition: 2, boot_device: '/dev/disk/by-partuuid/ab12cd34-02', root_device: '/dev/disk/by-partuuid/ab12cd34-05' },
      B: { boot_partition: 3, boot_device: '/dev/disk/by-partuuid/ab12cd34-03', root_device: '/dev/disk/by-partuuid/ab12cd34-06' },
    });
    const fstab = card.debugfs(5, 'cat /etc/fstab');
    assert.match(fstab, /^PARTUUID=ab12cd34-07\t\/data\text4\t/m);
    assert.match(fstab, /^\/data\/sidewalk\t\/var\/lib\/sidewalk\tnone\tbind/m);
    assert.match(fstab, /^\/data\/log\t\/var\/log\tnone\tbind/m);
    assert.match(fstab, /^PARTUUID=ab12cd34-02\t\/boot\/firmware\tvfat\tnoauto,/m);
    assert.doesNotMatch(fstab, /\s\/\s/, 'no fstab line remounts the root read-write');
    assert.match(card.debugfs(5, 'cat /etc/systemd/system/boot-firmware.mount.d/10-slot-a-only.conf'), /^ConditionKernelCommandLine=root=PARTUUID=ab12cd34-05$/m);
  });

  test('data partition: state directories moved off the read-only root, with their owners', () => {
    const uid = Number(/^sidewalk:x:(\d+):/m.exec(card.debugfs(5, 'cat /etc/passwd'))![1]);
    assert.deepEqual(card.inode(7, '/sidewalk'), { type: 'directory', mode: '0750', uid, gid: uid });
    assert.deepEqual(card.inode(7, '/log/journal'), { type: 'directory', mode: '02755', uid: 0, gid: 101 });
    assert.equal(card.debugfs(7, 'cat /log/dpkg.log'), 'base install log\n');
    assert.deepEqual(card.inode(7, '/device/secrets'), { type: 'directory', mode: '0750', uid: 0, gid: uid });
    assert.ok(card.debugfs(7, 'ls /systemd').includes('deb-systemd-helper-enabled'));
    assert.equal(card.debugfs(5, 'ls -p /var/log').trim().split('\n').length, 2, '/var/log on the root is an empty mount point');
  });

  test("units pass systemd-analyze verify --root against the card's root A with no output at all", () => {
    const verify = (root: string) => spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', ...DEVICE_UNITS.map((u) => `/etc/systemd/system/${u}`)], { encoding: 'utf8' });
    const r = verify(rootDump);
    assert.deepEqual({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }, { status: 0, output: '' });
    // The same check with one misspelt key in the provisioning unit reports it.
    const unit = join(rootDump, 'etc/systemd/system/sidewalk-provision.service');
    const good = readFileSync(unit, 'utf8');
    writeFileSync(unit, good.replace('RemainAfterExit=', 'RemainAfterExits='));
    try {
      assert.match(`${verify(rootDump).stderr}`, /Unknown key 'RemainAfterExits'/);
    } finally {
      writeFileSync(unit, good);
    }
  });

  test('the hardware watchdog is on and the runtime unit restores the limited state after any exit', () => {
    const watchdog = readFileSync(join(rootDump, 'etc/systemd/system.conf.d/sidewalk-watchdog.conf'), 'utf8');
    assert.match(watchdog, /^RuntimeWatchdogSec=\d+s$/m);
    // Debian's prometheus server unit is masked: the scooter runs Prometheus only as an agent.
    assert.equal(readlinkSync(join(rootDump, 'etc/systemd/system/prometheus.service')), '/dev/null');
    const runtime = readFileSync(join(rootDump, 'etc/systemd/system/sidewalk-runtime.service'), 'utf8');
    assert.match(runtime, /^ExecStopPost=\/opt\/sidewalk\/bin\/sidewalk limiter safe --config \S+$/m);
    // The card's drop-in moves the runtime to the provisioned config; the stop path must read the same file.
    const dropIn = readFileSync(join(rootDump, 'etc/systemd/system/sidewalk-runtime.service.d/10-device-config.conf'), 'utf8');
    const config = (key: string) => [...dropIn.matchAll(new RegExp(`^${key}=\\S.* --config (\\S+)$`, 'gm'))].map((m) => m[1]);
    assert.deepEqual(config('ExecStart'), ['/data/device/runtime.yaml']);
    assert.deepEqual(config('ExecStopPost'), ['/data/device/runtime.yaml']);
  });

  test(`systemd-analyze security --offline: exposure within ${JSON.stringify(EXPOSURE_LIMIT)}`, () => {
    for (const unit of DEVICE_UNITS) {
      const r = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${rootDump}`, '--no-pager', unit], { encoding: 'utf8' });
      const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
      assert.ok(m, `${unit}: ${r.stdout}${r.stderr}`);
      assert.ok(Number(m[1]) <= EXPOSURE_LIMIT[unit]!, `${unit}: exposure ${m[1]} > ${EXPOSURE_LIMIT[unit]}`);
    }
  });

  describe('first-boot provisioning on copies of the data and boot A partitions', () => {
    const copies = (name: string) => {
      const dir = join(work, name);
      return { data: card.dumpExt4(7, join(dir, 'data')), boot: card.dumpFat(2, join(dir, 'boot')) };
    };
    const provision = (c: { data: string; boot: string }) =>
      runSidewalk(['provision', '--boot', c.boot, '--data', c.data, '--runtime-config', join(rootDump, 'etc/sidewalk/runtime.yaml'), '--group-file', join(rootDump, 'etc/group')]);

    test('a valid file: identity and secrets on data with tight modes, secrets gone from FAT, runtime config in limit mode', async () => {
      const c = copies('prov-ok');
      const certs = join(work, 'certs');
      mkdirSync(certs, { recursive: true });
      const client = makeCert(certs, 'scooter-0042');
      writeFileSync(join(c.boot, 'sidewalk-provision.yaml'), provisionYaml({ deviceId: 'scooter-0042', ca: makeCert(certs, 'fleet-ca'), client }));
      const r = await provision(c);
      assert.equal(r.code, 0, r.stderr);
      const mode = (p: string) => (statSync(join(c.data, p)).mode & 0o7777).toString(8);
      assert.equal(mode('device/secrets'), '750');
      assert.equal(mode('device/secrets/client.key'), '640');
      assert.equal(mode('device/secrets/wpa_supplicant-wlan0.conf'), '600');
      assert.equal(mode('device/identity.yaml'), '644');
      if (process.getuid?.() === 0) {
        const gid = Number(/^sidewalk:x:\d+:(\d+):/m.exec(readFileSync(join(rootDump, 'etc/passwd'), 'utf8'))![1]);
        assert.equal(statSync(join(c.data, 'device/secrets/client.key')).gid, gid);
        assert.equal(statSync(join(c.data, 'device/secrets/wpa_supplicant-wlan0.conf')).gid, 0);
      }
      assert.equal(readFileSync(join(c.data, 'device/secrets/client.key'), 'utf8'), client.keyPem);
      assert.match(readFileSync(join(c.data, 'device/secrets/wpa_supplicant-wlan0.conf'), 'utf8'), /ssid="Depot-5G"\n\tpsk="correct horse battery"/);
      const runtime = parse(readFileSync(join(c.data, 'device/runtime.yaml'), 'utf8')) as { mode: string; device: { id: string; location: string } };
      assert.deepEqual([runtime.mode, runtime.device], ['limit', { id: 'scooter-0042', location: 'Denver' }]);
      const check = await runSidewalk(['config', 'check', join(c.data, 'device/runtime.yaml')]);
      assert.equal(check.code, 0, check.stderr);
      assert.match(readFileSync(join(c.data, 'device/provisioned'), 'utf8'), /^scooter-0042\n/);
      assert.ok(!existsSync(join(c.boot, 'sidewalk-provision.yaml')), 'the secrets are deleted from FAT');
      const left = readFileSync(join(c.boot, 'sidewalk-provision.done.yaml'), 'utf8');
      assert.match(left, /device_id: scooter-0042/);
      assert.doesNotMatch(left, /PRIVATE KEY|psk|BEGIN CERTIFICATE/);
      // The next boot finds nothing to do.
      const again = await provision(c);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /already provisioned as scooter-0042/);
    });

    test("with only the unit's capabilities (root, CapabilityBoundingSet=): a valid file is applied", async () => {
      // As on the scooter: root, but without the capabilities the unit's bounding set leaves out (the data
      // partition's state folder belongs to the service user, so root needs CAP_DAC_OVERRIDE to reach it).
      // Only root can be root without capabilities; the suite runs as root (scripts/setup.sh, CI).
      assert.equal(process.getuid?.(), 0, 'this check runs provisioning as root with reduced capabilities: run the suite as root');
      const unit = readFileSync(join(rootDump, 'etc/systemd/system/sidewalk-provision.service'), 'utf8');
      const caps = /^CapabilityBoundingSet=(.+)$/m.exec(unit)![1]!.trim().split(/\s+/);
      const c = copies('prov-caps');
      const certs = join(work, 'certs-caps');
      mkdirSync(certs, { recursive: true });
      writeFileSync(join(c.boot, 'sidewalk-provision.yaml'), provisionYaml({ deviceId: 'scooter-0043', ca: makeCert(certs, 'fleet-ca'), client: makeCert(certs, 'scooter-0043') }));
      const bounding = ['-all', ...caps.map((cap) => `+${cap.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
      const args = ['provision', '--boot', c.boot, '--data', c.data, '--runtime-config', join(rootDump, 'etc/sidewalk/runtime.yaml'), '--group-file', join(rootDump, 'etc/group')];
      const r = spawnSync('setpriv', [`--bounding-set=${bounding}`, '--inh-caps=-all', '--', process.execPath, join(DIST_ROOT, 'bin/sidewalk.js'), ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, `setpriv --bounding-set=${bounding}: ${r.stderr}`);
      assert.match(readFileSync(join(c.data, 'device/provisioned'), 'utf8'), /^scooter-0043\n/);
    });

    test('no file on a fresh card: monitor-mode runtime config, a coded failure in the journal, nothing half-written', async () => {
      const c = copies('prov-missing');
      const r = await provision(c);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^sidewalk: PROVISION_MISSING: .*monitor mode, limiter at its fail-safe$/m);
      const runtime = parse(readFileSync(join(c.data, 'device/runtime.yaml'), 'utf8')) as { mode: string; device: { id: string } };
      assert.deepEqual([runtime.mode, runtime.device.id], ['monitor', 'unprovisioned']);
      const check = await runSidewalk(['config', 'check', join(c.data, 'device/runtime.yaml')]);
      assert.equal(check.code, 0, check.stderr);
      assert.equal((JSON.parse(readFileSync(join(c.data, 'device/provision-status.json'), 'utf8')) as { state: string }).state, 'unprovisioned');
      assert.ok(!existsSync(join(c.data, 'device/provisioned')));
      assert.deepEqual(readdirSync(join(c.data, 'device/secrets')), []);
    });
  });
});
