/**
 * Model switch under load: the runtime's Pipeline fed by a real-time SyntheticSource, classifying
 * with real TFLite models, while the model is switched the way RuntimeService.reload() does it on
 * SIGHUP / model OTA: load the new bundle beside the old one, pipeline.swapClassifier(next), close
 * the old one. Measures each switch, the source's dropped frames and the longest gap between
 * decisions around it, and the same for quiet windows without a switch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Ramp } from '../runtime/actuators/ramp.js';
import { SyntheticSource } from '../runtime/camera/synthetic-source.js';
import type { RuntimeConfig } from '../runtime/config/schema.js';
import { DecisionEngine } from '../runtime/decision/index.js';
import { loadClassifier } from '../runtime/service/components.js';
import { Pipeline } from '../runtime/service/pipeline.js';
import { createRuntimeMetrics } from '../telemetry/runtime-metrics.js';

export interface WindowStats {
  ms: number;
  dropped: number;
  maxGapMs: number;
  decisions: number;
}

export interface SwitchRun {
  fps: number;
  frameIntervalMs: number;
  switches: (WindowStats & { switchMs: number; model: string })[];
  quiet: WindowStats[];
  /** The model the pipeline runs at the end (proves the last swap took). */
  finalModel: string;
}

/** Frames still in flight when the switch returns show up within this settle time. */
const SETTLE_MS = 200;

export async function runModelSwitches(options: { bundles: [string, string]; switches: number; fps: number; width: number; height: number }): Promise<SwitchRun> {
  // loadClassifier reads only config.model; the rest of a RuntimeConfig does not matter here.
  const configFor = (bundle: string) => ({ model: { bundle, delegate: 'xnnpack', num_threads: 2 } }) as unknown as RuntimeConfig;
  const source = new SyntheticSource({ script: 'street:5,side:5,crosswalk:5', width: options.width, height: options.height, fps: options.fps, realtime: true, loop: true, seed: 1 });
  const decisionsAtMs: number[] = [];
  const pipeline = new Pipeline({
    source,
    classifier: await loadClassifier(configFor(options.bundles[0])),
    decision: new DecisionEngine(),
    limitRule: new Ramp(6),
    limiter: null,
    speedSource: null,
    metrics: createRuntimeMetrics({ defaultMetrics: false }),
    timebase: 'monotonic',
    onDecision: () => decisionsAtMs.push(performance.now()),
  });
  await source.start();
  const loop = pipeline.run();

  /** Longest interval between decisions, counting the last decision before `fromMs` and all up to `toMs`. */
  const maxGap = (fromMs: number, toMs: number): { gap: number; count: number } => {
    let prev: number | null = null;
    let gap = 0;
    let count = 0;
    for (const t of decisionsAtMs) {
      if (t < fromMs) {
        prev = t;
        continue;
      }
      if (t > toMs) break;
      if (prev !== null) gap = Math.max(gap, t - prev);
      prev = t;
      count++;
    }
    return { gap, count };
  };
  const window = async (work: () => Promise<void>): Promise<WindowStats & { workMs: number }> => {
    const dropped0 = source.stats.dropped;
    const t0 = performance.now();
    await work();
    const t1 = performance.now();
    await sleep(SETTLE_MS);
    const t2 = performance.now();
    const g = maxGap(t0, t2);
    return { ms: t2 - t0, workMs: t1 - t0, dropped: source.stats.dropped - dropped0, maxGapMs: g.gap, decisions: g.count };
  };

  try {
    await sleep(2000); // worker, XNNPACK and the event loop settle
    const run: SwitchRun = { fps: options.fps, frameIntervalMs: 1000 / options.fps, switches: [], quiet: [], finalModel: '' };
    for (let i = 0; i < options.switches; i++) {
      // A quiet window as long as a typical switch window, for comparison.
      const quiet = await window(() => sleep(300));
      run.quiet.push({ ms: quiet.ms, dropped: quiet.dropped, maxGapMs: quiet.maxGapMs, decisions: quiet.decisions });
      await sleep(300);
      const bundle = options.bundles[(i + 1) % 2]!;
      let model = '';
      const w = await window(async () => {
        const next = await loadClassifier(configFor(bundle));
        const old = pipeline.swapClassifier(next);
        await old.close();
        model = `${next.info.name}@${next.info.version}`;
      });
      run.switches.push({ ms: w.ms, dropped: w.dropped, maxGapMs: w.maxGapMs, decisions: w.decisions, switchMs: w.workMs, model });
      await sleep(300);
    }
    run.finalModel = `${pipeline.classifier.info.name}@${pipeline.classifier.info.version}`;
    if (decisionsAtMs.length < options.fps) throw new Error(`the pipeline made only ${decisionsAtMs.length} decisions`);
    return run;
  } finally {
    await pipeline.stop();
    await loop.catch(() => {});
    await pipeline.classifier.close();
  }
}
