/**
 * A split with no sidewalk frames: the HTML report and the per-class plot say "no data" for the
 * rates over 0 frames (as the CLI summary does), not a 0 % that reads as a failed safety gate.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EVAL_FORMAT, type EvalReport } from '../../../host-tools/eval/evaluate.js';
import { reportHtml } from '../../../host-tools/eval/html.js';
import { perClassScores, safetyFigures, type Confusion } from '../../../host-tools/eval/metrics.js';
import { barText, perClassPng } from '../../../host-tools/eval/plots.js';

const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'];
const GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] };

function report(c: Confusion): EvalReport {
  return {
    format: EVAL_FORMAT,
    model: { name: 'm', version: '1.0.0', location: 'LA', sha256: 'ab', dir: '/m', dtype: 'float32', backend: 'xnnpack' },
    dataset: { hash: 'h', split: 'test', count: 10, dir: '/d' },
    accuracy: 0.7,
    per_class: perClassScores(c),
    confusion: c,
    safety: safetyFigures(c, GROUPS),
    per_location: { LA: { accuracy: 0.7, count: 10 } },
    latency_ms: { mean: 1, p50: 1, p99: 2, preprocess_mean: 0.5 },
    created_at: '2026-01-01T00:00:00Z',
  };
}

/** The cell text of the headline table's second row. */
function headline(html: string): string[] {
  const row = /<table><tr>(?:<th>[^<]*<\/th>)+<\/tr><tr>(.*?)<\/tr><\/table>/.exec(html)![1]!;
  return [...row.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]!);
}

describe('eval report over a split without sidewalk frames', () => {
  // Rows = truth: only road frames (bike_lane, street), one street frame predicted as side.
  const noSidewalk: Confusion = {
    labels: LABELS,
    matrix: [
      [3, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 1, 6],
    ],
  };
  const withSidewalk: Confusion = {
    labels: LABELS,
    matrix: [
      [3, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 2],
      [0, 0, 1, 6],
    ],
  };

  test('HTML: sidewalk recall and the per-class recall of an absent class read "n/a (0 frames)"', () => {
    const html = reportHtml(report(noSidewalk), { confusion: 'c.png', perClass: 'p.png' });
    const [, sidewalk, road] = headline(html);
    assert.equal(sidewalk, 'n/a (0 frames)');
    assert.equal(road, '10.00%', 'a rate over frames is still a percentage');
    assert.match(html, /<tr><td>side<\/td><td>0\.00%<\/td><td>n\/a \(0 frames\)<\/td><td>0<\/td><\/tr>/);
    // With sidewalk frames, a recall of 0 is a real 0 %.
    const [, zero] = headline(reportHtml(report(withSidewalk), { confusion: 'c.png', perClass: 'p.png' }));
    assert.equal(zero, '0.00%');
  });

  test('PNG: the recall bar of a class with no frames is labelled N/A, not 0.00', () => {
    const none = perClassScores(noSidewalk);
    const some = perClassScores(withSidewalk);
    assert.equal(barText('recall', none.side!), 'N/A');
    assert.equal(barText('precision', none.side!), '0.00');
    assert.equal(barText('recall', some.side!), '0.00');
    assert.equal(barText('recall', none.street!), '0.86');
    // The plot still renders (its bar labels come from barText).
    const png = perClassPng(none);
    assert.equal(png.toString('ascii', 12, 16), 'IHDR');
  });
});
