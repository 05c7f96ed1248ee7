/**
 * The stop path: the runtime is SIGKILLed at random points while it toggles the limit output, on
 * fakes that behave like a Raspberry Pi without strict_gpiod (a released GPIO line, an exported sysfs
 * line and a sysfs PWM channel all keep their last level). What systemd then does is replayed:
 * the unit's remaining processes are killed (KillMode=control-group) and ExecStopPost runs
 * `sidewalk limiter safe`. The output must read "limited" afterwards, and the test shows it did not
 * before the stop path ran whenever the kill caught the output at full speed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DIST_ROOT } from '../../helpers/paths.js';
import { expectCleanFailure, runSidewalk } from '../../helpers/cli-guard.js';
import { forceLimitedState, type SpeedLimiterConfig } from '../../../runtime/actuators/index.js';
import { limiterConfig } from '../../../runtime/service/components.js';
import { loadConfigFile } from '../../../runtime/config/load.js';
import { fakeGpiod } from './fake-gpiod.js';
import { fakeGpioSysfs, fakePwmSysfs } from './fake-sysfs.js';
import { makeTempDir } from '../../helpers/temp.js';

const DRIVER = join(DIST_ROOT, 'test/runtime/actuators/limiter-driver.js');
const SPEED = { full_kph: 25, sidewalk_kph: 6, fail_safe_kph: 6 };
/** Kills per backend; the first stop path of each runs the real CLI, the others call it in-process. */
const KILLS = 2;

interface Kill {
  /** What the driver last reported before the SIGKILL. */
  lastReported: string;
  /**
   * true: the driver had stopped changing (it holds after a random number of changes), so the output
   * is exactly what it last reported; false: killed at a random moment, maybe inside the next change.
   */
  holding: boolean;
}

/** Runs the driver, SIGKILLs it after a random number of level changes (at least one), and reports where it stopped. */
async function runAndKill(configPath: string, overrides: Partial<SpeedLimiterConfig>, env: Record<string, string>, hold = false): Promise<Kill> {
  // hold: one change to full speed, then no more changes, killed while holding it.
  const changes = hold ? 1 : 1 + Math.floor(Math.random() * 6);
  // Half the kills land while the driver holds its last confirmed change (it stops changing after
  // `changes`, so a slow test process cannot miss the moment), half somewhere in the middle of a change.
  const midChange = !hold && Math.random() < 0.5;
  const child = spawn(process.execPath, [DRIVER, configPath, JSON.stringify(overrides), ...(midChange ? [] : [String(changes)])], {
    env: { ...process.env, ...env, SIDEWALK_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let seen = 0;
  let lastReported = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        lastReported = line;
        if (++seen === changes + 1) {
          if (midChange) setTimeout(() => child.kill('SIGKILL'), Math.random() * 10);
          else child.kill('SIGKILL');
          resolve();
        }
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`driver exited (${code ?? signal}) before the kill: ${stderr}`))));
  });
  await exited;
  return { lastReported, holding: !midChange };
}

/**
 * KILLS rounds of: run the driver, SIGKILL it, check the output still reads `fullLevel` when it was
 * holding full speed, run the stop path in-process, check the output reads `limitedLevel`.
 */
async function killThenStopPath(
  configPath: string,
  overrides: Partial<SpeedLimiterConfig>,
  read: () => Promise<string>,
  fullLevel: string,
  limitedLevel: string,
  after?: () => Promise<void>,
): Promise<void> {
  for (let i = 0; i < KILLS; i++) {
    const kill = await runAndKill(configPath, overrides, {});
    if (kill.holding && kill.lastReported === 'full') assert.equal(await read(), fullLevel, 'full speed until the stop path runs');
    await forceLimitedState({ ...limiterConfig(loadConfigFile(configPath)), ...overrides } as SpeedLimiterConfig);
    assert.equal(await read(), limitedLevel, `kill ${i} (after "${kill.lastReported}")`);
    await after?.();
  }
}

async function writeConfig(dir: string, limiter: Record<string, unknown>): Promise<string> {
  const path = join(dir, 'runtime.yaml');
  await writeFile(path, stringify({ mode: 'limit', model: { bundle: dir }, speed: SPEED, limiter }));
  return path;
}

describe('stop path after SIGKILL (ExecStopPost: sidewalk limiter safe)', () => {
  for (const generation of [1, 2] as const) {
    test(`libgpiod v${generation} tools: a killed runtime's line is driven limited again by the CLI`, async () => {
      const fake = await fakeGpiod({ generation });
      const dir = await makeTempDir('stop-path-');
      const env = { PATH: `${fake.dir}:${process.env.PATH}` };
      try {
        const config = await writeConfig(dir, { kind: 'gpio', gpio: { backend: 'libgpiod', line: 'GPIO17', active_low: true } });
        for (let i = 0; i < KILLS; i++) {
          const kill = await runAndKill(config, { libgpiod: { settleMs: 20 } } as Partial<SpeedLimiterConfig>, env);
          // systemd (KillMode=control-group) kills what is left of the unit: the orphaned gpioset.
          for (const pid of (await fake.running()).keys()) process.kill(pid, 'SIGTERM');
          while ((await fake.running()).size > 0) await new Promise((r) => setTimeout(r, 5));
          const before = await fake.level();
          if (kill.holding && kill.lastReported === 'full') assert.equal(before, '1', 'a released line keeps its level: full speed until the stop path runs');
          if (i === 0) {
            const result = await runSidewalk(['limiter', 'safe', '--config', config], { env });
            assert.equal(result.code, 0, result.stderr);
            assert.match(result.stdout, new RegExp(`GPIO17 driven limited \\(low\\) with libgpiod v${generation}`));
          } else {
            const tools = { libgpiod: { gpiosetPath: fake.gpiosetPath, gpiofindPath: fake.gpiofindPath, gpioinfoPath: fake.gpioinfoPath } };
            await forceLimitedState({ ...limiterConfig(loadConfigFile(config)), ...tools } as SpeedLimiterConfig);
          }
          assert.equal(await fake.level(), '0', `kill ${i} (after "${kill.lastReported}", level was ${before}): the stop path left the line limited`);
          assert.equal((await fake.running()).size, 0, 'the stop path holds nothing');
        }
      } finally {
        await fake.cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  test('libgpiod v1: with the orphaned gpioset still holding the line, the CLI fails with a coded error', async () => {
    const fake = await fakeGpiod({ generation: 1 });
    const dir = await makeTempDir('stop-path-');
    const env = { PATH: `${fake.dir}:${process.env.PATH}` };
    try {
      const config = await writeConfig(dir, { kind: 'gpio', gpio: { backend: 'libgpiod', line: 'GPIO17', active_low: true } });
      await runAndKill(config, { libgpiod: { settleMs: 20 } } as Partial<SpeedLimiterConfig>, env, true);
      assert.equal((await fake.running()).size, 1, 'like the real gpioset --mode=signal, the fake outlives its parent');
      const result = await runSidewalk(['limiter', 'safe', '--config', config], { env });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /^sidewalk: LIMITER_GPIO_SET_FAILED: .*busy/);
    } finally {
      await fake.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('sysfs GPIO: the exported line keeps its level after the kill; the stop path drives it limited', async () => {
    const kernel = await fakeGpioSysfs();
    const dir = await makeTempDir('stop-path-');
    try {
      const configPath = await writeConfig(dir, { kind: 'gpio', gpio: { backend: 'sysfs', line: 'GPIO17', active_low: true } });
      const overrides = { sysfs: { root: kernel.classDir } } as Partial<SpeedLimiterConfig>;
      const value = () => readFile(join(kernel.classDir, 'gpio529', 'value'), 'utf8').then((s) => s.trim());
      await killThenStopPath(configPath, overrides, value, '1', '0', async () => assert.equal(kernel.released.size, 0, 'never unexported'));
    } finally {
      await kernel.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('PWM: the channel keeps running at its last duty after the kill; the stop path sets the safe duty', async () => {
    const kernel = await fakePwmSysfs();
    const dir = await makeTempDir('stop-path-');
    try {
      const configPath = await writeConfig(dir, { kind: 'pwm', pwm: { chip_path: '1f00098000.pwm', channel: 2 } });
      const overrides = { sysfsRoot: kernel.classDir } as Partial<SpeedLimiterConfig>;
      const read = (f: string) => readFile(join(kernel.chipDir, 'pwm2', f), 'utf8').then((s) => s.trim());
      // Full speed is a 2 ms duty; the safe state is 6 km/h of 25 between 1 and 2 ms, and the channel stays enabled.
      await killThenStopPath(
        configPath,
        overrides,
        () => read('duty_cycle'),
        '2000000',
        '1240000',
        async () => assert.equal(await read('enable'), '1'),
      );
    } finally {
      await kernel.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('simulated: the CLI appends a safe command to the limiter log after the kill', async () => {
    const dir = await makeTempDir('stop-path-');
    try {
      const log = join(dir, 'limiter.jsonl');
      const config = await writeConfig(dir, { kind: 'simulated', simulated: { log_file: log } });
      await runAndKill(config, {}, {});
      const result = await runSidewalk(['limiter', 'safe', '--config', config]);
      assert.equal(result.code, 0, result.stderr);
      const last = JSON.parse((await readFile(log, 'utf8')).trim().split('\n').at(-1)!) as { limitKph: number; safe?: boolean; stopPath?: boolean };
      assert.deepEqual([last.limitKph, last.safe, last.stopPath], [6, true, true]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sidewalk limiter safe: bad input', () => {
  test('a missing config and a PWM limiter without its chip fail with one coded line', async () => {
    const dir = await makeTempDir('stop-path-');
    try {
      await expectCleanFailure({ name: 'limiter safe: missing config', args: ['limiter', 'safe', '--config', join(dir, 'nope.yaml')], code: 'CONFIG_UNREADABLE' });
      const config = await writeConfig(dir, { kind: 'pwm' });
      const failure = await expectCleanFailure({ name: 'limiter safe: pwm without chip_path', args: ['limiter', 'safe', '--config', config], code: 'LIMITER_PWM_CONFIG_INVALID' });
      assert.match(failure.stderr, /chip_path is required/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
