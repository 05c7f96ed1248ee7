import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ramp, rampStep, rampRateKphPerS, initialRampState, resolveRampConfig } from '../../../runtime/actuators/ramp.js';
import { isSidewalkError } from '../../../lib/errors.js';

/** Steps the ramp every `stepMs` of simulated time until it reaches the target; returns the time taken. */
function timeToReach(ramp: Ramp, targetKph: number, startMs: number, stepMs: number, failSafe = false): number {
  let t = startMs;
  ramp.step(ramp.limitKph, t, failSafe);
  let steps = 0;
  while (ramp.limitKph !== targetKph) {
    t += stepMs;
    const before = ramp.limitKph;
    ramp.step(targetKph, t, failSafe);
    assert.ok(Math.abs(ramp.limitKph - before) <= rampRateKphPerS(ramp.config, failSafe) * (stepMs / 1000) + 1e-9, 'never faster than the ramp rate');
    if (++steps > 100_000) assert.fail('ramp never reached its target');
  }
  return t - startMs;
}

describe('ramp', () => {
  test('full -> sidewalk and sidewalk -> full each take rampS (10 s) in simulated time', () => {
    const ramp = new Ramp(25, { rampS: 10, fullSpeedKph: 25, sidewalkLimitKph: 6 });
    assert.equal(timeToReach(ramp, 6, 0, 100), 10_000);
    assert.equal(ramp.limitKph, 6);
    assert.equal(timeToReach(ramp, 25, 50_000, 100), 10_000);
    // Frame timing does not change the duration (15 fps ~ 66.666 ms steps finish within one frame of 10 s).
    const ramp15 = new Ramp(25);
    const t = timeToReach(ramp15, 6, 0, 1000 / 15);
    assert.ok(t > 10_000 - 1e-6 && t < 10_000 + 1000 / 15, `took ${t} ms`);
  });

  test('one step moves at most rate * dt; a stalled loop cannot slam the limit', () => {
    const config = resolveRampConfig({ maxStepMs: 1000 });
    let s = rampStep(initialRampState(25), 6, 0, config);
    assert.equal(s.limitKph, 25, 'the first update only starts the clock');
    s = rampStep(s, 6, 100, config);
    assert.ok(Math.abs(s.limitKph - (25 - 0.19)) < 1e-12);
    s = rampStep(s, 6, 10_100, config); // 10 s gap credited as 1 s
    assert.ok(Math.abs(s.limitKph - (25 - 0.19 - 1.9)) < 1e-12);
    s = rampStep(s, 6, 5_000, config); // clock went backwards: no movement
    assert.ok(Math.abs(s.limitKph - (25 - 0.19 - 1.9)) < 1e-12);
  });

  test('the fail-safe uses its own (faster) ramp and maxRateKphPerS caps the rate', () => {
    const fast = new Ramp(25, { failSafeRampS: 2 });
    assert.equal(timeToReach(fast, 6, 0, 100, true), 2_000);
    const capped = new Ramp(25, { maxRateKphPerS: 1 });
    let t = 0;
    capped.step(6, t);
    while (capped.limitKph !== 6) {
      t += 500;
      capped.step(6, t);
    }
    assert.equal(t, 19_000);
  });

  test('is deterministic: the same step sequence gives identical limits', () => {
    const targets = Array.from({ length: 400 }, (_, i) => (Math.floor(i / 37) % 2 === 0 ? 6 : 25));
    const runOnce = () => {
      const r = new Ramp(6);
      return targets.map((target, i) => r.step(target, i * 66.7));
    };
    assert.deepEqual(runOnce(), runOnce());
  });

  test('refuses a zero ramp with a coded error', () => {
    assert.throws(
      () => resolveRampConfig({ rampS: 0 }),
      (e: unknown) => isSidewalkError(e, 'RAMP_CONFIG_INVALID') && /rampS/.test((e as Error).message),
    );
  });
});
