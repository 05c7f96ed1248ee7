/**
 * The whole pipeline on a small synthetic dataset: real ingest, split/freeze and export (ffmpeg), real
 * TensorFlow training (tiny CNN, 32 px), real evaluation on the device's TFLite runtime, the gates, the
 * registry and a signed Mender artifact. One location is trained twice in the whole file (~25 s each).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { isSidewalkError } from '../../../lib/errors.js';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { synthesizeRides } from '../../../host-tools/data/synth.js';
import { writeSigningKey } from '../../../build/keys.js';
import { inspectArtifact } from '../../../ota/artifact/index.js';
import { registerPipelineCommands } from '../../../host-tools/pipeline/cli.js';
import { evaluateModel } from '../../../host-tools/pipeline/evaluate.js';
import { runPipeline, type PipelineOptions } from '../../../host-tools/pipeline/pipeline.js';
import type { RunRecord } from '../../../host-tools/pipeline/run-record.js';
import { checkGates, GateCode } from '../../../host-tools/registry/gates.js';
import { Registry } from '../../../host-tools/registry/registry.js';
import { sha256Hex } from '../../../host-tools/registry/store.js';
import { workspace, type Workspace } from '../data/workspace.js';

const SCRIPT = 'side:2,street:2,crosswalk:2,bike_lane:2';
// Six epochs instead of one cost ~3 s and give a model clearly better than chance, which the
// "deliberately worse model" below needs to be measurably worse than.
const CONFIG = `
export: { width: 96, height: 72 }
train: { arch: tiny, weights: none, inputSize: 32, epochs: 6, batchSize: 8, patience: 10 }
gates: { accuracyTolerance: 0.05, sidewalkRecallMin: 0.5, roadFalseLimitMax: 0.5 }
package: { key: keys/ec-private.pem, deviceTypes: [raspberrypi4] }
`;

describe('sidewalk pipeline run', () => {
  let ws: Workspace;
  let opts: PipelineOptions;
  let first: RunRecord;
  let publicKey: string;

  const readRun = async (r: RunRecord): Promise<RunRecord> => JSON.parse(await readFile(join(r.paths.work, 'runs', r.id, 'run.json'), 'utf8')) as RunRecord;
  const step = (r: RunRecord, name: string) => r.steps.find((s) => s.name === name)!;
  const withRegistry = <T>(fn: (r: Registry) => T | Promise<T>): Promise<T> => {
    const registry = Registry.open(opts.registry!);
    return Promise.resolve()
      .then(() => fn(registry))
      .finally(() => registry.close());
  };

  before(async () => {
    ws = await workspace();
    await synthesizeRides({ outDir: join(ws.dir, 'rides'), rides: 5, seed: 3, script: SCRIPT, fps: 5, width: 96, height: 72, location: 'LA' });
    await ingestPaths([join(ws.dir, 'rides')], { db: ws.db, store: ws.store, config: ws.config, progress: false });
    const keys = await writeSigningKey(join(ws.dir, 'keys'), 'ec');
    publicKey = await readFile(keys.publicKeyPath, 'utf8');
    await writeFile(join(ws.dir, 'pipeline.yaml'), CONFIG);
    opts = { location: 'LA', db: ws.dbPath, work: join(ws.dir, 'work'), registry: join(ws.dir, 'registry'), configFile: join(ws.dir, 'pipeline.yaml') };
  });
  after(async () => {
    await ws.close();
  });

  test('the config is validated and every violation named as path: message', async () => {
    const bad = join(ws.dir, 'bad.yaml');
    await writeFile(bad, 'train: { epochs: 0, arch: resnet, epoch: 3 }\ngates: { sidewalkRecallMin: 1.5 }\n');
    await assert.rejects(runPipeline({ ...opts, configFile: bad }), (err: unknown) => {
      assert.ok(isSidewalkError(err, 'PIPELINE_CONFIG_INVALID'));
      for (const line of ['train.epoch: unknown field', 'train.epochs: must be >= 1', 'train.arch: must be one of tiny, mobilenetv2', 'gates.sidewalkRecallMin: must be <= 1']) {
        assert.ok(err.message.includes(line), `${line} in ${err.message}`);
      }
      return true;
    });
    const runs = await readdir(join(opts.work!, 'runs'));
    assert.equal(runs.length, 1);
    const record = JSON.parse(await readFile(join(opts.work!, 'runs', runs[0]!, 'run.json'), 'utf8')) as RunRecord;
    assert.equal(record.status, 'failed');
    assert.match(record.reason ?? '', /^PIPELINE_CONFIG_INVALID: .*bad\.yaml is invalid/);
    assert.ok(record.steps.every((s) => s.status === 'not-run'));
  });

  test('a failing step stops the run with its reason, and the CLI exits non-zero with the code', async () => {
    const r = await runPipeline({ ...opts, location: 'Atlantis' });
    assert.equal(r.status, 'failed');
    assert.equal(step(r, 'export').status, 'failed');
    assert.equal(step(r, 'export').error?.code, 'DATA_LOCATION_UNKNOWN');
    assert.match(r.reason ?? '', /export: DATA_LOCATION_UNKNOWN: location "Atlantis" has no rides/);
    assert.deepEqual(
      r.steps.slice(1).map((s) => s.status),
      ['not-run', 'not-run', 'not-run', 'not-run', 'not-run'],
    );
    assert.deepEqual(await readRun(r), r, 'run.json on disk is the returned record');
    assert.match(await readFile(join(r.paths.work, 'runs', r.id, 'logs', 'export.log'), 'utf8'), /failed: DATA_LOCATION_UNKNOWN/);

    const program = new Command('sidewalk').exitOverride();
    registerPipelineCommands(program);
    const write = process.stdout.write.bind(process.stdout);
    let out = '';
    process.stdout.write = ((chunk: string) => {
      out += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      await assert.rejects(
        program.parseAsync(['pipeline', 'run', '--location', 'Atlantis', '--db', ws.dbPath, '--work', opts.work!, '--registry', opts.registry!, '--config', opts.configFile!], { from: 'user' }),
        (err: unknown) => isSidewalkError(err, 'DATA_LOCATION_UNKNOWN') && /pipeline step export failed/.test(err.message),
      );
    } finally {
      process.stdout.write = write;
    }
    assert.match(out, /export\s+failed/);
  });

  test('a run on a synthetic dataset trains, evaluates, gates and registers a candidate with its lineage and a signed artifact', async () => {
    first = await runPipeline(opts);
    assert.equal(first.status, 'registered', first.reason);
    assert.deepEqual(
      first.steps.map((s) => `${s.name}:${s.status}`),
      ['export:done', 'train:done', 'evaluate:done', 'gate:done', 'register:done', 'package:done'],
    );
    assert.deepEqual(first.model, { location: 'LA', version: '1.0.0', stage: 'candidate' });
    for (const s of first.steps) {
      assert.match(s.input_hash ?? '', /^sha256:[0-9a-f]{64}$/, `${s.name} input hash`);
      assert.ok((s.duration_ms ?? -1) >= 0);
      assert.ok((await stat(join(first.paths.work, 'runs', first.id, s.log))).size > 0, `${s.name} log`);
    }
    const snapshot = String(step(first, 'export').outputs?.content_hash);
    // The first run froze LA's test split; the gate compared nothing (no production yet).
    assert.equal((ws.db.prepare("SELECT test_frozen_at IS NOT NULL AS f FROM locations WHERE name = 'LA'").get() as { f: number }).f, 1);
    assert.equal((step(first, 'gate').outputs as { production: unknown }).production, null);
    await withRegistry(async (registry) => {
      const m = registry.get('LA', '1.0.0');
      assert.equal(m.stage, 'candidate');
      assert.equal(m.datasetHash, snapshot);
      assert.equal(m.metrics.dataset.hash, snapshot);
      assert.equal(m.metrics.dataset.split, 'test');
      assert.equal(m.trainParams.epochs, 6);
      assert.equal(m.trainParams.inputSize, 32);
      assert.equal(m.trainParams.run_id, first.id);
      assert.equal(m.codeRevision, first.code_revision);
      assert.equal(m.gates?.passed, true);
      const bundle = join(first.paths.work, 'locations', 'LA', 'train', 'float32');
      assert.equal(m.files.find((f) => f.name === 'model.tflite')!.sha256, sha256Hex(await readFile(join(bundle, 'model.tflite'))));
      // The artifact is signed, verifies with the public key and is the registered bundle.
      const artifact = String(step(first, 'package').outputs?.file);
      assert.equal(m.artifact?.sha256, sha256Hex(await readFile(artifact)));
      const info = await inspectArtifact(artifact, { publicKeys: [publicKey], deviceType: 'raspberrypi4' });
      assert.equal(info.signature?.verified, true);
      assert.equal(info.payloadType, 'sidewalk-model');
      assert.equal(info.files.find((f) => f.name === 'model.tflite')?.sha256, m.files.find((f) => f.name === 'model.tflite')!.sha256);
    });
  });

  test('a re-run with unchanged inputs skips every step and registers nothing new', async () => {
    const again = await readRun(await runPipeline(opts));
    assert.equal(again.status, 'unchanged');
    assert.notEqual(again.id, first.id);
    assert.deepEqual(
      again.steps.map((s) => `${s.name}:${s.status}`),
      ['export:skipped', 'train:skipped', 'evaluate:skipped', 'gate:skipped', 'register:skipped', 'package:skipped'],
    );
    assert.equal(step(again, 'train').input_hash, step(first, 'train').input_hash);
    assert.match(step(again, 'train').reason ?? '', new RegExp(`inputs unchanged since run ${first.id}`));
    assert.match(step(again, 'register').reason ?? '', /registered already as LA 1\.0\.0 \(candidate\)/);
    assert.match(await readFile(join(again.paths.work, 'runs', again.id, 'logs', 'train.log'), 'utf8'), /skipped: inputs unchanged/);
    assert.equal(await withRegistry((r) => r.list().length), 1);
  });

  test('a deliberately worse model (labels rotated) is evaluated for real and rejected by the gates; nothing is registered', async () => {
    await withRegistry((r) => {
      r.promote('LA', '1.0.0', 'canary');
      r.promote('LA', '1.0.0', 'production');
    });
    const exportDir = join(first.paths.work, 'locations', 'LA', 'export');
    const worse = join(ws.dir, 'worse');
    await cp(join(first.paths.work, 'locations', 'LA', 'train', 'float32'), worse, { recursive: true });
    const manifest = JSON.parse(await readFile(join(worse, 'manifest.json'), 'utf8')) as { labels: string[]; version: string };
    manifest.labels = [...manifest.labels.slice(1), manifest.labels[0]!]; // every prediction now names the wrong class
    manifest.version = '1.9.0';
    await writeFile(join(worse, 'manifest.json'), JSON.stringify(manifest));
    const log = (): void => {};
    const candidate = await evaluateModel({ bundleDir: worse, dataDir: exportDir, outDir: join(ws.dir, 'eval-worse'), log });
    const prodBundle = join(ws.dir, 'prod');
    const production = await withRegistry(async (r) => {
      await r.materialize(r.get('LA', '1.0.0'), prodBundle);
      return evaluateModel({ bundleDir: prodBundle, dataDir: exportDir, outDir: join(ws.dir, 'eval-prod'), log });
    });
    assert.ok(production.report.accuracy - candidate.report.accuracy > 0.05, `worse: ${candidate.report.accuracy} vs ${production.report.accuracy}`);
    const gates = checkGates('LA', candidate.report, production.report, { accuracyTolerance: 0.05, sidewalkRecallMin: 0, roadFalseLimitMax: 1 });
    assert.deepEqual(
      gates.failures.map((f) => f.code),
      [GateCode.GATE_ACCURACY_REGRESSION],
    );
    assert.equal(gates.production?.version, '1.0.0');
    await assert.rejects(
      withRegistry((r) => r.register({ bundleDir: worse, report: candidate.report, gates })),
      (err: unknown) => isSidewalkError(err, 'REGISTRY_GATES_NOT_PASSED'),
    );
    assert.deepEqual(await withRegistry((r) => r.list().map((m) => `${m.version}:${m.stage}`)), ['1.0.0:production']);
  });

  test('new rides retrain; the candidate is compared with production on the same frozen test split', async () => {
    const testBefore = (step(first, 'export').outputs as { counts: { test: Record<string, number> } }).counts.test;
    await synthesizeRides({ outDir: join(ws.dir, 'rides2'), rides: 1, seed: 11, script: SCRIPT, fps: 5, width: 96, height: 72, location: 'LA' });
    await ingestPaths([join(ws.dir, 'rides2')], { db: ws.db, store: ws.store, config: ws.config, progress: false });
    // Same training settings; gates opened wide so the outcome does not hang on one test image.
    const lenient = join(ws.dir, 'lenient.yaml');
    await writeFile(lenient, CONFIG.replace(/gates: .*/, 'gates: { accuracyTolerance: 1, sidewalkRecallMin: 0, roadFalseLimitMax: 1 }'));
    const r = await readRun(await runPipeline({ ...opts, configFile: lenient }));
    assert.equal(r.status, 'registered', r.reason);
    assert.deepEqual(
      r.steps.map((s) => `${s.name}:${s.status}`),
      ['export:done', 'train:done', 'evaluate:done', 'gate:done', 'register:done', 'package:done'],
    );
    assert.deepEqual((step(r, 'export').outputs as { counts: { test: Record<string, number> } }).counts.test, testBefore, 'the new ride went to train/val');
    const ev = step(r, 'evaluate').outputs as { candidate_report: string; production_report: string };
    const [cand, prod] = await Promise.all([ev.candidate_report, ev.production_report].map(async (f) => JSON.parse(await readFile(f, 'utf8')) as { dataset: unknown; model: { version: string } }));
    assert.deepEqual(cand!.dataset, prod!.dataset);
    assert.equal(prod!.model.version, '1.0.0');
    assert.equal(cand!.model.version, '1.1.0');
    assert.equal((step(r, 'gate').outputs as { production: { version: string } }).production.version, '1.0.0');
    assert.deepEqual(await withRegistry((reg) => reg.list().map((m) => `${m.version}:${m.stage}`)), ['1.0.0:production', '1.1.0:candidate']);
  });

  test('an undertrained model from the pipeline is rejected by the gates: exit 2, the gate code in run.json, nothing registered', async () => {
    // One epoch of two batches: near chance, against production 1.0.0 re-evaluated on the same snapshot.
    const undertrained = join(ws.dir, 'undertrained.yaml');
    await writeFile(undertrained, CONFIG.replace(/train: .*/, 'train: { arch: tiny, weights: none, inputSize: 32, epochs: 1, batchSize: 64 }'));
    const program = new Command('sidewalk').exitOverride();
    registerPipelineCommands(program);
    const write = process.stdout.write.bind(process.stdout);
    let out = '';
    process.stdout.write = ((chunk: string) => {
      out += chunk;
      return true;
    }) as typeof process.stdout.write;
    let exitCode: typeof process.exitCode;
    try {
      await program.parseAsync(['pipeline', 'run', '--location', 'LA', '--db', ws.dbPath, '--work', opts.work!, '--registry', opts.registry!, '--config', undertrained, '--json'], { from: 'user' });
    } finally {
      process.stdout.write = write;
      exitCode = process.exitCode;
      process.exitCode = 0;
    }
    assert.equal(exitCode, 2);
    const r = await readRun(JSON.parse(out) as RunRecord);
    assert.equal(r.status, 'rejected');
    assert.deepEqual(
      r.steps.map((s) => `${s.name}:${s.status}`),
      ['export:skipped', 'train:done', 'evaluate:done', 'gate:rejected', 'register:skipped', 'package:skipped'],
    );
    const gate = step(r, 'gate').outputs as { failures: { code: string }[]; production: { version: string }; candidate: { version: string } };
    assert.ok(
      gate.failures.some((f) => f.code === GateCode.GATE_ACCURACY_REGRESSION),
      JSON.stringify(gate.failures),
    );
    assert.equal(gate.production.version, '1.0.0');
    assert.equal(gate.candidate.version, '1.2.0');
    assert.match(r.reason ?? '', /GATE_ACCURACY_REGRESSION: accuracy .* below production 1\.0\.0/);
    assert.match(await readFile(join(r.paths.work, 'runs', r.id, 'logs', 'gate.log'), 'utf8'), /gates failed:/);
    assert.deepEqual(await withRegistry((reg) => reg.list().map((m) => `${m.version}:${m.stage}`)), ['1.0.0:production', '1.1.0:candidate']);
  });
});
