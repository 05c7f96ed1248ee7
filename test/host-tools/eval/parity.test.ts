/**
 * Keras <-> TFLite parity with a model really trained by `sidewalk train` (tiny CNN, 32 px, a few
 * epochs on the trainer tests' colour dataset): the Keras model through the trainer's venv and
 * preprocessing, the float32 and int8 exports through the device path, agreement per export; a
 * mislabelled copy of an export is flagged as a miss (and the CLI exits non-zero). 24 colour patches
 * are too few to hold int8 to its 98 % target: test/runtime/inference/int8-parity.test.ts does, on 911
 * video frames.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { evaluateBundles, type EvalReport } from '../../../host-tools/eval/evaluate.js';
import { runTrainer } from '../../../host-tools/train/trainer.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import { SPLIT_SIZES, writeColourDataset } from '../train/train-fixtures.js';
import { runEvalCli } from './eval-cli.js';
import { makeTempDir } from '../../helpers/temp.js';

const SIZE = 32;

describe('sidewalk eval --keras (real TensorFlow + TFLite)', () => {
  let root: string;
  let data: string;
  let trained: string;

  before(async () => {
    root = await makeTempDir('sidewalk-eval-parity-');
    data = join(root, 'data');
    trained = join(root, 'trained');
    await writeColourDataset(data, SIZE, 'sha256:eval-parity-test');
    await runTrainer({ data, out: trained, arch: 'tiny', weights: 'none', inputSize: SIZE, epochs: 4, batchSize: 8, seed: 7 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('agreement is reported for float32 and int8 against their targets', async () => {
    const reports = await evaluateBundles({
      models: [join(trained, 'float32'), join(trained, 'int8')],
      data,
      keras: join(trained, 'model.keras'),
      outDir: join(root, 'out'),
    });
    assert.equal(reports.length, 2);
    for (const r of reports) {
      assert.equal(r.dataset.count, SPLIT_SIZES.test * 4);
      const p = r.parity!;
      assert.deepEqual(Object.keys(p), ['float32', 'int8']);
      assert.equal(p.float32!.target, 0.995);
      assert.equal(p.int8!.target, 0.98);
      for (const v of Object.values(p)) {
        assert.ok(v.agreement >= 0 && v.agreement <= 1);
        assert.equal(v.ok, v.agreement >= v.target);
        assert.equal(v.count, r.dataset.count);
      }
    }
    // Same weights, same preprocessing: the float export agrees with Keras on these images.
    assert.equal(reports[0]!.parity!.float32!.ok, true, `float32 agreement ${reports[0]!.parity!.float32!.agreement}`);
    const onDisk = JSON.parse(await readFile(join(root, 'out', 'int8', 'report.json'), 'utf8')) as EvalReport;
    assert.deepEqual(onDisk.parity, reports[1]!.parity);
    assert.match(await readFile(join(root, 'out', 'int8', 'report.html'), 'utf8'), /Keras \/ TFLite parity/);
  });

  test('an export whose manifest mislabels its outputs is a parity miss; the CLI exits 3', async () => {
    const bad = join(root, 'int8-mislabelled');
    await cp(join(trained, 'int8'), bad, { recursive: true });
    const manifest = JSON.parse(await readFile(join(bad, 'manifest.json'), 'utf8')) as ModelManifest;
    manifest.labels = [...manifest.labels].reverse();
    await writeFile(join(bad, 'manifest.json'), JSON.stringify(manifest));
    const stdout = await runEvalCli(['--model', join(trained, 'float32'), '--model', bad, '--data', data, '--keras', join(trained, 'model.keras')]);
    assert.equal(process.exitCode, 3);
    process.exitCode = 0;
    assert.match(stdout, /parity int8: \d+\.\d\d% top-1 agreement with Keras \(target 98\.00%\) MISS/);
  });
});
