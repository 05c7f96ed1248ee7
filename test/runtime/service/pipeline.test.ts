import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyntheticSource } from '../../../runtime/camera/synthetic-source.js';
import { DecisionEngine } from '../../../runtime/decision/index.js';
import { Ramp } from '../../../runtime/actuators/ramp.js';
import { Pipeline, type DecisionRecord } from '../../../runtime/service/pipeline.js';
import { createRuntimeMetrics } from '../../../telemetry/runtime-metrics.js';
import type { SpeedLimiter, SpeedSource } from '../../../runtime/types.js';
import { MeasuredSpeedLimitRule } from '../../../runtime/actuators/speed-rule.js';
import { SimulatedSpeedSource } from '../../../runtime/sensors/index.js';
import { OracleClassifier } from '../../helpers/oracle-classifier.js';

class RecordingLimiter implements SpeedLimiter {
  readonly kind = 'recording';
  commands: number[] = [];
  async init() {}
  async setLimit(kph: number) {
    this.commands.push(kph);
  }
  async safeState() {
    this.commands.push(6);
  }
  async close() {}
}

async function runScript(script: string, options: { failBetweenMs?: [number, number]; monitor?: boolean; speed?: SpeedSource } = {}) {
  const fps = 10;
  const source = new SyntheticSource({ script, width: 32, height: 24, fps, realtime: false, seed: 1 });
  const limiter = new RecordingLimiter();
  const metrics = createRuntimeMetrics({ defaultMetrics: false });
  const records: DecisionRecord[] = [];
  const pipeline = new Pipeline({
    source,
    classifier: new OracleClassifier(script, options),
    decision: new DecisionEngine({ sidewalkLimitKph: 6, fullSpeedKph: 25, failSafeAfterMs: 1500 }),
    limitRule: options.speed ? new MeasuredSpeedLimitRule(6, { rampS: 10, fullSpeedKph: 25, sidewalkLimitKph: 6 }) : new Ramp(6, { rampS: 10, fullSpeedKph: 25, sidewalkLimitKph: 6 }),
    limiter: options.monitor ? null : limiter,
    speedSource: options.speed ?? null,
    metrics,
    timebase: 'media',
    onDecision: (r) => records.push(r),
  });
  await source.start();
  await options.speed?.start();
  await pipeline.run();
  await pipeline.stop();
  return { records, limiter, metrics };
}

test('the limit ramps to sidewalk speed on a sidewalk segment and back to full speed after it', async () => {
  const { records, limiter, metrics } = await runScript('street:12,side:14,street:12');
  const at = (s: number) => records.find((r) => (r.mediaTimeMs ?? 0) >= s * 1000)!;
  assert.equal(at(11).onSidewalk, false);
  assert.equal(at(11).limitKph, 25, 'starts at the fail-safe limit, ramps to full speed on the street');
  assert.equal(at(13).onSidewalk, true);
  assert.equal(at(25).limitKph, 6, 'limited well within the 10 s ramp on the sidewalk');
  assert.equal(at(37).onSidewalk, false);
  assert.equal(records.at(-1)!.limitKph, 25);
  assert.equal((await metrics.limitActivationsTotal.get()).values[0]!.value, 1);
  // Ramped: no frame moves the limit by more than span/ramp * frame interval (1.9 km/h/s * 0.1 s).
  for (let i = 1; i < records.length; i++) {
    assert.ok(Math.abs(records[i]!.limitKph - records[i - 1]!.limitKph) <= 0.19 + 1e-9, `jump at frame ${i}`);
  }
  // As the legacy scooter: a command only when the limit changed.
  const changes = records.filter((r, i) => r.limitKph !== (i === 0 ? null : records[i - 1]!.limitKph)).length;
  assert.equal(limiter.commands.length, changes);
  for (let i = 1; i < limiter.commands.length; i++) assert.notEqual(limiter.commands[i], limiter.commands[i - 1]);
});

test('inference failures engage the fail-safe after fail_safe_after_ms and it releases afterwards', async () => {
  const { records, metrics } = await runScript('street:20', { failBetweenMs: [5000, 9000] });
  const failSafe = records.filter((r) => r.failSafe);
  assert.ok(failSafe.length === 0, 'records are only emitted for classified frames');
  assert.equal((await metrics.inferenceErrorsTotal.get()).values[0]!.value, 40);
  assert.equal((await metrics.failSafeActivationsTotal.get()).values[0]!.value, 1);
  const after = records.find((r) => (r.mediaTimeMs ?? 0) >= 9000)!;
  assert.ok(after.limitKph < 25, 'the limit was pulled toward the fail-safe limit during the gap');
  assert.equal(records.at(-1)!.limitKph, 25, 'back to full speed once decisions are fresh');
});

test('monitor mode decides but never commands the limiter', async () => {
  const { records, limiter } = await runScript('side:5', { monitor: true });
  assert.ok(records.some((r) => r.onSidewalk));
  assert.equal(limiter.commands.length, 0);
});

test('with a measured speed the limit follows it: entering a sidewalk at 8 km/h it is below 8 at once', async () => {
  const speed = new SimulatedSpeedSource({ kind: 'simulated', speedKph: 8 });
  const { records } = await runScript('street:5,side:5', { speed });
  const entered = records.findIndex((r) => r.onSidewalk);
  assert.ok(entered > 0);
  assert.ok(Math.abs(records[entered - 1]!.limitKph - (8 + 0.19)) < 1e-9, 'on the street: measured speed + rate * frame interval');
  assert.ok(Math.abs(records[entered]!.limitKph - (8 - 0.19)) < 1e-9, 'the first sidewalk frame: below the measured speed');
  for (const r of records.filter((x) => x.onSidewalk)) assert.ok(r.limitKph <= Math.max(r.speedKph!, 6));
});
