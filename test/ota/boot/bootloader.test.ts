/**
 * Real-board checks of the OS updater: an EEPROM too old for A/B tryboot refuses the update before
 * anything is written, and a firmware mailbox that ignores the tryboot tag stops the reboot.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { checkTrybootSupport, MIN_TRYBOOT_BOOTLOADER } from '../../../ota/boot/device-tree.js';
import { checkMailboxReply, RealBootControl } from '../../../ota/boot/real.js';
import { simulatedLayout } from '../../../ota/boot/simulated.js';
import { nodeFs } from '../../../ota/fs.js';
import { SimDevice, osArtifact } from '../sim-device.js';

const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 1000;
const tooOld = (e: unknown, pattern: RegExp): boolean => isSidewalkError(e, 'OTA_BOOTLOADER_TOO_OLD') && pattern.test((e as Error).message) && /rpi-eeprom-update -a/.test((e as Error).message);

describe('bootloader version', () => {
  test('2022-11-25 is the first build accepted by date; capabilities decide when present', () => {
    assert.equal(MIN_TRYBOOT_BOOTLOADER.unixSeconds, day('2022-11-25'));
    checkTrybootSupport({ buildTimestamp: day('2022-11-25'), capabilities: null }, '/dt');
    assert.throws(
      () => checkTrybootSupport({ buildTimestamp: day('2022-11-24'), capabilities: null }, '/dt'),
      (e) => tooOld(e, /built 2022-11-24/),
    );
    assert.throws(
      () => checkTrybootSupport({ buildTimestamp: null, capabilities: null }, '/dt'),
      (e) => tooOld(e, /no build_timestamp/),
    );
    // bit 2 TRYBOOT_A_B, bit 3 TRYBOOT
    checkTrybootSupport({ buildTimestamp: day('2020-01-01'), capabilities: 0b1100 }, '/dt');
    assert.throws(
      () => checkTrybootSupport({ buildTimestamp: day('2024-01-01'), capabilities: 0b1011 }, '/dt'),
      (e) => tooOld(e, /lack TRYBOOT_A_B/),
    );
  });

  test('an OS update on an old EEPROM is refused before the inactive slot is touched', async () => {
    const template = SimDevice.template();
    const dev = SimDevice.fromTemplate(template);
    try {
      dev.firmware.bootloader = { buildTimestamp: day('2022-09-02'), capabilities: null };
      dev.boot();
      dev.artifacts.set('/data/next.mender', osArtifact('2.0'));
      const slotB = readFileSync(dev.firmware.layout.slots.B.rootDevice);
      const updater = await dev.updater(nodeFs).init();
      const outcome = await updater.install('/data/next.mender').catch((e: unknown) => e);
      const message = outcome instanceof Error ? outcome.message : JSON.stringify(outcome);
      assert.match(message, /OTA_BOOTLOADER_TOO_OLD|bootloader was built 2022-09-02/);
      assert.deepEqual(readFileSync(dev.firmware.layout.slots.B.rootDevice), slotB, 'slot B unchanged');
      assert.equal(dev.autobootDefaultSlot(), 'A');
    } finally {
      dev.remove();
      rmSync(template, { recursive: true, force: true });
    }
  });
});

describe('firmware mailbox reply', () => {
  const cmd = 'vcmailbox 0x00038064 4 0 1';
  test('success needs response 0x80000000 and the tag marked handled', () => {
    checkMailboxReply('0x0000001c 0x80000000 0x00038064 0x00000004 0x80000004 0x00000001 0x00000000 \n', cmd);
    assert.throws(() => checkMailboxReply('0x0000001c 0x80000001 0x00038064 0x00000004 0x00000000 0x00000001 0x00000000', cmd), /response code 0x80000001/);
    assert.throws(() => checkMailboxReply('0x0000001c 0x80000000 0x00038064 0x00000004 0x00000000 0x00000001 0x00000000', cmd), /did not handle tag 0x00038064/);
    assert.throws(() => checkMailboxReply('ioctl_set_msg failed:-1', cmd), /unexpected reply/);
  });

  test('a reboot whose mailbox call exits 0 with an error word does not reboot', async () => {
    const layout = simulatedLayout('/nonexistent');
    const calls: string[] = [];
    const real = new RealBootControl({
      selectorDir: layout.selectorDir,
      slots: layout.slots,
      run: async (command, args) => {
        calls.push([command, ...args].join(' '));
        return { code: 0, stdout: '0x0000001c 0x80000001 0x00038064 0x00000004 0x00000000 0x00000001 0x00000000\n', stderr: '' };
      },
    });
    await assert.rejects(real.reboot({ tryboot: true }), (e: unknown) => isSidewalkError(e, 'OTA_REBOOT_FAILED'));
    assert.deepEqual(calls, [cmd], 'no systemctl reboot after a refused flag');
  });
});
