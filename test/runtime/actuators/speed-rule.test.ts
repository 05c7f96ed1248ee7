/** The speed-anchored limit rule: the legacy lines (python3) per sample, the fallback ramp, and the safety property. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MeasuredSpeedLimitRule, createLimitRule } from '../../../runtime/actuators/speed-rule.js';
import { Ramp } from '../../../runtime/actuators/ramp.js';
import { DecisionEngine } from '../../../runtime/decision/index.js';
import { createPrng } from '../../../lib/prng.js';
import { legacyPython } from '../../helpers/legacy-writer.js';
import { validateConfig } from '../../../runtime/config/load.js';
import { limitRuleFor } from '../../../runtime/service/components.js';

const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'];
const GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] };

describe('measured-speed limit rule', () => {
  test('equals the legacy lines run by python3 at the legacy 3 samples/s, in the legacy krpm units', () => {
    const random = createPrng(5);
    const steps = Array.from({ length: 400 }, (_, i) => ({
      speed: Number((random() * 0.7).toFixed(3)),
      swFlag: Math.floor(i / 25) % 2,
    }));
    const legacy = legacyPython<number[]>({ cmd: 'speed', steps });
    // krpm as the unit: sidewalk 0.160, full 0.600, 10 s for the span.
    const rule = new MeasuredSpeedLimitRule(0.16, { fullSpeedKph: 0.6, sidewalkLimitKph: 0.16, rampS: 10 });
    const sampleMs = 1000 / 3;
    rule.next({ targetKph: 0.16, onSidewalk: true, failSafe: false, speedKph: 0.16, nowMs: -sampleMs }); // starts the clock
    steps.forEach((s, i) => {
      const got = rule.next({ targetKph: s.swFlag ? 0.16 : 0.6, onSidewalk: s.swFlag === 1, failSafe: false, speedKph: s.speed, nowMs: i * sampleMs });
      assert.ok(Math.abs(got - legacy[i]!) < 1e-12, `sample ${i}: ${got} vs legacy ${legacy[i]}`);
    });
    assert.ok(new Set(legacy).size > 100, 'the sequence exercises both branches and many speeds');
  });

  test('entering a sidewalk at 8 km/h: below 8 at once and walking speed in about a second; the ramp rule takes 10 s', () => {
    // The scooter follows its limit (the rider keeps the throttle open); 15 frames/s.
    const ride = (kind: 'measured' | 'ramp') => {
      const rule = createLimitRule(kind, 25, { fullSpeedKph: 25, sidewalkLimitKph: 6, rampS: 10 });
      let speed = 8;
      const limits: number[] = [];
      for (let i = 0; i <= 150; i++) {
        const limit = rule.next({ targetKph: 6, onSidewalk: true, failSafe: false, speedKph: speed, nowMs: (i * 1000) / 15 });
        limits.push(limit);
        speed = Math.min(speed, limit);
      }
      return limits;
    };
    const measured = ride('measured');
    assert.equal(measured[0], 8, 'the first step has no elapsed time: the limit is the measured speed');
    assert.ok(measured[1]! < 8);
    const reached = measured.indexOf(6);
    assert.ok(reached > 0 && reached <= 17, `walking speed after ${reached} frames`);
    const ramp = ride('ramp');
    assert.ok(ramp[75]! > 15, `five seconds in, the ramp rule still allows ${ramp[75]} km/h`);
  });

  test('off a sidewalk the limit runs ahead of the speed by the rate, never below the sidewalk limit or above full speed', () => {
    const rule = new MeasuredSpeedLimitRule(6, { fullSpeedKph: 25, sidewalkLimitKph: 6, rampS: 10 });
    rule.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: 0, nowMs: 0 });
    assert.equal(rule.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: 0, nowMs: 1000 }), 6);
    assert.ok(Math.abs(rule.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: 20, nowMs: 2000 }) - 21.9) < 1e-9);
    assert.equal(rule.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: 24.5, nowMs: 3000 }), 25);
  });

  test('without a fresh speed it ramps from the last limit, and follows the speed again once one arrives', () => {
    const rule = new MeasuredSpeedLimitRule(25, { fullSpeedKph: 25, sidewalkLimitKph: 6, rampS: 10 });
    rule.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: null, nowMs: 0 });
    assert.ok(Math.abs(rule.next({ targetKph: 6, onSidewalk: true, failSafe: false, speedKph: null, nowMs: 1000 }) - 23.1) < 1e-9);
    assert.ok(Math.abs(rule.next({ targetKph: 6, onSidewalk: true, failSafe: false, speedKph: null, nowMs: 2000 }) - 21.2) < 1e-9);
    assert.ok(Math.abs(rule.next({ targetKph: 6, onSidewalk: true, failSafe: false, speedKph: 9, nowMs: 2500 }) - 8.05) < 1e-9);
    // Speed gone again: the ramp continues from 8.05, not from where it was before.
    assert.ok(Math.abs(rule.next({ targetKph: 6, onSidewalk: true, failSafe: false, speedKph: null, nowMs: 3000 }) - 7.1) < 1e-9);
  });

  test('the fail-safe is kept: with a speed it pulls the limit down to the fail-safe limit at the fail-safe rate', () => {
    const rule = new MeasuredSpeedLimitRule(25, { fullSpeedKph: 25, sidewalkLimitKph: 6, rampS: 10, failSafeRampS: 2 });
    rule.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: 20, nowMs: 0 });
    assert.ok(Math.abs(rule.next({ targetKph: 4, onSidewalk: false, failSafe: true, speedKph: 20, nowMs: 1000 }) - 10.5) < 1e-9);
    assert.equal(rule.next({ targetKph: 4, onSidewalk: false, failSafe: true, speedKph: 5, nowMs: 2000 }), 4);
  });
});

test('the configured rule: measured by default, ramp on request, and always the ramp for a two-state gpio line', () => {
  const config = (extra: object) => validateConfig({ model: { bundle: 'unused' }, ...extra }, 'test');
  assert.equal(limitRuleFor(config({}), 6).kind, 'measured');
  assert.equal(limitRuleFor(config({ speed: { limit_rule: 'ramp' } }), 6).kind, 'ramp');
  assert.equal(limitRuleFor(config({ limiter: { kind: 'gpio' } }), 6).kind, 'ramp');
});

describe('safety property (property-based): on a sidewalk the commanded limit never exceeds max(measured speed, sidewalk limit)', () => {
  const config = fc.record({
    sidewalk: fc.double({ min: 2, max: 12, noNaN: true }),
    full: fc.double({ min: 13, max: 40, noNaN: true }),
    rampS: fc.double({ min: 0.5, max: 30, noNaN: true }),
    start: fc.double({ min: 0, max: 40, noNaN: true }),
  });
  const speed = fc.option(fc.double({ min: 0, max: 45, noNaN: true }), { nil: null, freq: 4 });

  test('over random speed and decision sequences', () => {
    const step = fc.record({ dtMs: fc.integer({ min: 0, max: 3000 }), onSidewalk: fc.boolean(), failSafe: fc.boolean(), speed });
    fc.assert(
      fc.property(config, fc.array(step, { minLength: 1, maxLength: 200 }), (c, steps) => {
        const rule = new MeasuredSpeedLimitRule(c.start, { fullSpeedKph: c.full, sidewalkLimitKph: c.sidewalk, rampS: c.rampS });
        let nowMs = 0;
        for (const s of steps) {
          nowMs += s.dtMs;
          const target = s.failSafe || s.onSidewalk ? c.sidewalk : c.full;
          const limit = rule.next({ targetKph: target, onSidewalk: s.onSidewalk, failSafe: s.failSafe, speedKph: s.speed, nowMs });
          if (s.speed !== null && (s.onSidewalk || s.failSafe)) {
            if (limit > Math.max(s.speed, c.sidewalk)) return false;
          }
          if (s.speed !== null && !(limit >= c.sidewalk && limit <= Math.max(c.full, s.speed))) return false;
        }
        return true;
      }),
      { numRuns: 300, seed: 20261206 },
    );
  });

  test('with the decision engine deciding from random frames', () => {
    const frame = fc.record({
      probs: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
      dropped: fc.boolean(),
      dtMs: fc.integer({ min: 10, max: 2000 }),
      speed,
    });
    fc.assert(
      fc.property(config, fc.array(frame, { minLength: 1, maxLength: 150 }), (c, frames) => {
        const engine = new DecisionEngine({ sidewalkLimitKph: c.sidewalk, fullSpeedKph: c.full });
        const rule = new MeasuredSpeedLimitRule(c.start, { fullSpeedKph: c.full, sidewalkLimitKph: c.sidewalk, rampS: c.rampS });
        let nowMs = 0;
        for (const f of frames) {
          nowMs += f.dtMs;
          const out = engine.step({ nowMs, probabilities: f.dropped ? null : f.probs, labels: LABELS, groups: GROUPS, speedKph: f.speed });
          const limit = rule.next({ targetKph: out.targetLimitKph, onSidewalk: out.onSidewalk, failSafe: out.failSafe, speedKph: f.speed, nowMs });
          if (out.onSidewalk && f.speed !== null && limit > Math.max(f.speed, c.sidewalk)) return false;
        }
        return true;
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  test('the property has teeth: the time ramp breaks it', () => {
    const ramp = new Ramp(25, { fullSpeedKph: 25, sidewalkLimitKph: 6, rampS: 10 });
    ramp.next({ targetKph: 25, onSidewalk: false, failSafe: false, speedKph: 8, nowMs: 0 });
    const limit = ramp.next({ targetKph: 6, onSidewalk: true, failSafe: false, speedKph: 8, nowMs: 1000 });
    assert.ok(limit > Math.max(8, 6), `the ramp allows ${limit} km/h at 8 km/h on a sidewalk`);
  });
});
