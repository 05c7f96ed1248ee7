import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyntheticSource } from '../../runtime/camera/synthetic-source.js';
import { DecisionEngine } from '../../runtime/decision/index.js';
import { Ramp } from '../../runtime/actuators/ramp.js';
import { Pipeline } from '../../runtime/service/pipeline.js';
import { createRuntimeMetrics } from '../../telemetry/runtime-metrics.js';
import type { SpeedLimiter } from '../../runtime/types.js';
import { OracleClassifier } from '../helpers/oracle-classifier.js';

/** A limiter whose commands fail while `broken` (a serial controller that stopped answering). */
class FlakyLimiter implements SpeedLimiter {
  readonly kind = 'flaky';
  broken = false;
  ok = 0;
  async init() {}
  async setLimit() {
    if (this.broken) throw new Error('controller did not acknowledge');
    this.ok++;
  }
  async safeState() {}
  async close() {}
}

test('failed limiter commands are counted in sidewalk_limiter_errors_total (the SidewalkLimiterErrors alert)', async () => {
  const script = 'street:8';
  const source = new SyntheticSource({ script, width: 32, height: 24, fps: 10, realtime: false, seed: 1 });
  const limiter = new FlakyLimiter();
  const metrics = createRuntimeMetrics({ defaultMetrics: false });
  let frames = 0;
  const pipeline = new Pipeline({
    source,
    classifier: new OracleClassifier(script),
    decision: new DecisionEngine({ sidewalkLimitKph: 6, fullSpeedKph: 25, failSafeAfterMs: 1500 }),
    limitRule: new Ramp(6, { rampS: 10, fullSpeedKph: 25, sidewalkLimitKph: 6 }),
    limiter,
    speedSource: null,
    metrics,
    timebase: 'media',
    // The ramp changes the limit on every frame, so every frame commands the limiter.
    onDecision: () => {
      frames++;
      limiter.broken = frames > 40;
    },
  });
  await source.start();
  await pipeline.run();
  await pipeline.stop();
  const errors = (await metrics.limiterErrorsTotal.get()).values[0]!.value;
  assert.ok(limiter.ok > 0, 'commands succeeded before the fault');
  assert.ok(errors > 0, 'the failing commands were counted');
  assert.match(await metrics.registry.metrics(), new RegExp(`sidewalk_limiter_errors_total ${errors}\\n`));
});
