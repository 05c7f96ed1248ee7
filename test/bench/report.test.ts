import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interleavedRounds, median, sameRoundRatios, Targets } from '../../bench/report.js';

test('interleaved rounds alternate which side runs first and drop the warm-up rounds', async () => {
  const order: string[] = [];
  let n = 0;
  const r = await interleavedRounds(
    4,
    {
      a: async (round) => {
        order.push(`a${round}`);
        return ++n;
      },
      b: async (round) => {
        order.push(`b${round}`);
        return ++n * 10;
      },
    },
    { warmup: 1 },
  );
  assert.deepEqual(order, ['a0', 'b0', 'b1', 'a1', 'a2', 'b2', 'b3', 'a3', 'a4', 'b4']);
  assert.equal(r.a.length, 4);
  assert.equal(r.b.length, 4);
  assert.deepEqual(r.a, [4, 5, 8, 9]);
  assert.deepEqual(r.b, [30, 60, 70, 100]);
});

test('the verdict is the median of same-round ratios, not a ratio of two independent bests', () => {
  // Side b was fastest (1) in round 3 and side a fastest (2) in round 1: best/best would say 2.0.
  const s = sameRoundRatios([2, 6, 9], [3, 2, 1]);
  assert.deepEqual(s.ratios, [2 / 3, 3, 9]);
  assert.equal(s.median, 3);
  assert.equal(s.min, 2 / 3);
  assert.equal(s.max, 9);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => sameRoundRatios([1], [1, 2]));
});

test('--check turns a missed target into a non-zero exit code', () => {
  const saved = process.exitCode;
  try {
    const t = new Targets();
    t.row('ratio', '0.70', '>= 0.8', false);
    t.row('rss', '10 MB', '< 100 MB', true);
    assert.deepEqual(t.missed, ['ratio']);
    assert.match(t.lines().join('\n'), /ratio\s+0\.70\s+>= 0\.8\s+MISSED/);
    process.exitCode = 0;
    t.finish(['node', 'bench']);
    assert.equal(process.exitCode, 0, 'without --check a miss is only reported');
    t.finish(['node', 'bench', '--check']);
    assert.equal(process.exitCode, 3);
    const ok = new Targets();
    ok.row('rss', '10 MB', '< 100 MB', true);
    process.exitCode = 0;
    ok.finish(['node', 'bench', '--check']);
    assert.equal(process.exitCode, 0);
  } finally {
    process.exitCode = saved;
  }
});
