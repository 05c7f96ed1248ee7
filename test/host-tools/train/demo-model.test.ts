/**
 * The bundled DEMO model: a valid, demo-only bundle that the device's loader accepts and that, run
 * through the device preprocessing and TFLite 2.9, recognises synthetic scenes it was not trained on.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';
import { SCENE_KINDS, renderScene } from '../../../runtime/camera/scenes.js';
import { loadModelBundle } from '../../../runtime/inference/bundle.js';
import { Preprocessor } from '../../../runtime/inference/preprocess.js';
import { argmax } from './train-fixtures.js';

const DEMO_DIR = join(REPO_ROOT, 'demo', 'model');

interface NativeTensor {
  data(): Float32Array | Int8Array | Uint8Array;
}
interface NativeRunner {
  getInputs(): NativeTensor[];
  getOutputs(): NativeTensor[];
  infer(): boolean;
}
type NativeRunnerClass = new (model: ArrayBuffer, options: { threads: number }) => NativeRunner;

describe('demo model (demo/model)', () => {
  test('is a demo-only sidewalk-demo bundle the device loader accepts', async () => {
    const bundle = await loadModelBundle(DEMO_DIR);
    assert.equal(bundle.manifest.demo_only, true);
    assert.equal(bundle.manifest.name, 'sidewalk-demo');
    assert.equal(bundle.manifest.location, 'demo');
    assert.deepEqual(bundle.manifest.labels, [...SCENE_KINDS]);
    assert.ok(bundle.model.length < 1024 * 1024, `${bundle.model.length} bytes < 1 MB`);
  });

  test('classifies unseen synthetic scenes of every kind and frame shape on TFLite 2.9', async () => {
    const bundle = await loadModelBundle(DEMO_DIR);
    const model = bundle.model;
    const { TFLiteNodeModelRunner } = createRequire(import.meta.url)('tfjs-tflite-node') as { TFLiteNodeModelRunner: NativeRunnerClass };
    const runner = new TFLiteNodeModelRunner(model.buffer.slice(model.byteOffset, model.byteOffset + model.byteLength) as ArrayBuffer, { threads: 1 });
    let correct = 0;
    let total = 0;
    // Seeds far from the training ranges (1e6..3.1e6), and frame sizes the dataset did not use.
    for (const [width, height] of [
      [128, 96],
      [80, 80],
      [160, 90],
    ] as const) {
      const pre = new Preprocessor(bundle.manifest.input, { width, height, stride: width * 3, format: 'rgb24' });
      const rgb = new Uint8Array(width * height * 3);
      for (const [label, kind] of SCENE_KINDS.entries()) {
        for (let i = 0; i < 10; i++) {
          renderScene(kind, { width, height, seed: 9_000_000 + i * 37 + label, offsetM: i * 3.7, variation: 1 }, rgb);
          runner.getInputs()[0]!.data().set(pre.run(rgb));
          runner.infer();
          correct += argmax(Array.from(runner.getOutputs()[0]!.data())) === label ? 1 : 0;
          total += 1;
        }
      }
    }
    assert.ok(correct / total >= 0.9, `accuracy ${correct}/${total} on unseen synthetic scenes`);
  });
});
