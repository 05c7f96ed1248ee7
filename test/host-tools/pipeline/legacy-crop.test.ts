/**
 * The legacy crop (x 80..560 of 640, all rows: 0.125,0,0.75,1) through the whole pipeline with
 * train.crop (which used to fail with TRAIN_CROP_TWICE): real ingest and whole-frame export (ffmpeg),
 * real training (tiny CNN, no pretrained weights, 32 px, a few epochs) that applies the crop, evaluation
 * on the device's TFLite path, the gates, the registry, a signed artifact, and `sidewalk replay` (the
 * device's own pipeline) running the registered bundle on a ride it never saw. One training (~20 s of
 * CPU); the crop applied at export instead is covered without training by the export, trainer and
 * evaluation tests (data/export-crop, train/exported-crop, eval/export-crop).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { imageHeader } from '../../../host-tools/eval/dataset.js';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { synthesizeRides } from '../../../host-tools/data/synth.js';
import { writeSigningKey } from '../../../build/keys.js';
import { inspectArtifact } from '../../../ota/artifact/index.js';
import { loadPipelineConfig, validatePipelineConfig } from '../../../host-tools/pipeline/config.js';
import { runPipeline, type PipelineOptions } from '../../../host-tools/pipeline/pipeline.js';
import type { RunRecord } from '../../../host-tools/pipeline/run-record.js';
import { Registry } from '../../../host-tools/registry/registry.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import type { DecisionLine } from '../../../runtime/service/pipeline.js';
import { runCliSync } from '../../helpers/cli.js';
import { workspace, type Workspace } from '../data/workspace.js';

const LEGACY_CROP = { x: 0.125, y: 0, width: 0.75, height: 1 };
const SCRIPT = 'side:2,street:2,crosswalk:2,bike_lane:2';
const CONFIG = `
export: { width: 96, height: 72 }
train: { arch: tiny, weights: none, inputSize: 32, epochs: 6, batchSize: 8, patience: 10, crop: "0.125,0,0.75,1" }
gates: { accuracyTolerance: 1, sidewalkRecallMin: 0, roadFalseLimitMax: 1 }
package: { key: keys/ec-private.pem, deviceTypes: [raspberrypi4] }
`;

describe('the legacy crop through the pipeline', () => {
  let ws: Workspace;
  let publicKey: string;
  let heldOut: string;

  before(async () => {
    ws = await workspace();
    await synthesizeRides({ outDir: join(ws.dir, 'rides'), rides: 5, seed: 3, script: SCRIPT, fps: 5, width: 96, height: 72, location: 'LA' });
    await ingestPaths([join(ws.dir, 'rides')], { db: ws.db, store: ws.store, config: ws.config, progress: false });
    [heldOut] = await synthesizeRides({ outDir: join(ws.dir, 'held-out'), rides: 1, seed: 99, script: SCRIPT, fps: 5, width: 96, height: 72, location: 'LA' });
    const keys = await writeSigningKey(join(ws.dir, 'keys'), 'ec');
    publicKey = await readFile(keys.publicKeyPath, 'utf8');
  });
  after(async () => {
    await ws.close();
  });

  /** One pipeline run in its own work folder and registry; returns the record and the registered bundle. */
  async function pipeline(name: string): Promise<{ run: RunRecord; bundle: string; manifest: ModelManifest; exportDir: string }> {
    const configFile = join(ws.dir, `${name}.yaml`);
    await writeFile(configFile, CONFIG);
    const opts: PipelineOptions = { location: 'LA', db: ws.dbPath, work: join(ws.dir, name, 'work'), registry: join(ws.dir, name, 'registry'), configFile };
    const run = await runPipeline(opts);
    assert.equal(run.status, 'registered', run.reason);
    assert.deepEqual(
      run.steps.map((s) => `${s.name}:${s.status}`),
      ['export:done', 'train:done', 'evaluate:done', 'gate:done', 'register:done', 'package:done'],
    );
    // The bundle the device gets: materialised from the registry, the same files as the signed artifact.
    const bundle = join(ws.dir, name, 'bundle');
    const registry = Registry.open(opts.registry!);
    try {
      const model = registry.get('LA', '1.0.0');
      await registry.materialize(model, bundle);
      const artifact = await inspectArtifact(String(run.steps.find((s) => s.name === 'package')!.outputs?.file), { publicKeys: [publicKey], deviceType: 'raspberrypi4' });
      assert.equal(artifact.signature?.verified, true);
      for (const f of model.files) assert.equal(artifact.files.find((a) => a.name === f.name)?.sha256, f.sha256, f.name);
    } finally {
      registry.close();
    }
    const manifest = JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')) as ModelManifest;
    return { run, bundle, manifest, exportDir: join(opts.work!, 'locations', 'LA', 'export') };
  }

  /** `sidewalk replay` of the held-out ride's frames with the bundle: the share of frames whose top class is the truth. */
  async function replayAgreement(bundle: string, out: string): Promise<number> {
    const r = runCliSync(['replay', join(heldOut, 'frames'), '--fps', '5', '--model', bundle, '--out', out, '--json'], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { frames: number; failSafeFrames: number };
    assert.equal(summary.frames, 40);
    assert.equal(summary.failSafeFrames, 0);
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DecisionLine);
    const truth = SCRIPT.split(',').flatMap((s) => Array<string>(10).fill(s.split(':')[0]!));
    return records.filter((rec, i) => rec.top === truth[i]).length / records.length;
  }

  test('a crop in both export.crop and train.crop is refused before anything runs; an identity crop is no crop', () => {
    assert.throws(
      () => validatePipelineConfig({ export: { crop: '0.125,0,0.75,1' }, train: { crop: '0.125,0,0.75,1' } }, 'p.yaml'),
      (err: unknown) => isSidewalkError(err, 'PIPELINE_CONFIG_INVALID') && /export\.crop and train\.crop are both set/.test(err.message),
    );
    assert.throws(
      () => validatePipelineConfig({ train: { crop: '0.5,0,0.75,1' } }, 'p.yaml'),
      (err: unknown) => isSidewalkError(err, 'PIPELINE_CONFIG_INVALID') && /train\.crop "0\.5,0,0\.75,1": expected x,y,width,height/.test(err.message),
    );
    assert.equal(validatePipelineConfig({ export: { crop: '0,0,1,1' }, train: { crop: '0.125,0,0.75,1' } }).train.crop, '0.125,0,0.75,1');
    assert.equal(loadPipelineConfig().export.crop, '0,0,1,1');
  });

  test('train.crop: whole frames are exported, the trainer crops, the manifest states the crop, and the device replays it', async () => {
    const { run, bundle, manifest, exportDir } = await pipeline('train-crop');
    const dataset = JSON.parse(await readFile(join(exportDir, 'dataset.json'), 'utf8')) as { preprocessing: { crop: unknown } };
    assert.equal(dataset.preprocessing.crop, null, 'the export applied no crop');
    const image = join(exportDir, 'test', 'side', (await readdir(join(exportDir, 'test', 'side')))[0]!);
    assert.deepEqual(await imageHeader(image), { kind: 'png', width: 96, height: 72 });
    assert.deepEqual(manifest.input.crop, LEGACY_CROP);
    const evaluated = run.steps.find((s) => s.name === 'evaluate')!.outputs as { accuracy: number };
    assert.ok(evaluated.accuracy > 0.6, `device-path accuracy ${evaluated.accuracy}`);
    const agreement = await replayAgreement(bundle, join(ws.dir, 'train-crop', 'decisions.jsonl'));
    assert.ok(agreement > 0.6, `replay agrees with the truth on ${agreement} of the frames`);
  });
});
