import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSpeedLimiter, detectGpiodTools, GpioLimiter, GpiodBackend, SysfsGpioBackend } from '../../../runtime/actuators/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { describeSpeedLimiterContract, settle } from './speed-limiter-contract.js';
import { fakeGpiod } from './fake-gpiod.js';
import { fakeGpioSysfs } from './fake-sysfs.js';

const SIDEWALK = 6;
/** Active-low line: limited = physical 0. */
const levelFor = (kph: number): string => (kph <= SIDEWALK + 0.05 ? '0' : '1');

/** The same contract against both generations of the libgpiod tools, read from the fake chip. */
for (const tools of [
  { name: 'libgpiod v1 tools', generation: 1, interactive: false, holder: '--mode=signal gpiochip3 17=' },
  { name: 'libgpiod v2 tools, interactive gpioset', generation: 2, interactive: true, holder: '-i GPIO17=' },
  { name: 'libgpiod v2 tools, gpioset without interactive mode', generation: 2, interactive: false, holder: '--banner GPIO17=' },
] as const) {
  describeSpeedLimiterContract(`gpio (${tools.name}, fake chip)`, async () => {
    const fake = await fakeGpiod({ generation: tools.generation, interactive: tools.interactive });
    const limiter = createSpeedLimiter({
      kind: 'gpio',
      backend: 'libgpiod',
      line: 'GPIO17',
      activeLow: true,
      sidewalkLimitKph: SIDEWALK,
      libgpiod: { gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, gpioinfoPath: fake.gpioinfoPath, settleMs: 30 },
    });
    const holders = () =>
      settle(
        () => fake.running(),
        (m) => m.size === 1,
      );
    return {
      limiter,
      safeLimitKph: SIDEWALK,
      fullSpeedKph: 25,
      // The chip's level, and one gpioset (of the expected grammar) holding the line.
      observe: async () => ({ level: await fake.level(), holders: [...(await holders()).values()].map((a) => a.startsWith(tools.holder)) }),
      expectedFor: (kph) => ({ level: levelFor(kph), holders: [true] }),
      assertReleased: async () => {
        assert.equal(
          (
            await settle(
              () => fake.running(),
              (m) => m.size === 0,
            )
          ).size,
          0,
          'no gpioset holds the line after close',
        );
        assert.equal(await fake.level(), '0', 'the line was left limited');
        if (tools.interactive) assert.equal((await fake.invocations()).length, 1, 'one gpioset for the whole run: no level change released the line');
      },
      cleanup: () => fake.cleanup(),
    };
  });
}

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
  const observeLevel = async () => {
    const value = (await readFile(join(dir, 'value'), 'utf8')).trim();
    const direction = (await readFile(join(dir, 'direction'), 'utf8')).trim();
    // "high"/"low" in direction sets the level until value is written.
    return value || { high: '1', low: '0' }[direction];
  };
  return {
    limiter,
    safeLimitKph: SIDEWALK,
    fullSpeedKph: 25,
    observe: observeLevel,
    expectedFor: levelFor,
    assertReleased: async () => {
      // Left exported and driven limited: the kernel keeps driving it after the process exits.
      assert.equal(kernel.released.get('gpio529'), undefined, 'gpio529 stays exported');
      assert.equal(await observeLevel(), '0', 'driven limited');
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
        kind: 'gpio',
        backend: 'libgpiod',
        line: 'GPIO99',
        activeLow: true,
        sidewalkLimitKph: 6,
        libgpiod: { gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, gpioinfoPath: fake.gpioinfoPath },
      });
      await assert.rejects(limiter.init(), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_LINE_NOT_FOUND') && /GPIO99/.test((e as Error).message));
    } finally {
      await fake.cleanup();
    }
  });

  test('libgpiod: a gpioset that cannot take the line fails with its stderr', async () => {
    const fake = await fakeGpiod({ failSet: true });
    try {
      const backend = new GpiodBackend({ line: 'GPIO17', gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, gpioinfoPath: fake.gpioinfoPath, settleMs: 500 });
      await assert.rejects(backend.open(false), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_SET_FAILED') && /resource busy/.test((e as Error).message));
    } finally {
      await fake.cleanup();
    }
  });

  test('libgpiod: the real gpioset 1.6 accepts our arguments (and fails only for want of the chip here)', async () => {
    const fake = await fakeGpiod();
    try {
      const backend = new GpiodBackend({ line: 'GPIO17', gpiosetPath: 'gpioset', gpiofindPath: fake.gpiofindPath, gpioinfoPath: fake.gpioinfoPath, settleMs: 2000 });
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
    const backend = new GpiodBackend({ line: 'GPIO17', gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, gpioinfoPath: fake.gpioinfoPath, settleMs: 30, restartDelayMs: 20 });
    const limiter = new GpioLimiter({ kind: 'gpio', backend: 'libgpiod', line: 'GPIO17', activeLow: true, sidewalkLimitKph: 6 }, backend);
    try {
      await limiter.init();
      await limiter.setLimit(25);
      const [pid] = (
        await settle(
          () => fake.running(),
          (m) => m.size === 1,
        )
      ).keys();
      process.kill(pid!, 'SIGKILL');
      const after = await settle(
        () => fake.running(),
        (m) => m.size === 1 && !m.has(pid!),
      );
      assert.deepEqual([...after.values()], ['--mode=signal gpiochip3 17=1']);
      assert.equal(backend.restarts, 1);
      assert.match(backend.lastError ?? '', /died/);
    } finally {
      await limiter.close();
      await fake.cleanup();
    }
  });
});

describe('libgpiod tools detection', () => {
  test('the generation comes from gpioset --version; v2 interactive mode from --help', async () => {
    for (const [generation, interactive, expected] of [
      [1, false, { major: 1, version: '1.6.3', interactive: false }],
      [2, true, { major: 2, version: '2.2.1', interactive: true }],
      [2, false, { major: 2, version: '2.2.1', interactive: false }],
    ] as const) {
      const fake = await fakeGpiod({ generation, interactive });
      try {
        assert.deepEqual(await detectGpiodTools(fake.gpiosetPath), expected);
      } finally {
        await fake.cleanup();
      }
    }
  });

  test('an unknown gpioset is refused with a coded error', async () => {
    const fake = await fakeGpiod();
    try {
      await writeFile(fake.gpiosetPath, '#!/bin/bash\necho "gpioset (libgpiod) v3.0.0"\n');
      await assert.rejects(detectGpiodTools(fake.gpiosetPath), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_UNAVAILABLE') && /v3\.0\.0/.test((e as Error).message));
      await assert.rejects(detectGpiodTools(join(fake.dir, 'missing')), (e: unknown) => isSidewalkError(e, 'LIMITER_GPIO_UNAVAILABLE'));
    } finally {
      await fake.cleanup();
    }
  });
});
