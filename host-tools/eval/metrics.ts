/**
 * Pure scoring: confusion matrix (rows = truth, columns = prediction, manifest label order),
 * per-class precision/recall, the safety figures the fleet team cares about, and latency percentiles.
 * A class never predicted has precision 0 (not NaN), so the report stays valid JSON.
 */

export interface Confusion {
  labels: string[];
  /** matrix[truth][predicted] = count. */
  matrix: number[][];
}

export interface ClassScores {
  precision: number;
  recall: number;
  support: number;
}

export interface SafetyFigures {
  /** Frames of the sidewalk group predicted as any sidewalk-group class, over all sidewalk-group frames. */
  sidewalk_recall: number;
  /** Frames of the road group predicted as a sidewalk-group class (wrongly limited), over all road-group frames. */
  road_false_limit_rate: number;
  sidewalk_frames: number;
  road_frames: number;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p99: number;
}

export function emptyConfusion(labels: readonly string[]): Confusion {
  return { labels: [...labels], matrix: labels.map(() => labels.map(() => 0)) };
}

export function addToConfusion(c: Confusion, truth: number, predicted: number): void {
  c.matrix[truth]![predicted]! += 1;
}

export function confusionTotal(c: Confusion): number {
  return c.matrix.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
}

export function accuracyOf(c: Confusion): number {
  const total = confusionTotal(c);
  return total === 0 ? 0 : c.matrix.reduce((sum, row, i) => sum + row[i]!, 0) / total;
}

export function perClassScores(c: Confusion): Record<string, ClassScores> {
  const out: Record<string, ClassScores> = {};
  c.labels.forEach((label, i) => {
    const support = c.matrix[i]!.reduce((a, b) => a + b, 0);
    const predicted = c.matrix.reduce((sum, row) => sum + row[i]!, 0);
    const hits = c.matrix[i]![i]!;
    out[label] = { precision: predicted === 0 ? 0 : hits / predicted, recall: support === 0 ? 0 : hits / support, support };
  });
  return out;
}

/** Group figures from the confusion matrix; a group with no frames scores 0. */
export function safetyFigures(c: Confusion, groups: { sidewalk: readonly string[]; road: readonly string[] }): SafetyFigures {
  const sidewalk = new Set(groups.sidewalk.map((l) => c.labels.indexOf(l)).filter((i) => i >= 0));
  const road = new Set(groups.road.map((l) => c.labels.indexOf(l)).filter((i) => i >= 0));
  let sidewalkFrames = 0;
  let sidewalkHits = 0;
  let roadFrames = 0;
  let roadLimited = 0;
  c.matrix.forEach((row, truth) => {
    row.forEach((n, predicted) => {
      if (sidewalk.has(truth)) {
        sidewalkFrames += n;
        if (sidewalk.has(predicted)) sidewalkHits += n;
      } else if (road.has(truth)) {
        roadFrames += n;
        if (sidewalk.has(predicted)) roadLimited += n;
      }
    });
  });
  return {
    sidewalk_recall: sidewalkFrames === 0 ? 0 : sidewalkHits / sidewalkFrames,
    road_false_limit_rate: roadFrames === 0 ? 0 : roadLimited / roadFrames,
    sidewalk_frames: sidewalkFrames,
    road_frames: roadFrames,
  };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; 0 for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function latencySummary(values: readonly number[]): LatencySummary {
  const mean = values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, p50: percentile(values, 50), p99: percentile(values, 99) };
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
