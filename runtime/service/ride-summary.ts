/**
 * Streaming summary of a run's decisions (what `sidewalk replay` prints): frames, fps, share of
 * time on a sidewalk, limit activations, and how long the limit took to reach sidewalk speed after
 * the decision entered a sidewalk. Constant memory however long the ride.
 */
import type { DecisionRecord } from './pipeline.js';

export interface RideSummary {
  frames: number;
  durationS: number;
  processingFps: number;
  sidewalkShare: number;
  limitActivations: number;
  failSafeFrames: number;
  /** Seconds from entering a sidewalk to the commanded limit reaching sidewalk speed (null: never reached). */
  timeToLimitS: { mean: number | null; max: number | null; count: number };
  inferenceMs: { mean: number | null; p99: number | null };
  classCounts: Record<string, number>;
}

export class RideSummaryBuilder {
  #sidewalkKph: number;
  #frames = 0;
  #failSafeFrames = 0;
  #activations = 0;
  #firstMs: number | null = null;
  #lastMs: number | null = null;
  #sidewalkMs = 0;
  #prev: DecisionRecord | null = null;
  #enteredAtMs: number | null = null;
  #reachTimesS: number[] = [];
  #inferenceMs: number[] = [];
  #classCounts: Record<string, number> = {};
  #startedAt = performance.now();

  constructor(sidewalkKph: number) {
    this.#sidewalkKph = sidewalkKph;
  }

  add(r: DecisionRecord): void {
    const t = r.mediaTimeMs ?? r.nowMs;
    this.#frames++;
    if (r.failSafe) this.#failSafeFrames++;
    this.#firstMs ??= t;
    if (this.#prev) {
      const prevT = this.#prev.mediaTimeMs ?? this.#prev.nowMs;
      if (this.#prev.onSidewalk) this.#sidewalkMs += Math.max(0, t - prevT);
    }
    this.#lastMs = t;
    if (r.onSidewalk && !this.#prev?.onSidewalk) {
      this.#activations++;
      this.#enteredAtMs = r.nowMs;
    }
    if (!r.onSidewalk) this.#enteredAtMs = null;
    if (this.#enteredAtMs !== null && r.limitKph <= this.#sidewalkKph + 1e-6) {
      this.#reachTimesS.push((r.nowMs - this.#enteredAtMs) / 1000);
      this.#enteredAtMs = null;
    }
    // A bounded reservoir keeps memory flat on long rides; p99 stays representative.
    if (this.#inferenceMs.length < 10000) this.#inferenceMs.push(r.inferenceMs);
    else this.#inferenceMs[this.#frames % 10000] = r.inferenceMs;
    this.#classCounts[r.top] = (this.#classCounts[r.top] ?? 0) + 1;
    this.#prev = r;
  }

  build(): RideSummary {
    const durationMs = this.#firstMs === null || this.#lastMs === null ? 0 : this.#lastMs - this.#firstMs;
    const wallS = (performance.now() - this.#startedAt) / 1000;
    const reach = this.#reachTimesS;
    const inf = [...this.#inferenceMs].sort((a, b) => a - b);
    const round = (x: number, d = 3) => Number(x.toFixed(d));
    return {
      frames: this.#frames,
      durationS: round(durationMs / 1000),
      processingFps: wallS > 0 ? round(this.#frames / wallS, 1) : 0,
      sidewalkShare: durationMs > 0 ? round(this.#sidewalkMs / durationMs) : 0,
      limitActivations: this.#activations,
      failSafeFrames: this.#failSafeFrames,
      timeToLimitS: {
        mean: reach.length ? round(reach.reduce((a, b) => a + b, 0) / reach.length) : null,
        max: reach.length ? round(Math.max(...reach)) : null,
        count: reach.length,
      },
      inferenceMs: {
        mean: inf.length ? round(inf.reduce((a, b) => a + b, 0) / inf.length) : null,
        p99: inf.length ? round(inf[Math.min(inf.length - 1, Math.floor(inf.length * 0.99))]!) : null,
      },
      classCounts: this.#classCounts,
    };
  }
}

export function formatSummary(s: RideSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const secs = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)} s`);
  return [
    `frames:               ${s.frames} (${s.durationS.toFixed(1)} s of ride, ${s.processingFps} fps processed)`,
    `time on sidewalk:     ${pct(s.sidewalkShare)}`,
    `limit activations:    ${s.limitActivations}`,
    `sidewalk -> limited:  mean ${secs(s.timeToLimitS.mean)}, max ${secs(s.timeToLimitS.max)} (${s.timeToLimitS.count} reached)`,
    `fail-safe frames:     ${s.failSafeFrames}`,
    `inference:            mean ${s.inferenceMs.mean ?? 'n/a'} ms, p99 ${s.inferenceMs.p99 ?? 'n/a'} ms`,
    `top class per frame:  ${Object.entries(s.classCounts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ].join('\n');
}
