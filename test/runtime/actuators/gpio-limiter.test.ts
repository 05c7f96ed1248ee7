import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSpeedLimiter, GpioLimiter, GpiodBackend, SysfsGpioBackend } from '../../../runtime/actuators/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { describeSpeedLimiterContract, settle } from './speed-limiter-contract.js';
import { fakeGpiod } from './fake-gpiod.js';
import { fakeGpioSysfs } from './fake-sysfs.js';

const SIDEWALK = 6;
/** Active-low line: limited = physical 0. */
const levelFor = (kph: number): string => (kph <= SIDEWALK + 0.05 ? '0' : '1');

describeSpeedLimiterContract('gpio (libgpiod, fake gpioset)', async () => {
  const fake = await fakeGpiod();
  const limiter = createSpeedLimiter({
    kind: 'gpio',
    backend: 'libgpiod',
    line: 'GPIO17',
    activeLow: true,
    sidewalkLimitKph: SIDEWALK,
    libgpiod: { gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, settleMs: 30 },
  });
  /** The one gpioset child holding the line, as "CHIP OFFSET=VALUE" with the mode flag. */
  const holder = () => settle(() => fake.running(), (m) => m.size === 1);
  return {
    limiter,
    safeLimitKph: SIDEWALK,
    fullSpeedKph: 25,
    observe: async () => [...(await holder()).values()],
    expectedFor: (kph) => [`--mode=signal gpiochip3 17=${levelFor(kph)}`],
    assertReleased: async () => {
      assert.equal((await settle(() => fake.running(), (m) => m.size === 0)).size, 0, 'no gpioset holds the line after close');
      assert.equal((await fake.invocations()).at(-1), '--mode=signal gpiochip3 17=0', 'the line was last driven limited');
    },
    cleanup: () => fake.cleanup(),
  };
});

describeSpeedLimiterContract('gpio (sysfs, temp tree)', async () => {
  const kernel = await fakeGpioSysfs();
  const limiter = createSpeedLimiter({
    kind: 'gpio',
    backend: 'sysfs',
    line: 'GPIO17',
    activeLow: true,
    sidewalkLimitKph: SIDEWALK,
    sysfs: { root: kernel.classDir },
  });
  // GPIO17 on the pinctrl chip at base 512 is sysfs gpio529.
  const dir = join(kernel.classDir, 'gpio529');
  return {
    limiter,
    safeLimitKph: SIDEWALK,
    fullSpeedKph: 25,
    observe: async () => {
      const value = (await readFile(join(dir, 'value'), 'utf8')).trim();
      const direction = (await readFile(join(dir, 'direction'), 'utf8')).trim();
      // "high"/"low" in direction sets the level until value is written.
      return value || { high: '1', low: '0' }[direction];
    },
    expectedFor: levelFor,
    assertReleased: async () => {
      const released = await settle(async () => kernel.released.get('gpio529'), (v) => v !== undefined);
      assert.ok(released, 'gpio529 was unexported');
      assert.equal(released.value, '0', 'driven limited before release');
    },
    cleanup: () => kernel.stop(),
  };
});

describe('gpio limiter', () => {
  test('active-high wiring inverts the levels', async () => {
    const kernel = await fakeGpioSysfs();
    try {
      const limiter = new GpioLimiter({ kind: 'gpio', backend: 'sysfs', line: 'GPIO22', activeLow: false, sidewalkLimitKph: 6, sysfs: { root: kernel.classDir } });
      await limiter.init();
      assert.equal((await readFile(join(kernel.classDir, 'gpio534', 'direction'), 'utf8')).trim(), 'high');
      await limiter.setLimit(20);
      assert.equal((await readFile(join(kernel.classDir, 'gpio534', 'value'), 'utf8')).trim(), '0');
      assert.equal(limiter.limited, false);
      await limiter.close();
    } finally {
      await kernel.stop();
    }
  });

  test('thresholdKph moves the switching point (limited during both ramps)', async () => {
    const kernel = await fakeGpioSysfs();
    try {
      const limiter = new GpioLimiter({ kind: 'gpio', backend: 'sysfs', line: 'GPIO17', activeLow: true, sidewalkLimitKph: 6, thresholdKph: 24.95, sysfs: { root: kernel.classDir } });
      await limiter.init();
      await limiter.setLimit(24.9);
      assert.equal(limiter.limited, true);
      await limiter.setLimit(25);
      assert.equal(limiter.limited, false);
      assert.equal((await readFile(join(kernel.classDir, 'gpio529', 'value'), 'utf8')).trim(), '1');
      await limiter.close();
    } finally {
      await kernel.stop();
    }
  });

  test('sysfs: a missing chip label is reported with the chips found', async () => {
    const kernel = await fakeGpioSysfs();
    try {
      const backend = new SysfsGpioBackend({ line: 'GPIO17', root: kernel.classDir, chipLabel: 'pinctrl-rp1' });
      await assert.rejects(backend.open(false), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_LINE_NOT_FOUND') && /gpiochip512=pinctrl-bcm2711/.test((e as Error).message));
    } finally {
      await kernel.stop();
    }
  });

  test('libgpiod: an unknown line name fails init with a coded error', async () => {
    const fake = await fakeGpiod();
    try {
      const limiter = new GpioLimiter({
        kind: 'gpio', backend: 'libgpiod', line: 'GPIO99', activeLow: true, sidewalkLimitKph: 6,
        libgpiod: { gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath },
      });
      await assert.rejects(limiter.init(), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_LINE_NOT_FOUND') && /GPIO99/.test((e as Error).message));
    } finally {
      await fake.cleanup();
    }
  });

  test('libgpiod: a gpioset that cannot take the line fails with its stderr', async () => {
    const fake = await fakeGpiod({ failSet: true });
    try {
      const backend = new GpiodBackend({ line: 'GPIO17', gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, settleMs: 500 });
      await assert.rejects(backend.open(false), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_SET_FAILED') && /resource busy/.test((e as Error).message));
    } finally {
      await fake.cleanup();
    }
  });

  test('libgpiod: the real gpioset 1.6 accepts our arguments (and fails only for want of the chip here)', async () => {
    const fake = await fakeGpiod();
    try {
      const backend = new GpiodBackend({ line: 'GPIO17', gpiosetPath: 'gpioset', gpiofindPath: fake.gpiofindPath, settleMs: 2000 });
      await assert.rejects(backend.open(false), (e: unknown) => {
        const message = (e as Error).message;
        return isSidewalkError(e, 'LIMITER_GPIO_SET_FAILED') && /--mode=signal gpiochip3 17=0/.test(message) && !/Usage|invalid|unrecognized/i.test(message) && /gpioset: /.test(message);
      });
    } finally {
      await fake.cleanup();
    }
  });

  test('libgpiod: a gpioset child that dies is restarted with the same level', async () => {
    const fake = await fakeGpiod();
    const backend = new GpiodBackend({ line: 'GPIO17', gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, settleMs: 30, restartDelayMs: 20 });
    const limiter = new GpioLimiter({ kind: 'gpio', backend: 'libgpiod', line: 'GPIO17', activeLow: true, sidewalkLimitKph: 6 }, backend);
    try {
      await limiter.init();
      await limiter.setLimit(25);
      const [pid] = (await settle(() => fake.running(), (m) => m.size === 1)).keys();
      process.kill(pid!, 'SIGKILL');
      const after = await settle(() => fake.running(), (m) => m.size === 1 && !m.has(pid!));
      assert.deepEqual([...after.values()], ['--mode=signal gpiochip3 17=1']);
      assert.equal(backend.restarts, 1);
      assert.match(backend.lastError ?? '', /died/);
    } finally {
      await limiter.close();
      await fake.cleanup();
    }
  });
});
