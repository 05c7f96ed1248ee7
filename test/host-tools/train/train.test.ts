/**
 * Real TensorFlow training on a tiny generated dataset, then the exported bundles go through the
 * device's own bundle loader, preprocessing and bundled TFLite 2.9 runtime (tfjs-tflite-node).
 * The trainer's venv is created once per machine (first run pays the pip install).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { isSidewalkError } from '../../../lib/errors.js';
import { registerTrainCommands } from '../../../host-tools/train/cli.js';
import { runTrainer, type TrainEvent } from '../../../host-tools/train/trainer.js';
import { loadModelBundle } from '../../../runtime/inference/bundle.js';
import { readTfliteModelInfo } from '../../../runtime/inference/tflite-version.js';
import { compareVersions } from '../../../lib/versions.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import { LABELS, SPLIT_SIZES, argmax, classifyWithDeviceRuntime, writeColourDataset } from './train-fixtures.js';
import { makeTempDir } from '../../helpers/temp.js';

const SIZE = 32;
const CONTENT_HASH = 'sha256:0123456789abcdef-test-snapshot';

describe('sidewalk train (real TensorFlow, device TFLite 2.9)', () => {
  let root: string;
  let data: string;
  let testFrames: Array<{ label: number; rgb: Uint8Array }>;

  before(async () => {
    root = await makeTempDir('sidewalk-train-');
    data = join(root, 'data');
    testFrames = await writeColourDataset(data, SIZE, CONTENT_HASH);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  interface Expected {
    colorOrder: 'rgb' | 'bgr';
    crop: { x: number; y: number; width: number; height: number };
    size: number;
  }
  const WHOLE_FRAME_RGB: Expected = { colorOrder: 'rgb', crop: { x: 0, y: 0, width: 1, height: 1 }, size: SIZE };

  async function checkBundle(dir: string, variant: 'float32' | 'int8', expected = WHOLE_FRAME_RGB): Promise<ModelManifest> {
    const bundle = await loadModelBundle(dir);
    const m = bundle.manifest;
    assert.deepEqual(m.labels, [...LABELS]);
    assert.deepEqual(m.groups, { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] });
    assert.equal(m.dataset_hash, CONTENT_HASH);
    assert.match(m.trainer_version ?? '', /sidewalk-train .*tensorflow 2\.21\.0/);
    // The training preprocessing, stated for the device: colour order, [-1, 1], crop, bilinear resize.
    assert.equal(m.input.color_order, expected.colorOrder);
    assert.ok(Math.abs(m.input.normalization.scale - 1 / 127.5) < 1e-9);
    assert.equal(m.input.normalization.offset, -1);
    assert.deepEqual(m.input.crop, expected.crop);
    assert.equal(m.input.width, expected.size);
    assert.equal(m.input.height, expected.size);
    assert.equal(m.input.dtype, variant);
    if (variant === 'int8') {
      assert.ok(m.input.quantization && m.output?.quantization, 'int8 bundle states its quantisation');
      assert.equal(bundle.modelInfo.inputs[0]!.quantization?.zeroPoint, m.input.quantization.zero_point);
    } else {
      assert.equal(m.input.quantization, undefined);
    }
    const info = readTfliteModelInfo(await readFile(join(dir, 'model.tflite')));
    assert.ok(info.minRuntimeVersion !== undefined && compareVersions(info.minRuntimeVersion, '2.9.0') <= 0, `min_runtime_version ${info.minRuntimeVersion} <= 2.9.0`);

    // Same model, same held-out images, device preprocessing: the accuracy the trainer measured with
    // TensorFlow's interpreter must be what the device gets (no train/serve skew). Resampling
    // implementations differ by a fraction of a grey level, so one borderline image may flip.
    const { probabilities, inputType } = await classifyWithDeviceRuntime(
      dir,
      testFrames.map((f) => f.rgb),
      SIZE,
    );
    assert.equal(inputType, variant);
    for (const p of probabilities) {
      assert.equal(p.length, LABELS.length);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 0.02, `probabilities sum to 1: ${p.join(',')}`);
    }
    const correct = probabilities.filter((p, i) => argmax(p) === testFrames[i]!.label).length;
    const deviceAccuracy = correct / testFrames.length;
    const trainerAccuracy = m.metrics?.test_accuracy as number;
    assert.equal(m.metrics?.test_samples, SPLIT_SIZES.test * LABELS.length);
    assert.ok(Math.abs(deviceAccuracy - trainerAccuracy) <= 1 / testFrames.length + 1e-9, `${variant}: device accuracy ${deviceAccuracy} vs trainer's ${trainerAccuracy}`);
    return m;
  }

  test('tiny CNN through `sidewalk train`: float32 and int8 bundles load and run in TFLite 2.9', async () => {
    const out = join(root, 'tiny');
    const program = new Command('sidewalk').exitOverride();
    registerTrainCommands(program);
    await program.parseAsync(
      [
        'train',
        '--data',
        data,
        '--out',
        out,
        '--arch',
        'tiny',
        '--input-size',
        String(SIZE),
        '--epochs',
        '8',
        '--batch-size',
        '8',
        '--seed',
        '7',
        '--name',
        'test-tiny',
        '--model-version',
        '1.2.3',
        '--location',
        'testville',
      ],
      { from: 'user' },
    );
    const float = await checkBundle(join(out, 'float32'), 'float32');
    const int8 = await checkBundle(join(out, 'int8'), 'int8');
    assert.equal(float.name, 'test-tiny');
    assert.equal(float.version, '1.2.3');
    assert.equal(int8.location, 'testville');
    assert.equal(float.demo_only, undefined);
    const summary = JSON.parse(await readFile(join(out, 'train-summary.json'), 'utf8')) as { bundles: unknown[] };
    assert.equal(summary.bundles.length, 2);
  });

  test('MobileNetV2 (--weights none, alpha 0.35) runs both stages and exports a runnable full-int8 bundle', async () => {
    const events: TrainEvent[] = [];
    const out = join(root, 'mnv2');
    const result = await runTrainer({
      data,
      out,
      arch: 'mobilenetv2',
      weights: 'none',
      alpha: 0.35,
      inputSize: SIZE,
      epochs: 1,
      fineTuneEpochs: 1,
      fineTuneFrom: 100,
      batchSize: 16,
      seed: 3,
      name: 'test-mnv2',
      version: '0.0.1',
      location: 'testville',
      demoOnly: true,
      variants: ['int8'], // float32 export is covered by the tiny model; this keeps the suite short
      onEvent: (e) => events.push(e),
    });
    const stages = events.filter((e) => e.event === 'stage');
    assert.deepEqual(
      stages.map((e) => e.stage),
      [1, 2],
    );
    // Stage 2 freezes the first 100 backbone layers, so it trains fewer parameters than stage 1 (all of them).
    assert.ok((stages[1]!.trainable_params as number) < (stages[0]!.trainable_params as number));
    assert.deepEqual(
      result.bundles.map((b) => b.variant),
      ['int8'],
    );
    const m = await checkBundle(join(out, 'int8'), 'int8');
    assert.equal(m.demo_only, true);
    // The Edge TPU model is compiled when the compiler is installed, and its absence is said out loud.
    const hasCompiler = spawnSync('sh', ['-c', 'command -v edgetpu_compiler']).status === 0;
    if (hasCompiler) assert.ok(m.files['model_edgetpu.tflite'], 'model_edgetpu.tflite listed in the int8 manifest');
    else assert.ok(events.some((e) => e.event === 'info' && /Edge TPU model skipped: edgetpu_compiler is not on PATH/.test(String(e.message))));
  });

  test('--resume continues after the last finished epoch; BGR + crop + downscale reach the device unchanged', async () => {
    const out = join(root, 'resume');
    const expected: Expected = { colorOrder: 'bgr', crop: { x: 0.125, y: 0.125, width: 0.75, height: 0.75 }, size: 16 };
    const base = {
      data,
      out,
      arch: 'tiny' as const,
      inputSize: expected.size,
      colorOrder: expected.colorOrder,
      crop: '0.125,0.125,0.75,0.75',
      batchSize: 8,
      seed: 5,
      patience: 50,
      variants: ['float32' as const],
    };
    await runTrainer({ ...base, epochs: 4 });
    const events: TrainEvent[] = [];
    await runTrainer({ ...base, epochs: 8, resume: true, onEvent: (e) => events.push(e) });
    assert.ok(events.some((e) => e.event === 'info' && /resuming from .*last\.keras \(stage 1, 4 epoch/.test(String(e.message))));
    assert.deepEqual(
      events.filter((e) => e.event === 'epoch').map((e) => e.epoch),
      [5, 6, 7, 8],
    );
    const state = JSON.parse(await readFile(join(out, 'checkpoints', 'state.json'), 'utf8')) as { epochs_done: number };
    assert.equal(state.epochs_done, 8);
    await checkBundle(join(out, 'float32'), 'float32', expected);
  });

  test('a dataset without every class in val fails with a coded error naming the folder', async () => {
    const broken = join(root, 'broken');
    await cp(data, broken, { recursive: true });
    await rm(join(broken, 'val', 'crosswalk'), { recursive: true });
    await assert.rejects(
      runTrainer({ data: broken, out: join(root, 'broken-out'), arch: 'tiny', inputSize: SIZE, epochs: 1 }),
      (err: unknown) => isSidewalkError(err, 'TRAIN_DATA_EMPTY_CLASS') && err.message.includes(join(broken, 'val')),
    );
  });
});
