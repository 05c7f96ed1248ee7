import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ErrorCode, isSidewalkError, type SidewalkError } from '../../../lib/errors.js';
import { loadModelBundle } from '../../../runtime/inference/bundle.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { makeTempDir } from '../../helpers/temp.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'models');
// biome-ignore lint/suspicious/noExplicitAny: manifests are edited field by field to make them invalid.
type Json = Record<string, any>;

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir('sidewalk-bundle-');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A private copy of a fixture bundle. */
async function copyBundle(name: string): Promise<string> {
  const dir = join(root, `${name}-${counter++}`);
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

async function editManifest(dir: string, edit: (m: Json) => void): Promise<void> {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(await readFile(path, 'utf8')) as Json;
  edit(m);
  await writeFile(path, JSON.stringify(m, null, 2));
}

/** Replaces model.tflite and records its new sha256, so only the content check can fail. */
async function replaceModel(dir: string, bytes: Uint8Array): Promise<void> {
  await writeFile(join(dir, 'model.tflite'), bytes);
  await editManifest(dir, (m) => {
    m.files['model.tflite'] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  });
}

async function rejectsWith(dir: string, code: ErrorCode, ...patterns: RegExp[]): Promise<SidewalkError> {
  let caught: unknown;
  await assert.rejects(loadModelBundle(dir), (err) => {
    caught = err;
    return true;
  });
  assert.ok(isSidewalkError(caught, code), `expected ${code}, got ${String(caught)}`);
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}

describe('loadModelBundle', () => {
  test('loads the float and int8 fixtures with their labels and verified bytes', async () => {
    const float = await loadModelBundle(join(FIXTURES, 'float'));
    assert.deepEqual(float.manifest.labels, ['bike_lane', 'crosswalk', 'side', 'street']);
    assert.equal(float.modelInfo.inputs[0]!.type, 'float32');
    assert.equal(createHash('sha256').update(float.model).digest('hex'), float.manifest.files['model.tflite']!.sha256);
    const int8 = await loadModelBundle(join(FIXTURES, 'int8'));
    assert.equal(int8.manifest.input.dtype, 'int8');
    assert.equal(int8.manifest.output?.quantization?.zero_point, -128);
  });

  test('missing model.tflite is MODEL_FILE_MISSING naming the file', async () => {
    const dir = await copyBundle('float');
    await unlink(join(dir, 'model.tflite'));
    await rejectsWith(dir, 'MODEL_FILE_MISSING', /model\.tflite: missing from the model bundle/);
  });

  test('missing manifest.json is MODEL_FILE_MISSING naming it', async () => {
    const dir = await copyBundle('float');
    await unlink(join(dir, 'manifest.json'));
    await rejectsWith(dir, 'MODEL_FILE_MISSING', /manifest\.json: missing/);
  });

  test('a changed byte is MODEL_SHA_MISMATCH with expected and actual hashes', async () => {
    const dir = await copyBundle('float');
    const bytes = new Uint8Array(await readFile(join(dir, 'model.tflite')));
    const expected = createHash('sha256').update(bytes).digest('hex');
    bytes[1000] = bytes[1000]! ^ 1;
    await writeFile(join(dir, 'model.tflite'), bytes);
    const actual = createHash('sha256').update(bytes).digest('hex');
    const err = await rejectsWith(dir, 'MODEL_SHA_MISMATCH', /model\.tflite/, new RegExp(expected), new RegExp(actual));
    assert.equal(err.details.expected, expected);
  });

  test('corrupt model bytes (with a matching sha) are MODEL_CORRUPT naming file and byte', async () => {
    const dir = await copyBundle('float');
    const bytes = new Uint8Array(await readFile(join(dir, 'model.tflite')));
    bytes.set(new TextEncoder().encode('ZIP!'), 4);
    await replaceModel(dir, bytes);
    await rejectsWith(dir, 'MODEL_CORRUPT', /model\.tflite: not a valid TFLite model/, /at byte 4/);
    await replaceModel(dir, (await readFile(join(FIXTURES, 'float', 'model.tflite'))).subarray(0, 2000));
    await rejectsWith(dir, 'MODEL_CORRUPT', /model\.tflite/, /at byte \d+ \(file is 2000 bytes\)/);
  });

  test('a model needing a newer runtime is MODEL_RUNTIME_TOO_OLD naming the version', async () => {
    await rejectsWith(join(FIXTURES, 'too-new'), 'MODEL_RUNTIME_TOO_OLD', /needs TFLite runtime 2\.17\.0/, /bundled runtime is 2\.9\.0/);
    await rejectsWith(join(FIXTURES, 'int8-per-channel'), 'MODEL_RUNTIME_TOO_OLD', /per-channel/);
  });

  test('min_app_version newer than the app is MODEL_APP_TOO_OLD', async () => {
    const dir = await copyBundle('float');
    await editManifest(dir, (m) => {
      m.min_app_version = '99.0.0';
    });
    await rejectsWith(dir, 'MODEL_APP_TOO_OLD', /min_app_version 99\.0\.0/);
    await assert.doesNotReject(loadModelBundle(dir, { appVersion: '99.1.0' }));
  });

  test('every schema violation is listed as manifest.json: path: message', async () => {
    const dir = await copyBundle('float');
    await editManifest(dir, (m) => {
      delete m.name;
      m.input.dtype = 'float16';
      m.input.crop.x = 2;
      m.input.colour_order = 'rgb';
      m.labels = 'street';
      m.files['../escape.bin'] = { sha256: 'x', bytes: 1 };
    });
    const err = await rejectsWith(
      dir,
      'MODEL_MANIFEST_INVALID',
      /manifest\.json: \(root\): must have required property 'name'/,
      /manifest\.json: input\.dtype: must be equal to one of the allowed values \(float32, uint8, int8\)/,
      /manifest\.json: input\.crop\.x: must be <= 1/,
      /manifest\.json: input: must NOT have additional properties 'colour_order'/,
      /manifest\.json: labels: must be array/,
      /manifest\.json: files: property name must be valid/,
    );
    assert.ok((err.details.problems as string[]).length >= 6);
  });

  test('resize is bilinear or area, and pre_resize a whole-pixel size; the legacy input loads', async () => {
    const dir = await copyBundle('float');
    await editManifest(dir, (m) => {
      m.input.resize = 'nearest';
      m.input.pre_resize = { width: 0, height: 480, method: 'area' };
    });
    await rejectsWith(
      dir,
      'MODEL_MANIFEST_INVALID',
      /manifest\.json: input\.resize: must be equal to one of the allowed values \(bilinear, area\)/,
      /manifest\.json: input\.pre_resize\.width: must be >= 1/,
      /manifest\.json: input\.pre_resize: must NOT have additional properties 'method'/,
    );
    const legacy = await copyBundle('float');
    await editManifest(legacy, (m) => {
      m.input = { ...m.input, pre_resize: { width: 640, height: 480 }, crop: { x: 0.125, y: 0, width: 0.75, height: 1 }, resize: 'area', color_order: 'bgr' };
    });
    const b = await loadModelBundle(legacy);
    assert.deepEqual(b.manifest.input.pre_resize, { width: 640, height: 480 });
    assert.equal(b.manifest.input.resize, 'area');
  });

  test('labels/groups and crop consistency problems are reported together', async () => {
    const dir = await copyBundle('float');
    await editManifest(dir, (m) => {
      m.groups.sidewalk = ['sidwalk', 'crosswalk'];
      m.groups.road.push('crosswalk');
      m.input.crop = { x: 0.5, y: 0.5, width: 0.75, height: 0.5 };
      m.input.quantization = { scale: 0.1, zero_point: 0 };
    });
    await rejectsWith(
      dir,
      'MODEL_MANIFEST_INVALID',
      /groups\.sidewalk\.0: 'sidwalk' is not one of labels/,
      /groups\.road\.2: 'crosswalk' is also in groups\.sidewalk/,
      /input\.crop: x \+ width = 1\.25 exceeds 1/,
      /input\.quantization: not allowed for dtype float32/,
    );
  });

  test('not JSON is MODEL_MANIFEST_INVALID', async () => {
    const dir = await copyBundle('float');
    await writeFile(join(dir, 'manifest.json'), '{"format": "sidewalk-model/1",');
    await rejectsWith(dir, 'MODEL_MANIFEST_INVALID', /manifest\.json: not valid JSON/);
  });

  test('a manifest whose quantisation disagrees with the model is MODEL_INPUT_MISMATCH', async () => {
    const dir = await copyBundle('int8');
    await editManifest(dir, (m) => {
      m.input.quantization.zero_point = 0;
    });
    await rejectsWith(dir, 'MODEL_INPUT_MISMATCH', /input\.quantization is scale [\d.e-]+ zero_point 0 but the model has .* zero_point -1/);
  });

  test('a manifest whose input size disagrees with the model is MODEL_INPUT_MISMATCH', async () => {
    const dir = await copyBundle('float');
    await editManifest(dir, (m) => {
      m.input.width = 96;
      m.labels.push('grass');
    });
    await rejectsWith(dir, 'MODEL_INPUT_MISMATCH', /input shape \[1,64,64,3\] but manifest\.json input is \[1,64,96,3\]/, /has 5 labels/);
  });
});
