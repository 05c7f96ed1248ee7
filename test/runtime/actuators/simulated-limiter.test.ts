import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createSpeedLimiter, SimulatedLimiter, type LimitCommand } from '../../../runtime/actuators/index.js';
import { describeSpeedLimiterContract } from './speed-limiter-contract.js';
import { makeTempDir } from '../../helpers/temp.js';

describeSpeedLimiterContract('simulated', async () => {
  const dir = await makeTempDir('sidewalk-sim-');
  const logFile = join(dir, 'commands.jsonl');
  const limiter = createSpeedLimiter({ kind: 'simulated', logFile, safeLimitKph: 6 }) as SimulatedLimiter;
  return {
    limiter,
    safeLimitKph: 6,
    fullSpeedKph: 25,
    observe: async () => limiter.currentLimitKph,
    expectedFor: (kph) => kph,
    assertReleased: async () => {
      const lines = (await readFile(logFile, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as LimitCommand);
      assert.deepEqual(lines, limiter.commands, 'the JSONL file holds every command, flushed on close');
      assert.equal(lines.at(-1)!.safe, true);
      assert.equal(lines.at(-1)!.limitKph, 6);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('simulated limiter records time, monotonic time, frame capture time and safe flags', async () => {
  let mono = 1000;
  const limiter = new SimulatedLimiter({ kind: 'simulated', safeLimitKph: 6, nowMs: () => (mono += 10) });
  await limiter.init();
  await limiter.setLimit(12.5, 987654321012345678n);
  await limiter.setLimit(13);
  await limiter.close();
  const [init, first, second, closed] = limiter.commands;
  assert.deepEqual({ ...init, t: undefined }, { t: undefined, monoMs: 1010, limitKph: 6, safe: true });
  assert.equal(first!.frameCapturedAtNs, '987654321012345678');
  assert.equal(first!.safe, undefined);
  assert.equal(second!.frameCapturedAtNs, undefined);
  assert.equal(closed!.safe, true);
  assert.ok(!Number.isNaN(Date.parse(first!.t)));
});
