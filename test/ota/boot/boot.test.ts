import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { formatAutoboot, parseAutoboot } from '../../../ota/boot/autoboot.js';
import { decodeDtU32, encodeDtU32, readBootloaderDt } from '../../../ota/boot/device-tree.js';
import { RealBootControl, rebootCommands, sysfsSizeBytes } from '../../../ota/boot/real.js';
import { checkSimImage, makeSimImage } from '../../../ota/boot/sim-image.js';
import { SimulatedBootControl, SimulatedFirmware, simulatedLayout } from '../../../ota/boot/simulated.js';
import { nodeFs } from '../../../ota/fs.js';
import { makeTempDirSync } from '../../helpers/temp.js';

describe('autoboot.txt', () => {
  test('parses the official example and our canonical form round-trips', () => {
    const a = parseAutoboot('[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n');
    assert.deepEqual(a, { defaultPartition: 2, trybootPartition: 3, trybootAB: true });
    assert.deepEqual(parseAutoboot(formatAutoboot(3, 2)), { defaultPartition: 3, trybootPartition: 2, trybootAB: true });
  });

  test('a missing [tryboot] section tries the default partition; comments and CRLF are fine', () => {
    assert.deepEqual(parseAutoboot('# selector\r\n[all]\r\nboot_partition=2\r\n'), { defaultPartition: 2, trybootPartition: 2, trybootAB: false });
  });

  test('errors name the line at fault', () => {
    assert.throws(() => parseAutoboot('[all]\nboot_partition=2\n[pi5]\n'), /line 3: unsupported filter \[pi5\]/);
    assert.throws(() => parseAutoboot('[all]\nboot_partition two\n'), /line 2: expected key=value/);
    assert.throws(() => parseAutoboot('[tryboot]\nboot_partition=3\n'), /\[all\] has no boot_partition/);
    assert.throws(
      () => parseAutoboot(`[all]\nboot_partition=2\n#${'x'.repeat(600)}\n`),
      (e) => isSidewalkError(e, 'OTA_AUTOBOOT_INVALID') && /512/.test(e.message),
    );
  });
});

describe('device tree', () => {
  test('bootloader properties are 32-bit big-endian integers', () => {
    assert.equal(decodeDtU32(Buffer.from([0, 0, 0, 3]), 'partition'), 3);
    assert.deepEqual([...encodeDtU32(2)], [0, 0, 0, 2]);
    assert.throws(() => decodeDtU32(Buffer.from('3\n'), 'partition'), /4-byte big-endian/);
  });
});

describe('real backend (pure parts)', () => {
  test('tryboot through the mailbox, or through the reboot argument', () => {
    assert.deepEqual(rebootCommands('vcmailbox', true), [
      ['vcmailbox', ['0x00038064', '4', '0', '1']],
      ['systemctl', ['reboot']],
    ]);
    assert.deepEqual(rebootCommands('reboot-arg', true), [['systemctl', ['reboot', '0 tryboot']]]);
    assert.deepEqual(rebootCommands('vcmailbox', false), [['systemctl', ['reboot']]]);
  });

  test('sysfs sizes are 512-byte sectors', () => {
    assert.equal(sysfsSizeBytes('524288\n', 'size'), 268435456);
    assert.throws(() => sysfsSizeBytes('x', '/sys/class/block/mmcblk0p5/size'), /mmcblk0p5\/size: not a sector count/);
  });

  test('reads the booted slot from a device tree and stops on a failing reboot command', async () => {
    const dir = makeTempDirSync('sidewalk-real-');
    try {
      const layout = simulatedLayout(dir);
      const calls: string[] = [];
      const real = new RealBootControl({
        selectorDir: layout.selectorDir,
        slots: layout.slots,
        dtRoot: layout.dtRoot,
        run: async (cmd, args) => {
          calls.push([cmd, ...args].join(' '));
          return cmd === 'vcmailbox' ? { code: 1, stdout: '', stderr: 'mailbox: permission denied' } : { code: 0, stdout: '', stderr: '' };
        },
      });
      SimulatedFirmware.createDisk(layout, { bootBytes: 4096, rootBytes: 8192, bootA: makeSimImage({ version: 'b', bodyBytes: 100 }), rootA: makeSimImage({ version: '1', bodyBytes: 100 }) });
      new SimulatedFirmware(layout).boot();
      assert.deepEqual(await real.booted(), { slot: 'A', partition: 2, tryboot: false });
      await assert.rejects(real.reboot({ tryboot: true }), /OTA_REBOOT_FAILED|vcmailbox 0x00038064 4 0 1 exited 1: mailbox: permission denied/);
      assert.deepEqual(calls, ['vcmailbox 0x00038064 4 0 1'], 'no plain reboot after a failed flag write');
      await real.commit('B');
      assert.equal(readFileSync(join(layout.selectorDir, 'autoboot.txt'), 'utf8'), formatAutoboot(3, 2));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('simulated firmware', () => {
  let dir: string;
  let firmware: SimulatedFirmware;
  let boot: SimulatedBootControl;
  before(() => {
    dir = makeTempDirSync('sidewalk-fw-');
    const layout = simulatedLayout(dir);
    SimulatedFirmware.createDisk(layout, { bootBytes: 4096, rootBytes: 8192, bootA: makeSimImage({ version: 'boot-1', bodyBytes: 500 }), rootA: makeSimImage({ version: '1', bodyBytes: 1000 }) });
    firmware = new SimulatedFirmware(layout);
    boot = new SimulatedBootControl({ fs: nodeFs, firmware });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const writeSlotB = (version: string, panics = false) => {
    const { slots } = firmware.layout;
    const pad = (b: Buffer, n: number) => Buffer.concat([b, Buffer.alloc(n - b.length)]);
    writeFileSync(slots.B.bootDevice, pad(makeSimImage({ version: `boot-${version}`, bodyBytes: 500 }), 4096));
    writeFileSync(slots.B.rootDevice, pad(makeSimImage({ version, bodyBytes: 1000, panics }), 8192));
  };

  test('boots the [all] partition, and the [tryboot] one exactly once after a tryboot reboot', async () => {
    const first = firmware.boot();
    assert.ok(first.ok && first.slot === 'A' && !first.tryboot);
    assert.deepEqual(await boot.booted(), { slot: 'A', partition: 2, tryboot: false });
    writeSlotB('2');
    await boot.reboot({ tryboot: true });
    const trial = firmware.boot();
    assert.ok(trial.ok && trial.slot === 'B' && trial.tryboot, JSON.stringify(trial));
    assert.deepEqual(await boot.booted(), { slot: 'B', partition: 3, tryboot: true });
    const again = firmware.boot(); // a reset during the trial: the flag was cleared before the trial booted
    assert.ok(again.ok && again.slot === 'A');
  });

  test('a power cut clears the tryboot flag', async () => {
    await boot.reboot({ tryboot: true });
    firmware.powerCut();
    const b = firmware.boot();
    assert.ok(b.ok && b.slot === 'A' && !b.tryboot);
  });

  test('a trial that panics or cannot mount its root falls back to the default slot', async () => {
    writeSlotB('3', true);
    await boot.reboot({ tryboot: true });
    const b = firmware.boot();
    assert.ok(b.ok && b.slot === 'A', JSON.stringify(b));
    assert.match(b.log.join(';'), /slot B kernel panics/);
    writeFileSync(firmware.layout.slots.B.rootDevice, Buffer.alloc(8192));
    await boot.reboot({ tryboot: true });
    const c = firmware.boot();
    assert.ok(c.ok && c.slot === 'A');
    assert.match(c.log.join(';'), /root filesystem is damaged/);
  });

  test('a committed default that cannot boot, or a damaged autoboot.txt, bricks the device', async () => {
    writeSlotB('4');
    await boot.commit('B');
    assert.deepEqual(await boot.readAutoboot(), { defaultPartition: 3, trybootPartition: 2, trybootAB: true });
    assert.ok(firmware.boot().ok);
    writeFileSync(firmware.layout.slots.B.bootDevice, Buffer.alloc(4096));
    const b = firmware.boot();
    assert.equal(b.ok, false);
    await boot.commit('A');
    assert.ok(firmware.boot().ok);
    writeFileSync(join(firmware.layout.selectorDir, 'autoboot.txt'), '[all]\nboot_parti');
    assert.equal(firmware.boot().ok, false);
  });

  test('sim images detect torn writes', () => {
    const img = makeSimImage({ version: '9', bodyBytes: 2000 });
    assert.equal(checkSimImage(img)?.version, '9');
    const torn = Buffer.concat([img.subarray(0, 1500), Buffer.alloc(img.length - 1500)]);
    assert.equal(checkSimImage(torn), null);
  });

  test('reading a missing device tree says so', async () => {
    await assert.rejects(readBootloaderDt(nodeFs, join(dir, 'nope')), /OTA_DEVICE_TREE|cannot read/);
  });
});
