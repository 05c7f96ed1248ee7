/**
 * The human view of a running pipeline (the demo, `sidewalk replay --realtime`): one line per second
 * and one per state change, showing the top class, the decision and the current limit.
 */
import type { DecisionRecord } from './pipeline.js';

export class LiveView {
  #write: (line: string) => void;
  #lastPrintMs = -Infinity;
  #lastState = '';

  constructor(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
    this.#write = write;
  }

  show(r: DecisionRecord): void {
    const state = r.failSafe ? 'FAIL-SAFE' : r.onSidewalk ? 'SIDEWALK' : 'road';
    const t = r.mediaTimeMs ?? r.nowMs;
    if (state === this.#lastState && t - this.#lastPrintMs < 1000) return;
    const changed = state !== this.#lastState;
    this.#lastState = state;
    this.#lastPrintMs = t;
    const p = r.probabilities[r.labels.indexOf(r.top)] ?? 0;
    const target = r.targetLimitKph.toFixed(1);
    const limit = r.limitKph.toFixed(1);
    const ramp = limit === target ? `${limit} km/h` : `${limit} -> ${target} km/h`;
    this.#write(`${(t / 1000).toFixed(1).padStart(6)} s  ${r.top.padEnd(9)} ${p.toFixed(2)}  ${state.padEnd(9)}  limit ${ramp.padEnd(20)}${changed ? ' <' : ''}`);
  }
}
