/**
 * Dataset exports hold images already cropped to the model's crop (dataset.json preprocessing.crop):
 * evaluation must not crop them again, and must refuse an export cropped for another model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { evaluateBundle } from '../../../host-tools/eval/evaluate.js';
import { writeDemoDataset } from '../../../host-tools/train/demo-dataset.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { makeTempDir } from '../../helpers/temp.js';

const DEMO_MODEL = join(REPO_ROOT, 'demo', 'model');
const LOWER_HALF = { x: 0, y: 0.5, width: 1, height: 0.5 };
let root: string;
let data: string;

async function setExportCrop(crop: object | null): Promise<void> {
  const file = join(data, 'dataset.json');
  const meta = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  if (crop === null) delete meta.preprocessing;
  else meta.preprocessing = { width: 64, height: 64, crop, resize: 'bilinear', model: 'test' };
  await writeFile(file, JSON.stringify(meta));
}

before(async () => {
  root = await makeTempDir('sidewalk-eval-crop-');
  data = join(root, 'export');
  await writeDemoDataset(data, { perClass: 12, seed: 11 });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('an export cropped for another crop is refused, naming both', async () => {
  await setExportCrop(LOWER_HALF);
  await assert.rejects(evaluateBundle({ model: DEMO_MODEL, data }), (err) => isSidewalkError(err, 'EVAL_DATASET_CROP') && /dataset\.json/.test(err.message) && /manifest\.json/.test(err.message));
});

test('pre-cropped export images are not cropped again', async () => {
  await setExportCrop(null);
  const whole = await evaluateBundle({ model: DEMO_MODEL, data });
  // The same network told to crop camera frames to their lower half, on an export made with that
  // crop: the images must go in as they are, so the result is identical.
  const cropped = join(root, 'lower-half');
  await cp(DEMO_MODEL, cropped, { recursive: true });
  const manifest = JSON.parse(await readFile(join(cropped, 'manifest.json'), 'utf8')) as ModelManifest;
  manifest.input.crop = LOWER_HALF;
  await writeFile(join(cropped, 'manifest.json'), JSON.stringify(manifest));
  await setExportCrop(LOWER_HALF);
  const r = await evaluateBundle({ model: cropped, data });
  assert.deepEqual(r.confusion.matrix, whole.confusion.matrix);
  assert.ok(r.accuracy > 0.9);
});

test('an export that states a whole-frame crop is whole frames: a cropping model crops them as the device does', async () => {
  const cropped = join(root, 'lower-half-2');
  await cp(DEMO_MODEL, cropped, { recursive: true });
  const manifest = JSON.parse(await readFile(join(cropped, 'manifest.json'), 'utf8')) as ModelManifest;
  manifest.input.crop = LOWER_HALF;
  await writeFile(join(cropped, 'manifest.json'), JSON.stringify(manifest));
  await setExportCrop(null);
  const wholeFrames = await evaluateBundle({ model: cropped, data });
  await setExportCrop({ x: 0, y: 0, width: 1, height: 1 });
  const identity = await evaluateBundle({ model: cropped, data });
  // Before, any stated crop other than the model's was refused (EVAL_DATASET_CROP).
  assert.deepEqual(identity.confusion.matrix, wholeFrames.confusion.matrix);
});
