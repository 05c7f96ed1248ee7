/**
 * The scoring arithmetic on a hand-made confusion matrix, and the PNG encoder checked by a real
 * ffmpeg decode (pixel values read back) as well as by its signature and IHDR.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { accuracyOf, addToConfusion, confusionTotal, emptyConfusion, latencySummary, perClassScores, percentile, safetyFigures, type Confusion } from '../../../host-tools/eval/metrics.js';
import { Canvas, encodePng, PNG_SIGNATURE } from '../../../host-tools/eval/png.js';
import { confusionPng, perClassPng } from '../../../host-tools/eval/plots.js';
import { parityOf } from '../../../host-tools/eval/keras.js';
import { makeTempDir } from '../../helpers/temp.js';

const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'];
const GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] };

// rows = truth, columns = predicted
const HAND: Confusion = {
  labels: LABELS,
  matrix: [
    [8, 0, 1, 1], // bike_lane: 10
    [0, 5, 3, 2], // crosswalk: 10
    [2, 1, 16, 1], // side: 20
    [0, 0, 4, 6], // street: 10
  ],
};

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
}

describe('eval metrics', () => {
  test('precision, recall, support and accuracy on a hand-made confusion matrix', () => {
    assert.equal(confusionTotal(HAND), 50);
    near(accuracyOf(HAND), (8 + 5 + 16 + 6) / 50, 'accuracy');
    const s = perClassScores(HAND);
    near(s.bike_lane!.precision, 8 / 10, 'bike_lane precision'); // column 8+0+2+0
    near(s.bike_lane!.recall, 8 / 10, 'bike_lane recall');
    near(s.crosswalk!.precision, 5 / 6, 'crosswalk precision');
    near(s.crosswalk!.recall, 5 / 10, 'crosswalk recall');
    near(s.side!.precision, 16 / 24, 'side precision');
    near(s.side!.recall, 16 / 20, 'side recall');
    near(s.street!.precision, 6 / 10, 'street precision');
    near(s.street!.recall, 6 / 10, 'street recall');
    assert.deepEqual(
      Object.values(s).map((c) => c.support),
      [10, 10, 20, 10],
    );
  });

  test('safety figures: sidewalk-group recall and road frames wrongly limited', () => {
    const f = safetyFigures(HAND, GROUPS);
    // sidewalk truth (crosswalk + side = 30): predicted crosswalk/side = 5+3 + 1+16 = 25
    near(f.sidewalk_recall, 25 / 30, 'sidewalk_recall');
    // road truth (bike_lane + street = 20): predicted crosswalk/side = 0+1 + 0+4 = 5
    near(f.road_false_limit_rate, 5 / 20, 'road_false_limit_rate');
    assert.equal(f.sidewalk_frames, 30);
    assert.equal(f.road_frames, 20);
  });

  test('a class never predicted gets precision 0, an empty matrix scores 0, addToConfusion counts', () => {
    const c = emptyConfusion(LABELS);
    assert.equal(accuracyOf(c), 0);
    addToConfusion(c, 2, 2);
    addToConfusion(c, 3, 2);
    const s = perClassScores(c);
    assert.equal(s.street!.precision, 0);
    assert.equal(s.street!.recall, 0);
    near(s.side!.precision, 0.5, 'side precision');
    assert.equal(confusionTotal(c), 2);
  });

  test('latency percentiles are nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile([7], 99), 7);
    const l = latencySummary([1, 2, 3, 10]);
    near(l.mean, 4, 'mean');
    assert.equal(l.p50, 2);
    assert.equal(l.p99, 10);
  });

  test('parity compares label names against the target of the export type', () => {
    const keras = ['side', 'street', 'side', 'crosswalk'];
    const p = parityOf(keras, ['side', 'street', 'street', 'crosswalk'], 'int8');
    near(p.agreement, 0.75, 'agreement');
    assert.equal(p.target, 0.98);
    assert.equal(p.ok, false);
    assert.equal(parityOf(keras, keras, 'float32').ok, true);
    assert.equal(parityOf(keras, keras, 'float32').target, 0.995);
  });

  test('PNG encoder: valid signature and IHDR, and ffmpeg decodes the exact pixels back', async () => {
    const canvas = new Canvas(7, 5, [10, 20, 30]);
    canvas.fillRect(2, 1, 3, 2, [250, 128, 3]);
    const png = encodePng(canvas);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.equal(png.toString('ascii', 12, 16), 'IHDR');
    assert.equal(png.readUInt32BE(16), 7);
    assert.equal(png.readUInt32BE(20), 5);
    const dir = await makeTempDir('sidewalk-eval-png-');
    try {
      await writeFile(join(dir, 'a.png'), png);
      const r = spawnSync('ffmpeg', ['-v', 'error', '-i', join(dir, 'a.png'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 << 20 });
      assert.equal(r.status, 0, r.stderr?.toString());
      assert.deepEqual(new Uint8Array(r.stdout), canvas.data);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the plots are PNGs that ffmpeg decodes at the size their IHDR states', async () => {
    const dir = await makeTempDir('sidewalk-eval-plots-');
    try {
      for (const [name, png] of [
        ['confusion', confusionPng(HAND)],
        ['per-class', perClassPng(perClassScores(HAND))],
      ] as const) {
        assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, name);
        const width = png.readUInt32BE(16);
        const height = png.readUInt32BE(20);
        assert.ok(width > 300 && height > 300, `${name}: ${width}x${height}`);
        await writeFile(join(dir, `${name}.png`), png);
        const r = spawnSync('ffmpeg', ['-v', 'error', '-i', join(dir, `${name}.png`), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 << 20 });
        assert.equal(r.status, 0, r.stderr?.toString());
        assert.equal(r.stdout.length, width * height * 3, name);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
