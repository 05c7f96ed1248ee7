/**
 * The exporter's own guard (sidewalk_train/export.py) refuses models TFLite 2.9 cannot run, before a
 * bundle is written: newer min_runtime_version metadata, and per-channel int8 Dense weights.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';
import { TRAIN_DIR, ensureTrainVenv } from '../../../host-tools/python/venv.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'models');

const SCRIPT = `
import json, sys
from sidewalk_train import export
from sidewalk_train.progress import TrainError
results = {}
for path in sys.argv[1:]:
    info = export.read_tflite(open(path, "rb").read())
    try:
        export.check_device_runtime(info, path)
        results[path] = {"ok": True, "min_runtime_version": info["min_runtime_version"]}
    except TrainError as err:
        results[path] = {"ok": False, "code": err.code, "message": err.message}
print(json.dumps(results))
`;

describe('exporter runtime guard', () => {
  test('accepts float and full-int8 models, refuses too-new and per-channel-Dense ones with TRAIN_TFLITE_TOO_NEW', async () => {
    const venv = await ensureTrainVenv();
    const models = ['float', 'int8', 'too-new', 'int8-per-channel'].map((name) => join(FIXTURES, name, 'model.tflite'));
    const run = spawnSync(venv.python, ['-c', SCRIPT, ...models], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: TRAIN_DIR, PYTHONDONTWRITEBYTECODE: '1', TF_CPP_MIN_LOG_LEVEL: '3' },
    });
    assert.equal(run.status, 0, run.stderr.slice(-2000));
    const results = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, { ok: boolean; code?: string; message?: string }>;
    const [float, int8, tooNew, perChannel] = models.map((m) => results[m]!);
    assert.equal(float!.ok, true);
    assert.equal(int8!.ok, true);
    assert.equal(tooNew!.code, 'TRAIN_TFLITE_TOO_NEW');
    assert.match(tooNew!.message!, /min_runtime_version 2\.17\.0 is newer than the device's TFLite 2\.9\.0/);
    assert.equal(perChannel!.code, 'TRAIN_TFLITE_TOO_NEW');
    assert.match(perChannel!.message!, /FULLY_CONNECTED has per-channel quantised weights/);
  });
});
