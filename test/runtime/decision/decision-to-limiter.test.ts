/**
 * decide -> ramp -> limiter over a scripted ride in simulated time: the pieces together keep the
 * safety rules (ramped changes, fail-safe on lost input, safe state at start and end).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecisionEngine } from '../../../runtime/decision/index.js';
import { Ramp, rampRateKphPerS, SimulatedLimiter } from '../../../runtime/actuators/index.js';

const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'];
const GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] };
const STREET = Float32Array.from([0.05, 0.05, 0.05, 0.85]);
const SIDE = Float32Array.from([0.02, 0.08, 0.85, 0.05]);

test('a ride: street, sidewalk, camera loss, street again, all ramped and fail-safe', async () => {
  let nowMs = 0;
  const engine = new DecisionEngine({ failSafeAfterMs: 1500, enterFrames: 2, exitFrames: 2 });
  const ramp = new Ramp(6, { rampS: 10, failSafeRampS: 4 });
  const limiter = new SimulatedLimiter({ kind: 'simulated', safeLimitKph: 6, nowMs: () => nowMs });
  await limiter.init();
  const frameMs = 100;
  const log: { t: number; limit: number; failSafe: boolean; onSidewalk: boolean }[] = [];
  const stepAt = async (probabilities: Float32Array | null) => {
    const d = engine.step({ nowMs, probabilities, labels: LABELS, groups: GROUPS, speedKph: 15 });
    const limit = ramp.step(d.targetLimitKph, nowMs, d.failSafe);
    await limiter.setLimit(limit, BigInt(nowMs) * 1_000_000n);
    log.push({ t: nowMs, limit, failSafe: d.failSafe, onSidewalk: d.onSidewalk });
    nowMs += frameMs;
  };
  for (let i = 0; i < 150; i++) await stepAt(STREET); // 0..14.9 s: ramps up from the safe 6 to 25
  for (let i = 0; i < 150; i++) await stepAt(SIDE); // 15..29.9 s
  for (let i = 0; i < 40; i++) await stepAt(STREET); // 30..33.9 s: back toward 25
  for (let i = 0; i < 60; i++) await stepAt(null); // 34..39.9 s: camera gone
  await limiter.close();

  // Never faster than the fail-safe rate (the fastest configured), in any single frame.
  const fastest = rampRateKphPerS(ramp.config, true) * (frameMs / 1000);
  for (let i = 1; i < log.length; i++) assert.ok(Math.abs(log[i]!.limit - log[i - 1]!.limit) <= fastest + 1e-9, `jump at ${log[i]!.t} ms`);
  const at = (t: number) => log.find((e) => e.t === t)!;
  // Starts safe, reaches full speed 10 s after the first frame.
  assert.equal(limiter.commands[0]!.safe, true);
  assert.equal(at(0).limit, 6);
  assert.ok(at(9_900).limit < 25);
  assert.equal(at(10_000).limit, 25);
  // The 6-frame average says sidewalk from the 3rd sidewalk frame (15.2 s: 0.515 > 0.5, road 0.485),
  // enterFrames=2 switches on the 4th (15.3 s); the limit then falls for 10 s to 6 km/h.
  assert.equal(at(15_200).onSidewalk, false);
  assert.equal(at(15_300).onSidewalk, true);
  assert.ok(at(25_100).limit > 6);
  assert.equal(at(25_200).limit, 6);
  // Camera lost after the last frame at 33.9 s: fail-safe at 35.4 s, then the faster fail-safe ramp.
  assert.equal(at(35_300).failSafe, false);
  assert.equal(at(35_400).failSafe, true);
  const before = at(35_300).limit;
  assert.ok(before > 6 && before < 25);
  const reached = log.find((e) => e.t > 35_400 && e.limit === 6)!;
  assert.ok(reached.t - 35_400 <= 4_000, `fail-safe ramp reached 6 km/h after ${reached.t - 35_400} ms`);
  assert.equal(limiter.commands.at(-1)!.safe, true);
  assert.equal(limiter.commands.at(-1)!.limitKph, 6);
});
