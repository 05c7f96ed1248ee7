import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSpeedLimiter, PwmLimiter } from '../../../runtime/actuators/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { describeSpeedLimiterContract } from './speed-limiter-contract.js';
import { fakePwmSysfs } from './fake-sysfs.js';

// RC-style 50 Hz signal: 1.0 ms at 0 km/h, 2.0 ms at 25 km/h, channel 1.
const PERIOD_NS = 20_000_000;
const ZERO_NS = 1_000_000;
const FULL_NS = 2_000_000;
const expectedDuty = (kph: number): number => Math.round(ZERO_NS + ((FULL_NS - ZERO_NS) * Math.min(Math.max(kph, 0), 25)) / 25);

describeSpeedLimiterContract('pwm (temp sysfs tree, chip found by device path)', async () => {
  const kernel = await fakePwmSysfs();
  const limiter = createSpeedLimiter({
    kind: 'pwm',
    chipPath: kernel.devicePath,
    channel: 1,
    periodNs: PERIOD_NS,
    dutyAtZeroNs: ZERO_NS,
    dutyAtFullNs: FULL_NS,
    fullSpeedKph: 25,
    safeLimitKph: 6,
    sysfsRoot: kernel.classDir,
  });
  const channel = join(kernel.chipDir, 'pwm1');
  const read = async (f: string) => (await readFile(join(channel, f), 'utf8')).trim();
  return {
    limiter,
    safeLimitKph: 6,
    fullSpeedKph: 25,
    observe: async () => ({ period: await read('period'), duty: await read('duty_cycle'), enable: await read('enable') }),
    expectedFor: (kph) => ({ period: String(PERIOD_NS), duty: String(expectedDuty(kph)), enable: '1' }),
    assertReleased: async () => {
      // The channel outlives the process, so it is left running at the safe duty, never unexported.
      assert.equal(kernel.released.get('pwm1'), undefined, 'pwm1 stays exported');
      assert.deepEqual(await read('duty_cycle'), String(expectedDuty(6)), 'left at the safe duty');
      assert.equal(await read('enable'), '1', 'still outputting the safe duty');
    },
    cleanup: () => kernel.stop(),
  };
});

test('pwm: the mapping is linear and clamped; 6 km/h of 25 is 1.24 ms', () => {
  const limiter = new PwmLimiter({ kind: 'pwm', chipPath: '/nonexistent', channel: 0, periodNs: PERIOD_NS, dutyAtZeroNs: ZERO_NS, dutyAtFullNs: FULL_NS, fullSpeedKph: 25, safeLimitKph: 6 });
  assert.equal(limiter.dutyNsFor(6), 1_240_000);
  assert.equal(limiter.dutyNsFor(0), ZERO_NS);
  assert.equal(limiter.dutyNsFor(25), FULL_NS);
  assert.equal(limiter.dutyNsFor(40), FULL_NS);
});

test('pwm: picks the chip by device path or device name, not pwmchip0, and reports a wrong path with what it found', async () => {
  const kernel = await fakePwmSysfs();
  try {
    const ok = new PwmLimiter({
      kind: 'pwm',
      chipPath: kernel.devicePath,
      channel: 0,
      periodNs: PERIOD_NS,
      dutyAtZeroNs: ZERO_NS,
      dutyAtFullNs: FULL_NS,
      fullSpeedKph: 25,
      safeLimitKph: 6,
      sysfsRoot: kernel.classDir,
    });
    await ok.init();
    assert.equal(ok.paths.chipDir, join(kernel.classDir, 'pwmchip2'));
    await ok.close();
    const byName = new PwmLimiter({
      kind: 'pwm',
      chipPath: '1f00098000.pwm',
      channel: 2,
      periodNs: PERIOD_NS,
      dutyAtZeroNs: ZERO_NS,
      dutyAtFullNs: FULL_NS,
      fullSpeedKph: 25,
      safeLimitKph: 6,
      sysfsRoot: kernel.classDir,
    });
    await byName.init();
    assert.equal(byName.paths.chipDir, join(kernel.classDir, 'pwmchip2'), 'the device name finds the RP1 chip');
    await byName.close();
    const wrong = new PwmLimiter({
      kind: 'pwm',
      chipPath: join(kernel.root, 'devices', 'platform', 'soc', 'fe20c000.pwm'),
      channel: 0,
      periodNs: PERIOD_NS,
      dutyAtZeroNs: ZERO_NS,
      dutyAtFullNs: FULL_NS,
      fullSpeedKph: 25,
      safeLimitKph: 6,
      sysfsRoot: kernel.classDir,
    });
    await assert.rejects(wrong.init(), (e: unknown) => isSidewalkError(e, 'LIMITER_PWM_UNAVAILABLE') && /1f00098000\.pwm/.test((e as Error).message));
    const badChannel = new PwmLimiter({
      kind: 'pwm',
      chipPath: kernel.devicePath,
      channel: 4,
      periodNs: PERIOD_NS,
      dutyAtZeroNs: ZERO_NS,
      dutyAtFullNs: FULL_NS,
      fullSpeedKph: 25,
      safeLimitKph: 6,
      sysfsRoot: kernel.classDir,
    });
    await assert.rejects(badChannel.init(), (e: unknown) => isSidewalkError(e, 'LIMITER_PWM_UNAVAILABLE') && /npwm=4/.test((e as Error).message));
  } finally {
    await kernel.stop();
  }
});

test('pwm: a duty above the period is refused at construction', () => {
  assert.throws(
    () => new PwmLimiter({ kind: 'pwm', chipPath: '/x', channel: 0, periodNs: 1000, dutyAtZeroNs: 0, dutyAtFullNs: 2000, fullSpeedKph: 25, safeLimitKph: 6 }),
    (e: unknown) => isSidewalkError(e, 'LIMITER_PWM_CONFIG_INVALID') && /dutyAtFullNs/.test((e as Error).message),
  );
});

test('pwm: the chip and the channel must be named (no default is right on both Pi 4 and Pi 5)', () => {
  const base = { kind: 'pwm', periodNs: PERIOD_NS, dutyAtZeroNs: ZERO_NS, dutyAtFullNs: FULL_NS, fullSpeedKph: 25, safeLimitKph: 6 } as const;
  assert.throws(
    () => new PwmLimiter({ ...base, chipPath: null, channel: 2 }),
    (e: unknown) => isSidewalkError(e, 'LIMITER_PWM_CONFIG_INVALID') && /chip_path is required.*1f00098000\.pwm/.test((e as Error).message),
  );
  assert.throws(
    () => new PwmLimiter({ ...base, chipPath: '1f00098000.pwm', channel: null }),
    (e: unknown) => isSidewalkError(e, 'LIMITER_PWM_CONFIG_INVALID') && /channel 2 on a Pi 5/.test((e as Error).message),
  );
});
