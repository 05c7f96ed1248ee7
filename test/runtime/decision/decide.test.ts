import { createPrng } from '../../../lib/prng.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, DecisionEngine, initialDecisionState, resolveDecisionConfig, type DecisionConfig, type DecisionInput, type DecisionOutput } from '../../../runtime/decision/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { legacyPython } from '../../helpers/legacy-writer.js';

/** The legacy model's classes, in its output order. */
const LEGACY_LABELS = ['bike_lane', 'crosswalk', 'side', 'street'] as const;

interface LegacyStep {
  swFlag: 0 | 1;
  sw_avg: number;
  street_avg: number;
}
/** The legacy decision itself: the lines of the legacy scooter, run by python3 (test/helpers/legacy_scooter.py). */
const legacyDecide = (frames: readonly ArrayLike<number>[]): LegacyStep[] => legacyPython<LegacyStep[]>({ cmd: 'decide', imclass: frames.map((f) => Array.from(f)) });

const GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] };
const FRAME_MS = 66;

/** Deterministic PRNG so scripted sequences are reproducible. */
const rng = createPrng;

/** A softmax-like vector leaning toward `sidewalkShare` of the mass on the sidewalk classes. */
function frame(random: () => number, sidewalkShare: number): Float32Array {
  const noise = () => 0.05 + random();
  const side = sidewalkShare * noise();
  const cross = sidewalkShare * noise() * 0.3;
  const street = (1 - sidewalkShare) * noise();
  const bike = (1 - sidewalkShare) * noise() * 0.3;
  const sum = side + cross + street + bike;
  // Legacy order: bike_lane, crosswalk, side, street.
  return Float32Array.from([bike / sum, cross / sum, side / sum, street / sum]);
}

/** Segments of road, sidewalk and ambiguous ground (shares near 0.5 make the rule flip often). */
function scriptedSequence(seed: number, frames: number): Float32Array[] {
  const random = rng(seed);
  const out: Float32Array[] = [];
  let share = 0.2;
  for (let i = 0; i < frames; i++) {
    if (i % 40 === 0) share = [0.1, 0.9, 0.5, 0.45, 0.55, 0.8][Math.floor(random() * 6)]!;
    out.push(frame(random, share));
  }
  return out;
}

function input(nowMs: number, probabilities: DecisionInput['probabilities'], speedKph: number | null = 15): DecisionInput {
  return { nowMs, probabilities, labels: LEGACY_LABELS, groups: GROUPS, speedKph };
}

function run(config: Partial<DecisionConfig>, steps: DecisionInput[]): DecisionOutput[] {
  const engine = new DecisionEngine(config);
  return steps.map((s) => engine.step(s));
}

const transitions = (outs: readonly { onSidewalk: boolean }[]): number => outs.reduce((n, o, i) => (i > 0 && o.onSidewalk !== outs[i - 1]!.onSidewalk ? n + 1 : n), 0);

describe('decide: the legacy rule, run by python3, is the default', () => {
  /** Steps the engine and requires per-frame equality with Python: flag, and both averages bit for bit. */
  function agree(seq: readonly Float32Array[] | readonly number[][], config: Partial<DecisionConfig> = {}): DecisionOutput[] {
    const legacy = legacyDecide(seq);
    const outs = run(
      config,
      seq.map((p, i) => input(i * FRAME_MS, p)),
    );
    seq.forEach((_, i) => {
      const got = outs[i]!;
      const want = legacy[i]!;
      assert.equal(got.onSidewalk, want.swFlag === 1, `frame ${i}`);
      assert.equal(got.sidewalkScore, want.sw_avg, `frame ${i} sidewalk average`);
      assert.equal(got.roadScore, want.street_avg, `frame ${i} road average`);
      assert.equal(got.failSafe, false);
      assert.equal(got.targetLimitKph, want.swFlag === 1 ? 6 : 25);
    });
    return outs;
  }

  for (const seed of [1, 2, 3, 42, 1234]) {
    test(`random scripted sequence seed=${seed}: the same flag and averages on every frame`, () => {
      const outs = agree(scriptedSequence(seed, 600));
      const sidewalkFrames = outs.filter((o) => o.onSidewalk).length;
      // The script must exercise both states and switch between them.
      assert.ok(sidewalkFrames > 50 && sidewalkFrames < 550, `sidewalk frames ${sidewalkFrames}`);
      assert.ok(transitions(outs) >= 4);
    });
  }

  test('threshold edges: 2-decimal scores whose window sums land on 3.0 give the same flag as Python', () => {
    // Scores near 0.5 in 0.01 steps: six of them often sum to 3 +- 1 ulp, where only the
    // summation order decides whether the average is above 0.5.
    const random = rng(99);
    const pick = () => [0.47, 0.48, 0.49, 0.5, 0.51, 0.52, 0.53][Math.floor(random() * 7)]!;
    const seq: number[][] = [];
    for (let i = 0; i < 3000; i++) {
      const side = pick();
      const street = i % 3 === 0 ? pick() : Number((1 - side).toFixed(2));
      seq.push([0, 0, side, street]);
    }
    const outs = agree(seq);
    const legacy = legacyDecide(seq);
    const atEdge = legacy.filter((l) => Math.abs(l.sw_avg - 0.5) < 1e-12 || Math.abs(l.street_avg - 0.5) < 1e-12).length;
    assert.ok(atEdge > 50, `only ${atEdge} frames at the threshold`);
    // The order matters: summed newest first, some of these windows would land on the other side of 0.5.
    let orderSensitive = 0;
    for (let i = 5; i < seq.length; i++) {
      const window = seq.slice(i - 5, i + 1).map((f) => Math.max(f[2]!, f[1]!));
      const forward = window.reduce((a, b) => a + b, 0) / 6;
      const backward = [...window].reverse().reduce((a, b) => a + b, 0) / 6;
      if (forward > 0.5 !== backward > 0.5) orderSensitive++;
    }
    assert.ok(orderSensitive > 0, 'no window in the edge set is sensitive to the summation order');
    assert.ok(outs.some((o) => o.onSidewalk) && outs.some((o) => !o.onSidewalk));
    // The comparison has teeth: the earlier rule (group sum, partial warm-up) fails it.
    assert.throws(() => agree(seq, { groupScore: 'sum', warmup: 'partial' }), assert.AssertionError);
  });

  test('the window starts full of zeros and is always divided by 6; a group scores its max class', () => {
    const engine = new DecisionEngine();
    const a = engine.step(input(0, Float32Array.from([0, 0, 1, 0])));
    assert.equal(a.sidewalkScore, 1 / 6);
    assert.equal(a.onSidewalk, false, 'one sidewalk frame after start is 1/6, not 1');
    for (let t = 1; t < 3; t++) engine.step(input(t * 66, Float32Array.from([0, 0.2, 0.7, 0.1])));
    const d = engine.step(input(198, Float32Array.from([0, 0.2, 0.7, 0.1])));
    assert.equal(d.sidewalkScore, (1 + 0.699999988079071 + 0.699999988079071 + 0.699999988079071) / 6, 'max(side, crosswalk) per frame, not their sum');
    assert.equal(d.onSidewalk, true);
  });

  test('the earlier rule stays available as options: group sum, partial warm-up', () => {
    const engine = new DecisionEngine({ groupScore: 'sum', warmup: 'partial' });
    const a = engine.step(input(0, Float32Array.from([0, 0, 1, 0])));
    assert.equal(a.sidewalkScore, 1);
    assert.equal(a.onSidewalk, true);
    const b = engine.step(input(66, Float32Array.from([0, 0, 0, 1])));
    assert.equal(b.sidewalkScore, 0.5);
    assert.equal(b.roadScore, 0.5);
    assert.equal(b.onSidewalk, false, '0.5 is not > 0.5');
    const sum = new DecisionEngine({ groupScore: 'sum' }).step(input(0, Float32Array.from([0, 0.25, 0.5, 0.25])));
    assert.equal(sum.sidewalkScore, 0.25 / 6 + 0.5 / 6, 'sum of the per-class averages, zero-filled');
    assert.throws(
      () => resolveDecisionConfig({ groupScore: 'mean' as 'max' }),
      (e: unknown) => isSidewalkError(e, 'DECISION_CONFIG_INVALID') && /groupScore/.test((e as Error).message),
    );
  });
});

describe('decide: hysteresis', () => {
  test('consecutive-frame hysteresis suppresses flicker but follows a sustained change', () => {
    const random = rng(7);
    // Ambiguous ground alternating every other frame, then a sustained sidewalk.
    const seq: Float32Array[] = [];
    for (let i = 0; i < 120; i++) seq.push(frame(random, i % 4 < 2 ? 0.95 : 0.05));
    for (let i = 0; i < 60; i++) seq.push(frame(random, 0.95));
    const steps = seq.map((p, i) => input(i * FRAME_MS, p));
    const legacy = run({ windowFrames: 1 }, steps);
    const smooth = run({ windowFrames: 1, enterFrames: 3, exitFrames: 3 }, steps);
    assert.ok(transitions(legacy.slice(0, 120)) >= 50, `legacy flips ${transitions(legacy.slice(0, 120))}`);
    assert.equal(transitions(smooth.slice(0, 120)), 0);
    assert.ok(smooth.slice(0, 120).some((o) => o.reason === 'pending-enter'));
    assert.equal(smooth.at(-1)!.onSidewalk, true);
    // It enters on the third consecutive sidewalk frame of the sustained run, not before.
    const firstOn = smooth.findIndex((o) => o.onSidewalk);
    assert.equal(firstOn, 122);
  });

  test('enter/exit thresholds hold the state inside the band', () => {
    const config = { windowFrames: 1, sidewalkEnter: 0.6, roadBelow: 0.4, sidewalkExit: 0.4, roadExit: 0.6 };
    const at = (t: number, sidewalk: number) => input(t, Float32Array.from([0, 0, sidewalk, 1 - sidewalk]));
    const outs = run(config, [at(0, 0.55), at(66, 0.7), at(132, 0.5), at(198, 0.45), at(264, 0.35), at(330, 0.55)]);
    assert.deepEqual(
      outs.map((o) => o.onSidewalk),
      [false, true, true, true, false, false],
    );
  });
});

describe('decide: minimum speed', () => {
  test('below minSpeedKph the state does not change; unknown speed does not freeze it', () => {
    const side = Float32Array.from([0, 0.1, 0.9, 0]);
    const street = Float32Array.from([0.1, 0, 0, 0.9]);
    const engine = new DecisionEngine({ windowFrames: 1, minSpeedKph: 5 });
    assert.equal(engine.step(input(0, street, 2)).onSidewalk, false);
    const frozen = engine.step(input(66, side, 2));
    assert.equal(frozen.onSidewalk, false);
    assert.equal(frozen.reason, 'low-speed');
    assert.equal(frozen.targetLimitKph, 25);
    assert.equal(engine.step(input(132, side, 5)).onSidewalk, true, 'at minSpeedKph the state may change');
    assert.equal(engine.step(input(198, street, 0)).onSidewalk, true, 'standing at the kerb keeps the sidewalk state');
    assert.equal(engine.step(input(264, street, null)).onSidewalk, false, 'unknown speed does not freeze');
  });
});

describe('decide: fail-safe', () => {
  const street = Float32Array.from([0.1, 0, 0, 0.9]);
  const side = Float32Array.from([0, 0.1, 0.9, 0]);

  test('engages exactly failSafeAfterMs after the last valid decision and releases after valid frames resume', () => {
    const engine = new DecisionEngine({ failSafeAfterMs: 1500, failSafeLimitKph: 4, failSafeReleaseFrames: 2 });
    for (let t = 0; t <= 1000; t += 100) assert.equal(engine.step(input(t, street)).targetLimitKph, 25);
    const before = engine.step(input(2499, null));
    assert.equal(before.failSafe, false);
    assert.equal(before.reason, 'no-input');
    assert.equal(before.targetLimitKph, 25, 'state held while the gap is shorter than failSafeAfterMs');
    const at = engine.step(input(2500, null));
    assert.equal(at.failSafe, true);
    assert.equal(at.reason, 'fail-safe');
    assert.equal(at.targetLimitKph, 4);
    assert.equal(engine.step(input(9000, null)).failSafe, true);
    const first = engine.step(input(9066, side));
    assert.equal(first.failSafe, true);
    assert.equal(first.reason, 'fail-safe-recovering');
    // The window was dropped on entering the fail-safe: only the fresh frame counts.
    assert.equal(first.sidewalkScore, Math.max(side[1]!, side[2]!) / 6);
    const second = engine.step(input(9132, street));
    assert.equal(second.failSafe, false);
    assert.equal(second.targetLimitKph, 25);
  });

  test('with no valid input at all it engages failSafeAfterMs after the first step, at sidewalk speed by default', () => {
    const outs = run({}, [input(1000, null), input(2499, null), input(2500, null)]);
    assert.deepEqual(
      outs.map((o) => o.failSafe),
      [false, false, true],
    );
    assert.equal(outs[2]!.targetLimitKph, 6);
  });

  test('a valid frame after an unstepped gap of failSafeAfterMs is handled as fail-safe too', () => {
    const engine = new DecisionEngine({ failSafeAfterMs: 1500, failSafeReleaseFrames: 2, windowFrames: 6 });
    for (let t = 0; t < 600; t += 100) engine.step(input(t, side));
    const resumed = engine.step(input(500 + 1500, street));
    assert.equal(resumed.failSafe, true);
    assert.equal(resumed.reason, 'fail-safe-recovering');
    assert.equal(resumed.roadScore, Math.max(street[0]!, street[3]!) / 6, 'the window before the gap was dropped');
    assert.equal(engine.step(input(2100, street)).failSafe, false);
    const noGap = new DecisionEngine({ failSafeAfterMs: 1500 });
    noGap.step(input(0, side));
    assert.equal(noGap.step(input(1499, side)).failSafe, false);
  });

  test('NaN or wrongly sized probabilities count as no valid inference', () => {
    const engine = new DecisionEngine({ failSafeAfterMs: 200 });
    engine.step(input(0, street));
    const nan = engine.step(input(100, Float32Array.from([NaN, 0, 0, 1])));
    assert.equal(nan.reason, 'invalid-probabilities');
    assert.equal(engine.step(input(150, Float32Array.from([0, 1]))).reason, 'invalid-probabilities');
    assert.equal(engine.step(input(200, Float32Array.from([0, 0, 2, 0]))).failSafe, true);
  });
});

describe('decide: purity and validation', () => {
  test('same inputs give the same outputs and the state passed in is not mutated', () => {
    const seq = scriptedSequence(9, 100).map((p, i) => input(i * FRAME_MS, i % 17 === 0 ? null : p));
    const config = resolveDecisionConfig({ enterFrames: 2, minSpeedKph: 3 });
    let state = initialDecisionState();
    const outs: DecisionOutput[] = [];
    for (const step of seq) {
      const snapshot = JSON.stringify(state);
      const r = decide(state, step, config);
      assert.equal(JSON.stringify(state), snapshot);
      state = r.state;
      outs.push(r.output);
    }
    assert.deepEqual(run({ enterFrames: 2, minSpeedKph: 3 }, seq), outs);
  });

  test('rejects unknown group labels and invalid config with coded errors', () => {
    const engine = new DecisionEngine();
    assert.throws(
      () => engine.step({ ...input(0, null), groups: { sidewalk: ['sidewalk'], road: ['street'] } }),
      (e: unknown) => isSidewalkError(e, 'DECISION_UNKNOWN_LABEL') && /"sidewalk"/.test((e as Error).message),
    );
    assert.throws(
      () => resolveDecisionConfig({ windowFrames: 0 }),
      (e: unknown) => isSidewalkError(e, 'DECISION_CONFIG_INVALID') && /windowFrames/.test((e as Error).message),
    );
    assert.throws(
      () => resolveDecisionConfig({ failSafeAfterMs: -1 }),
      (e: unknown) => isSidewalkError(e, 'DECISION_CONFIG_INVALID'),
    );
  });
});
