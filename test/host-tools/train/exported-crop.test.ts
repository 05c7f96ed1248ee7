/**
 * A dataset export's images are already cropped (dataset.json preprocessing.crop): the trainer must
 * not crop them again, and must write that crop into the manifest so the device crops camera frames
 * the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ensureTrainVenv, TRAIN_DIR } from '../../../host-tools/python/venv.js';

const SCRIPT = `
import json, sys, tempfile, os
from sidewalk_train import dataset, preprocess
from sidewalk_train.progress import TrainError
d = tempfile.mkdtemp()
with open(os.path.join(d, "dataset.json"), "w") as f:
    json.dump({"content_hash": "x", "preprocessing": {"crop": {"x": 0, "y": 0.5, "width": 1, "height": 0.5}}}, f)
crop = dataset.exported_crop(d)
pre = preprocess.for_training(32, "rgb", (0.0, 0.0, 1.0, 1.0), crop)
out = {"applied": list(pre.crop), "manifest": pre.manifest_input()["crop"], "plain": preprocess.for_training(32).manifest_input()["crop"]}
try:
    preprocess.for_training(32, "rgb", (0.0, 0.5, 1.0, 0.5), crop)
except TrainError as e:
    out["twice"] = e.code
# An identity crop (older exports wrote one) or null is no crop: the trainer's own --crop then applies.
for name, value in (("identity", {"x": 0, "y": 0, "width": 1, "height": 1}), ("null", None)):
    with open(os.path.join(d, "dataset.json"), "w") as f:
        json.dump({"content_hash": "x", "preprocessing": {"crop": value}}, f)
    none = dataset.exported_crop(d)
    legacy = preprocess.for_training(32, "rgb", (0.125, 0.0, 0.75, 1.0), none)
    out[name] = {"exported": none, "applied": list(legacy.crop), "manifest": legacy.manifest_input()["crop"]}
print(json.dumps(out))
`;

test('an exported crop is stated in the manifest, not applied again; --crop on top of it is refused; an identity or null export crop is no crop', async () => {
  const venv = await ensureTrainVenv();
  const r = spawnSync(venv.python, ['-c', SCRIPT], { cwd: TRAIN_DIR, env: { ...process.env, PYTHONPATH: TRAIN_DIR, TF_CPP_MIN_LOG_LEVEL: '3' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(out.applied, [0, 0, 1, 1]);
  assert.deepEqual(out.manifest, { x: 0, y: 0.5, width: 1, height: 0.5 });
  assert.deepEqual(out.plain, { x: 0, y: 0, width: 1, height: 1 });
  assert.equal(out.twice, 'TRAIN_CROP_TWICE');
  const legacy = { exported: null, applied: [0.125, 0, 0.75, 1], manifest: { x: 0.125, y: 0, width: 0.75, height: 1 } };
  assert.deepEqual(out.identity, legacy);
  assert.deepEqual(out.null, legacy);
});
