import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { assertRuntimeSupports, readTfliteModelInfo } from '../../../runtime/inference/tflite-version.js';
import { compareVersions } from '../../../lib/versions.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'models');
const model = (name: string): Promise<Uint8Array> => readFile(join(FIXTURES, name, 'model.tflite'));
const manifest = async (name: string): Promise<{ input: { quantization?: { scale: number; zero_point: number } } }> => JSON.parse(await readFile(join(FIXTURES, name, 'manifest.json'), 'utf8'));

describe('readTfliteModelInfo on the fixture models', () => {
  test('float model: schema 3, min_runtime_version 1.6.0, ops and tensors', async () => {
    const info = readTfliteModelInfo(await model('float'), 'float/model.tflite');
    assert.equal(info.schemaVersion, 3);
    assert.equal(info.minRuntimeVersion, '1.6.0');
    assert.deepEqual(info.operators.map((op) => op.name).sort(), ['CONV_2D', 'FULLY_CONNECTED', 'MEAN', 'SOFTMAX']);
    assert.ok(info.operators.every((op) => op.version === 1));
    assert.deepEqual(
      info.inputs.map((t) => [t.shape, t.type]),
      [[[1, 64, 64, 3], 'float32']],
    );
    assert.deepEqual(
      info.outputs.map((t) => [t.shape, t.type]),
      [[[1, 4], 'float32']],
    );
    assert.deepEqual(info.incompatibilities, []);
    assert.doesNotThrow(() => assertRuntimeSupports(info, 'float/model.tflite'));
  });

  test('int8 model: quantisation parameters equal what the interpreter reported to the manifest', async () => {
    const info = readTfliteModelInfo(await model('int8'));
    const declared = (await manifest('int8')).input.quantization!;
    assert.equal(info.inputs[0]!.type, 'int8');
    assert.ok(Math.abs(info.inputs[0]!.quantization!.scale - declared.scale) < 1e-9);
    assert.equal(info.inputs[0]!.quantization!.zeroPoint, declared.zero_point);
    assert.deepEqual(info.outputs[0]!.quantization, { scale: 1 / 256, zeroPoint: -128 });
    assert.ok(info.operators.some((op) => op.name === 'CONV_2D' && op.version === 3));
    assert.equal(compareVersions(info.minRuntimeVersion!, '2.9.0') <= 0, true);
  });

  test('too-new model: min_runtime_version 2.17.0 is refused naming both versions', async () => {
    const info = readTfliteModelInfo(await model('too-new'));
    assert.equal(info.minRuntimeVersion, '2.17.0');
    assert.throws(
      () => assertRuntimeSupports(info, 'too-new/model.tflite'),
      (err) =>
        isSidewalkError(err, 'MODEL_RUNTIME_TOO_OLD') &&
        /too-new\/model\.tflite/.test(err.message) &&
        /2\.17\.0/.test(err.message) &&
        /2\.9\.0/.test(err.message) &&
        /FULLY_CONNECTED v1/.test(err.message),
    );
  });

  test('per-channel FULLY_CONNECTED weights are flagged although the metadata says 1.14.0', async () => {
    const info = readTfliteModelInfo(await model('int8-per-channel'));
    assert.equal(info.minRuntimeVersion, '1.14.0');
    assert.equal(info.incompatibilities.length, 1);
    assert.match(info.incompatibilities[0]!, /FULLY_CONNECTED has per-channel quantised weights \(4 scales\)/);
    assert.throws(
      () => assertRuntimeSupports(info, 'x.tflite'),
      (err) => isSidewalkError(err, 'MODEL_RUNTIME_TOO_OLD'),
    );
  });
});

describe('readTfliteModelInfo on damaged bytes', () => {
  test('wrong file identifier names the file and byte 4', async () => {
    const bytes = new Uint8Array(await model('float'));
    bytes.set([0x4a, 0x50, 0x45, 0x47], 4);
    assert.throws(
      () => readTfliteModelInfo(bytes, 'm.tflite'),
      (err) => isSidewalkError(err, 'MODEL_CORRUPT') && /^m\.tflite: .*"JPEG" is not "TFL3" at byte 4/.test(err.message),
    );
  });

  test('truncated and tiny files are MODEL_CORRUPT with an offset', async () => {
    const bytes = await model('float');
    for (const length of [0, 7, 12, 200, bytes.length - 300]) {
      assert.throws(
        () => readTfliteModelInfo(bytes.subarray(0, length), 'cut.tflite'),
        (err) => isSidewalkError(err, 'MODEL_CORRUPT') && /cut\.tflite/.test(err.message) && /at byte \d+/.test(err.message),
        `length ${length}`,
      );
    }
  });

  test('single-byte corruption anywhere never escapes as anything but MODEL_CORRUPT', async () => {
    const original = await model('float');
    let corrupt = 0;
    for (let offset = 0; offset < original.length; offset += 7) {
      const bytes = new Uint8Array(original);
      bytes[offset] = bytes[offset]! ^ 0xa5;
      try {
        readTfliteModelInfo(bytes);
      } catch (err) {
        assert.ok(isSidewalkError(err, 'MODEL_CORRUPT'), `offset ${offset}: ${String(err)}`);
        corrupt++;
      }
    }
    assert.ok(corrupt > 0, 'some corruptions must be detected');
  });
});

test('compareVersions orders dotted versions numerically', () => {
  assert.ok(compareVersions('2.10.0', '2.9.0') > 0);
  assert.ok(compareVersions('1.14.0', '2.9.0') < 0);
  assert.equal(compareVersions('2.9', '2.9.0'), 0);
});
