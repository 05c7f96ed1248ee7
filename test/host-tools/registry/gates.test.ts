import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { readEvalReport } from '../../../host-tools/registry/eval-report.js';
import { checkGates, DEFAULT_GATES, formatGateResult, GateCode } from '../../../host-tools/registry/gates.js';
import { rateText } from '../../../host-tools/registry/eval-report.js';
import { report } from './fixtures.js';
import { makeTempDir } from '../../helpers/temp.js';

const GATES = { accuracyTolerance: 0.02, sidewalkRecallMin: 0.9, roadFalseLimitMax: 0.1 };
const PRODUCTION = report('1.0.0', { accuracy: 0.9, sidewalkRecall: 0.95, roadFalseLimit: 0.05 });
const codes = (r: ReturnType<typeof checkGates>): string[] => r.failures.map((f) => f.code);

describe('promotion gates (hand-written report.json fixtures)', () => {
  test('a model within tolerance and above the floors passes, and says what it compared with', () => {
    const r = checkGates('LA', report('1.1.0', { accuracy: 0.885, sidewalkRecall: 0.9, roadFalseLimit: 0.1 }), PRODUCTION, GATES);
    assert.equal(r.passed, true, formatGateResult(r));
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.production, { version: '1.0.0', sha256: 'sha-1.0.0', accuracy: 0.9 });
    assert.match(formatGateResult(r), /gates passed: accuracy 88\.50% \(production 1\.0\.0: 90\.00%\)/);
  });

  test('a deliberately worse model fails the accuracy gate with its code and both numbers', () => {
    const r = checkGates('LA', report('1.1.0', { accuracy: 0.85, sidewalkRecall: 0.95, roadFalseLimit: 0.05 }), PRODUCTION, GATES);
    assert.equal(r.passed, false);
    assert.deepEqual(codes(r), [GateCode.GATE_ACCURACY_REGRESSION]);
    assert.match(r.failures[0]!.message, /accuracy 85\.00% is 5\.00% below production 1\.0\.0 \(90\.00%\); tolerance 2\.00%/);
  });

  test('a split with no sidewalk frames is "no data" (n/a), not a recall of 0 %', () => {
    const r = report('1.0.0', { accuracy: 0.95, sidewalkRecall: 0, roadFalseLimit: 0.01 });
    const noData = { ...r, safety: { ...r.safety, sidewalk_frames: 0, road_frames: 40 } };
    const result = checkGates('LA', noData, null, GATES);
    assert.deepEqual(codes(result), [GateCode.GATE_NO_SIDEWALK_FRAMES]);
    assert.match(result.failures[0]!.message, /n\/a \(0 frames\).*--unfreeze/);
    assert.doesNotMatch(result.failures[0]!.message, /0\.00%/);
    assert.equal(rateText(0, 0), 'n/a (0 frames)');
    assert.equal(rateText(0.5, 10), '50.00%');
  });

  test('safety floors are checked whether or not there is a production model', () => {
    const unsafe = report('1.0.0', { accuracy: 0.95, sidewalkRecall: 0.8, roadFalseLimit: 0.2 });
    assert.deepEqual(codes(checkGates('LA', unsafe, null, GATES)), [GateCode.GATE_SIDEWALK_RECALL_FLOOR, GateCode.GATE_ROAD_FALSE_LIMIT_CEILING]);
    assert.deepEqual(codes(checkGates('LA', unsafe, PRODUCTION, GATES)), [GateCode.GATE_SIDEWALK_RECALL_FLOOR, GateCode.GATE_ROAD_FALSE_LIMIT_CEILING]);
    const first = checkGates('LA', report('1.0.0', { accuracy: 0.5, sidewalkRecall: 0.92, roadFalseLimit: 0.01 }), null, GATES);
    assert.equal(first.passed, true, 'without production only the floors apply');
    assert.equal(first.production, null);
  });

  test('reports on different snapshots or splits are not compared', () => {
    const otherData = report('1.1.0', { accuracy: 0.99, sidewalkRecall: 0.99, roadFalseLimit: 0 }, { hash: 'sha256:another-snapshot' });
    assert.deepEqual(codes(checkGates('LA', otherData, PRODUCTION, GATES)), [GateCode.GATE_DATASET_MISMATCH]);
    const valSplit = report('1.1.0', { accuracy: 0.99, sidewalkRecall: 0.99, roadFalseLimit: 0 }, { split: 'val' });
    assert.deepEqual(codes(checkGates('LA', valSplit, PRODUCTION, GATES)), [GateCode.GATE_WRONG_EVALUATION, GateCode.GATE_DATASET_MISMATCH]);
    const denver = report('1.1.0', { accuracy: 0.99, sidewalkRecall: 0.99, roadFalseLimit: 0 }, { location: 'Denver' });
    assert.deepEqual(codes(checkGates('LA', denver, PRODUCTION, GATES)), [GateCode.GATE_WRONG_EVALUATION]);
  });

  test('the default limits reject a small regression beyond one point', () => {
    const r = checkGates('LA', report('1.1.0', { accuracy: 0.885, sidewalkRecall: 0.95, roadFalseLimit: 0.05 }), PRODUCTION, DEFAULT_GATES);
    assert.deepEqual(codes(r), [GateCode.GATE_ACCURACY_REGRESSION]);
  });

  test('report.json files are read and checked field by field', async () => {
    const dir = await makeTempDir('sidewalk-gates-');
    try {
      const good = join(dir, 'good.json');
      await writeFile(good, JSON.stringify(PRODUCTION));
      assert.equal((await readEvalReport(good)).accuracy, 0.9);
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ ...PRODUCTION, safety: { sidewalk_recall: 1.5, road_false_limit_rate: 0 } }));
      await assert.rejects(
        readEvalReport(bad),
        (err: unknown) => isSidewalkError(err, 'REGISTRY_REPORT_INVALID') && /bad\.json: safety\.sidewalk_recall must be a number in \[0, 1\]/.test(err.message),
      );
      const wrongFormat = join(dir, 'format.json');
      await writeFile(wrongFormat, JSON.stringify({ ...PRODUCTION, format: 'other/2' }));
      await assert.rejects(readEvalReport(wrongFormat), /format must be "sidewalk-eval\/1"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
