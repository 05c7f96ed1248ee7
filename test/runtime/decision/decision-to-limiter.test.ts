/**
 * decide -> limit rule -> limiter over a scripted ride in simulated time: the pieces together keep the
 * safety rules (speed-anchored limit on a sidewalk, fail-safe on lost input, safe state at start and end).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecisionEngine } from '../../../runtime/decision/index.js';
import { MeasuredSpeedLimitRule, SimulatedLimiter } from '../../../runtime/actuators/index.js';

const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'];
const GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] };
const STREET = Float32Array.from([0.05, 0.05, 0.05, 0.85]);
const SIDE = Float32Array.from([0.02, 0.08, 0.85, 0.05]);

test('a ride: street, sidewalk, GPS and camera loss, all speed-anchored and fail-safe', async () => {
  let nowMs = 0;
  const engine = new DecisionEngine({ failSafeAfterMs: 1500, enterFrames: 2, exitFrames: 2 });
  const rule = new MeasuredSpeedLimitRule(6, { rampS: 10, failSafeRampS: 4 });
  const limiter = new SimulatedLimiter({ kind: 'simulated', safeLimitKph: 6, nowMs: () => nowMs });
  await limiter.init();
  const frameMs = 100;
  // The rider wants 20 km/h; the scooter cannot go faster than its limit.
  let speed = 0;
  const log: { t: number; limit: number; speed: number | null; failSafe: boolean; onSidewalk: boolean }[] = [];
  let last: number | null = null;
  const stepAt = async (probabilities: Float32Array | null, gps = true) => {
    const measured = gps ? speed : null;
    const d = engine.step({ nowMs, probabilities, labels: LABELS, groups: GROUPS, speedKph: measured });
    const limit = rule.next({ targetKph: d.targetLimitKph, onSidewalk: d.onSidewalk, failSafe: d.failSafe, speedKph: measured, nowMs });
    if (limit !== last) await limiter.setLimit(limit, BigInt(nowMs) * 1_000_000n);
    last = limit;
    log.push({ t: nowMs, limit, speed: measured, failSafe: d.failSafe, onSidewalk: d.onSidewalk });
    speed = Math.min(20, speed + 0.3, limit);
    nowMs += frameMs;
  };
  for (let i = 0; i < 150; i++) await stepAt(STREET); // 0..14.9 s: accelerating on the street
  for (let i = 0; i < 100; i++) await stepAt(SIDE); // 15..24.9 s
  for (let i = 0; i < 30; i++) await stepAt(SIDE, false); // 25..27.9 s: GPS lost on the sidewalk
  for (let i = 0; i < 40; i++) await stepAt(STREET); // 28..31.9 s
  for (let i = 0; i < 60; i++) await stepAt(null); // 32..37.9 s: camera gone
  await limiter.close();

  const at = (t: number) => log.find((e) => e.t === t)!;
  assert.equal(limiter.commands[0]!.safe, true);
  // On the street the limit runs ahead of the speed by the rate: the rider reaches 20 km/h.
  assert.ok(at(14_900).speed! >= 19.9 && at(14_900).limit <= 20 + 0.19 + 1e-9, `street: ${JSON.stringify(at(14_900))}`);
  // max(side, crosswalk) = 0.85 per frame: the 6-frame average passes 0.5 on the 4th sidewalk frame (15.3 s); enterFrames=2: 15.4 s.
  assert.equal(at(15_300).onSidewalk, false);
  assert.equal(at(15_400).onSidewalk, true);
  // On the sidewalk the limit is never above the measured speed, and falls at the 1.9 km/h/s rate to 6.
  for (const e of log.filter((x) => x.onSidewalk && x.speed !== null && !x.failSafe)) {
    assert.ok(e.limit <= Math.max(e.speed!, 6), `limit ${e.limit} above speed ${e.speed} at ${e.t} ms`);
  }
  const reached = log.find((e) => e.onSidewalk && e.limit === 6)!;
  assert.ok(reached.t - 15_400 <= 7_500 + frameMs, `walking speed ${reached.t - 15_400} ms after entering`);
  // GPS lost: the time ramp holds the limit where it was (it is already at the target).
  assert.equal(at(27_900).limit, 6);
  // Camera lost after the last frame at 31.9 s: fail-safe at 33.4 s, limit to 6 with the measured speed.
  assert.equal(at(33_300).failSafe, false);
  assert.equal(at(33_400).failSafe, true);
  assert.ok(log.filter((e) => e.t > 33_400).every((e) => e.limit <= Math.max(e.speed ?? Infinity, 6)));
  assert.equal(log.at(-1)!.limit, 6);
  // Commands only when the limit changed, then the safe state on close.
  const sent = limiter.commands.filter((c) => !c.safe).map((c) => c.limitKph);
  for (let i = 1; i < sent.length; i++) assert.notEqual(sent[i], sent[i - 1]);
  assert.equal(limiter.commands.at(-1)!.safe, true);
});
