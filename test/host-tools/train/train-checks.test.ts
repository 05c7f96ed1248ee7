/**
 * The two checks around a `sidewalk train` run, without training: the warning for an --input-size
 * above the export's images, and TRAIN_ACCURACY_ZERO for bundles that score 0 % on the test split.
 * The CLI path is taken up to the trainer's venv, which fails at once on a missing interpreter.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { upscaleWarning, zeroAccuracyError } from '../../../host-tools/train/cli.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { runSidewalk } from '../../helpers/cli-guard.js';
import { makeTempDir } from '../../helpers/temp.js';

describe('sidewalk train checks', () => {
  let root: string;
  let data: string;
  before(async () => {
    root = await makeTempDir('sidewalk-train-checks-');
    data = join(root, 'export');
    await mkdir(data);
    await writeFile(join(data, 'dataset.json'), JSON.stringify({ preprocessing: { width: 96, height: 64 } }));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("--input-size above the export's smaller side warns; at or below it, or without dataset.json, it does not", () => {
    assert.match(upscaleWarning(data, 96) ?? '', /--input-size 96 is above the export's 96x64 images/);
    assert.equal(upscaleWarning(data, 64), null);
    assert.equal(upscaleWarning(data, 32), null);
    assert.equal(upscaleWarning(join(root, 'no-such-export'), 224), null);
  });

  test('bundles at 0 % test accuracy end the run with TRAIN_ACCURACY_ZERO naming them; any other score does not', () => {
    const err = zeroAccuracyError([
      { variant: 'float32', dir: '/o/float32', test_accuracy: 0.25 },
      { variant: 'int8', dir: '/o/int8', test_accuracy: 0 },
    ]);
    assert.ok(isSidewalkError(err, 'TRAIN_ACCURACY_ZERO'));
    assert.match(err.message, /^int8: test accuracy 0\.0 %/);
    assert.equal(zeroAccuracyError([{ variant: 'float32', dir: '/o/float32', test_accuracy: 0.01 }]), null);
    assert.equal(zeroAccuracyError([{ variant: 'float32', dir: '/o/float32', test_accuracy: null }]), null, 'no test split: nothing to judge');
  });

  test('the CLI warns before starting the trainer (whose venv then fails with a coded line)', async () => {
    const env = { SIDEWALK_PYTHON: join(root, 'no-python'), SIDEWALK_TRAIN_VENV: join(root, 'venv') };
    const args = (size: number) => ['train', '--data', data, '--out', join(root, 'out'), '--arch', 'tiny', '--input-size', String(size)];
    const big = await runSidewalk(args(128), { env });
    assert.notEqual(big.code, 0);
    assert.match(big.stderr, /--input-size 128 is above the export's 96x64 images/);
    assert.match(big.stderr.trim().split('\n').pop()!, /^sidewalk: TRAIN_PYTHON_MISSING: /);
    const small = await runSidewalk(args(32), { env });
    assert.notEqual(small.code, 0);
    assert.doesNotMatch(small.stderr, /is above the export/);
    assert.match(small.stderr, /TRAIN_PYTHON_MISSING/);
  });
});
