/**
 * `sidewalk pipeline run`: export -> train -> evaluate -> gate -> register (-> package) for one location.
 *
 * Work folder layout (WORK):
 *   runs/<id>/run.json, runs/<id>/logs/<step>.log      one record per run (run-record.ts)
 *   locations/<L>/state.json                           input hash and outputs of each step's last success
 *   locations/<L>/{export,train,eval,artifact}/        the step outputs that later runs reuse
 *
 * The export holds whole camera frames (export.width x export.height) unless export.crop is set: a crop is
 * applied once, by the trainer (train.crop; the evaluation and the device then crop each full frame as
 * the manifest says) or at export (export.crop; the trainer states it in the manifest); config.ts
 * refuses both.
 * New rides are assigned to train/val first; the location's test split is frozen on the first run
 * and never changes after that, which is what makes reports of different models comparable.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage, SidewalkError } from '../../lib/errors.js';
import { openDatabase, defaultDbPath, storeRootFor, type Db } from '../data/db.js';
import { exportDataset, exportManifest, parseCrop, type DatasetManifest } from '../data/export.js';
import { assignSplits } from '../data/splits.js';
import { FrameStore } from '../data/store.js';
import { runTrainer } from '../train/trainer.js';
import { TRAIN_DIR } from '../python/venv.js';
import { buildModelArtifact } from '../../build/artifact-model.js';
import { publicKeyPemOf } from '../../build/keys.js';
import { readEvalReport } from '../registry/eval-report.js';
import { checkGates, formatGateResult, type GateResult } from '../registry/gates.js';
import { codeRevision } from '../registry/lineage.js';
import { defaultRegistryDir, Registry } from '../registry/registry.js';
import { sha256Hex } from '../registry/store.js';
import { loadPipelineConfig, type PipelineConfig } from './config.js';
import { evaluateModel } from './evaluate.js';
import { hashOf, RunRecorder, StepFailed, type RunRecord } from './run-record.js';

export interface PipelineOptions {
  location: string;
  db?: string;
  work?: string;
  registry?: string;
  configFile?: string;
  /** Already loaded settings (tests); default: loadPipelineConfig(configFile). */
  config?: PipelineConfig;
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );
const fileSha = async (p: string): Promise<string> => sha256Hex(await readFile(p));

/** What the rows an export would select look like: rides, splits, frame hashes, labels, flags. */
function datasetFingerprint(db: Db, location: string): string {
  const rows = db
    .prepare(`SELECT r.content_hash AS ride, r.split, f.content_hash AS frame, f.label,
      (SELECT group_concat(flag) FROM (SELECT flag FROM frame_flags ff WHERE ff.frame_id = f.id ORDER BY flag)) AS flags
    FROM frames f JOIN rides r ON r.id = f.ride_id JOIN locations l ON l.id = r.location_id
    WHERE l.name = ? AND f.label IS NOT NULL AND r.split IS NOT NULL ORDER BY r.content_hash, f.idx, f.content_hash`)
    .all(location);
  return hashOf(rows);
}

/** The trainer's own code: a change retrains even when data and settings did not change. */
async function trainerCodeHash(): Promise<string> {
  const pkg = join(TRAIN_DIR, 'sidewalk_train');
  const files = (await readdir(pkg)).filter((f) => f.endsWith('.py')).sort();
  const parts = [`requirements.txt:${await fileSha(join(TRAIN_DIR, 'requirements.txt'))}`];
  for (const f of files) parts.push(`${f}:${await fileSha(join(pkg, f))}`);
  return hashOf(parts);
}

/** Replaces `dest` by `tmp` (both folders); the old outputs stay until the new ones are complete. */
async function swapIn(tmp: string, dest: string): Promise<void> {
  await rm(dest, { recursive: true, force: true });
  await rename(tmp, dest);
}

/** One pipeline run per location at a time: a lock folder holding the owner's pid. */
async function lock(dir: string): Promise<() => Promise<void>> {
  const lockDir = join(dir, '.lock');
  await mkdir(dir, { recursive: true });
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => 'NaN'));
      let alive = false;
      try {
        if (Number.isInteger(holder)) {
          process.kill(holder, 0);
          alive = true;
        }
      } catch {
        alive = false;
      }
      if (alive) throw new SidewalkError('PIPELINE_BUSY', `${lockDir}: another pipeline run (pid ${holder}) is working on this location`);
      await rm(lockDir, { recursive: true, force: true });
    }
  }
}

export async function runPipeline(options: PipelineOptions): Promise<RunRecord> {
  const location = options.location;
  if (!/^[A-Za-z0-9._-]+$/.test(location)) throw new SidewalkError('PIPELINE_BAD_LOCATION', `location "${location}": letters, digits, ".", "_" and "-" only`);
  const work = resolve(options.work ?? 'sidewalk-work');
  const dbPath = resolve(options.db ?? defaultDbPath());
  const registryDir = resolve(options.registry ?? defaultRegistryDir());
  const locDir = join(work, 'locations', location);
  const started = new Date();
  const id = `${started
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${location}-${randomBytes(2).toString('hex')}`;
  const revision = codeRevision();
  // The record exists before anything can fail: a bad config or a busy location leaves one too.
  const rec = new RunRecorder(
    {
      format: 'sidewalk-pipeline-run/1',
      id,
      location,
      status: 'running',
      started_at: started.toISOString(),
      code_revision: revision,
      paths: { db: dbPath, work, registry: registryDir, config: options.configFile ? resolve(options.configFile) : null },
      config: null,
      steps: [],
    },
    join(work, 'runs', id),
    join(locDir, 'state.json'),
  );
  await rec.save();
  let unlock: (() => Promise<void>) | undefined;
  let registry: Registry | undefined;
  try {
    const config = options.config ?? loadPipelineConfig(options.configFile);
    rec.record.config = config;
    unlock = await lock(locDir);
    await rec.start();
    registry = Registry.open(registryDir);
    return await steps(rec, registry, config, { location, dbPath, locDir, revision });
  } catch (err) {
    if (err instanceof StepFailed) return rec.finish('failed', err.message);
    await rec.finish('failed', errorMessage(err));
    throw err;
  } finally {
    registry?.close();
    await unlock?.();
  }
}

interface Ctx {
  location: string;
  dbPath: string;
  locDir: string;
  revision: string | null;
}

async function steps(rec: RunRecorder, registry: Registry, config: PipelineConfig, c: Ctx): Promise<RunRecord> {
  const { location, locDir } = c;
  const name = config.train.name ?? `sidewalk-${location.toLowerCase()}`;

  // export ------------------------------------------------------------------------------------------
  const exportDir = join(locDir, 'export');
  const exported = await (async () => {
    const db = openDatabase(c.dbPath, { mustExist: true });
    try {
      return await rec.run({
        name: 'export',
        inputs: () => {
          // New rides go to train/val; the first run freezes the location's test split.
          assignSplits(db, { location, seed: config.export.splitSeed, freezeTest: true });
          const crop = parseCrop(config.export.crop, 'export.crop');
          return { location, frames: datasetFingerprint(db, location), width: config.export.width, height: config.export.height, crop, include_flagged: config.export.includeFlagged };
        },
        stillValid: async (o) => JSON.parse(await readFile(join(exportDir, 'dataset.json'), 'utf8').catch(() => '{}')).content_hash === o.content_hash,
        run: async (ctx) => {
          const manifest = exportManifest({ width: config.export.width, height: config.export.height, crop: parseCrop(config.export.crop, 'export.crop'), location });
          const tmp = `${exportDir}.new`;
          await rm(tmp, { recursive: true, force: true });
          const m: DatasetManifest = await exportDataset(db, new FrameStore(storeRootFor(c.dbPath)), { location, outDir: tmp, manifest, includeFlagged: config.export.includeFlagged });
          const testImages = Object.values(m.counts.test).reduce((a, b) => a + b, 0);
          if (testImages === 0) throw new SidewalkError('PIPELINE_NO_TEST_SPLIT', `location "${location}" has no test images to evaluate on (frozen test split empty after filters)`);
          await swapIn(tmp, exportDir);
          ctx.log(`exported ${JSON.stringify(m.counts)}; snapshot ${m.content_hash}`);
          return { dir: exportDir, content_hash: m.content_hash, counts: m.counts };
        },
      });
    } finally {
      db.close();
    }
  })();

  const datasetHash = String(exported.content_hash);

  // train -------------------------------------------------------------------------------------------
  const trainDir = join(locDir, 'train');
  const trainParams = { ...config.train, name };
  const trained = await rec.run({
    name: 'train',
    inputs: async () => ({ dataset: datasetHash, params: trainParams, trainer_code: await trainerCodeHash() }),
    stillValid: async (o) => (await fileSha(join(String(o.bundle), 'manifest.json')).catch(() => '')) === o.manifest_sha256,
    run: async (ctx) => {
      const version = registry.nextVersion(location);
      const tmp = `${trainDir}.new`;
      await rm(tmp, { recursive: true, force: true });
      const t = config.train;
      const result = await runTrainer({
        data: exportDir,
        out: tmp,
        arch: t.arch,
        weights: t.weights,
        inputSize: t.inputSize,
        alpha: t.alpha,
        epochs: t.epochs,
        fineTuneEpochs: t.fineTuneEpochs,
        fineTuneFrom: t.fineTuneFrom,
        batchSize: t.batchSize,
        patience: t.patience,
        seed: t.seed,
        colorOrder: t.colorOrder,
        crop: t.crop.replace(/\s/g, ''),
        variants: [t.variant],
        name,
        version,
        location,
        onEvent: (e) => ctx.write(JSON.stringify(e)), // the trainer shows its own progress
      });
      await swapIn(tmp, trainDir);
      const bundle = join(trainDir, t.variant);
      const testAccuracy = result.bundles.find((b) => b.variant === t.variant)?.test_accuracy ?? null;
      ctx.log(`trained ${name} ${version}: test accuracy (trainer) ${testAccuracy}`);
      // run_id travels with the reused outputs: the run that trained, not the one that registers.
      return { bundle, version, manifest_sha256: await fileSha(join(bundle, 'manifest.json')), trainer_test_accuracy: testAccuracy, run_id: rec.record.id };
    },
  });
  const bundleDir = String(trained.bundle);
  const manifestSha = String(trained.manifest_sha256);

  const known = registry.findByManifest(location, manifestSha);
  if (known) {
    const why = `this model is registered already as ${known.location} ${known.version} (${known.stage})`;
    for (const s of ['evaluate', 'gate', 'register'] as const) await rec.skip(s, why);
    rec.record.model = { location: known.location, version: known.version, stage: known.stage };
    await packageStep(rec, registry, config, c, known.version);
    return rec.finish('unchanged', why);
  }

  // evaluate ----------------------------------------------------------------------------------------
  const evalDir = join(locDir, 'eval');
  const production = registry.current(location, 'production');
  const evaluated = await rec.run({
    name: 'evaluate',
    inputs: () => ({ candidate: manifestSha, dataset: datasetHash, split: 'test', production: production?.manifestSha256 ?? null, delegate: config.eval.delegate ?? 'default' }),
    stillValid: async (o) => (await exists(String(o.candidate_report))) && (o.production_report === null || (await exists(String(o.production_report)))),
    run: async (ctx) => {
      await rm(evalDir, { recursive: true, force: true });
      const cand = await evaluateModel({ bundleDir, dataDir: exportDir, outDir: join(evalDir, 'candidate'), log: ctx.log, ...(config.eval.delegate ? { delegate: config.eval.delegate } : {}) });
      ctx.log(`candidate ${cand.report.model.version}: accuracy ${cand.report.accuracy}, sidewalk recall ${cand.report.safety.sidewalk_recall}`);
      let productionReport: string | null = null;
      if (production) {
        // Production is re-evaluated on this very snapshot, so the gate compares like with like.
        const prodBundle = join(evalDir, 'production-bundle');
        await registry.materialize(production, prodBundle);
        const prod = await evaluateModel({
          bundleDir: prodBundle,
          dataDir: exportDir,
          outDir: join(evalDir, 'production'),
          log: ctx.log,
          ...(config.eval.delegate ? { delegate: config.eval.delegate } : {}),
        });
        ctx.log(`production ${prod.report.model.version}: accuracy ${prod.report.accuracy}`);
        productionReport = prod.file;
      }
      return { candidate_report: cand.file, production_report: productionReport, accuracy: cand.report.accuracy, safety: cand.report.safety };
    },
  });
  const candidateReport = await readEvalReport(String(evaluated.candidate_report));
  const productionReport = evaluated.production_report ? await readEvalReport(String(evaluated.production_report)) : null;

  // gate --------------------------------------------------------------------------------------------
  const gated = await rec.run({
    name: 'gate',
    inputs: async () => ({
      candidate_report: await fileSha(String(evaluated.candidate_report)),
      production_report: evaluated.production_report ? await fileSha(String(evaluated.production_report)) : null,
      gates: config.gates,
    }),
    run: async (ctx) => {
      const result = checkGates(location, candidateReport, productionReport, config.gates);
      ctx.log(formatGateResult(result));
      return result as unknown as Record<string, unknown>;
    },
  });
  const gates = gated as unknown as GateResult;
  if (!gates.passed) {
    const reason = gates.failures.map((f) => `${f.code}: ${f.message}`).join('; ');
    await rec.reject('gate', reason);
    await rec.skip('register', 'the gates rejected the model; nothing was registered');
    await rec.skip('package', 'the gates rejected the model');
    return rec.finish('rejected', reason);
  }

  // register ----------------------------------------------------------------------------------------
  const registered = await rec.run({
    name: 'register',
    inputs: () => ({ bundle: manifestSha, report: gates.candidate }),
    // Never reuse: the registry itself says whether this bundle is in (checked above).
    stillValid: async () => false,
    run: async (ctx) => {
      const m = await registry.register({
        bundleDir,
        report: candidateReport,
        gates,
        datasetHash,
        codeRevision: c.revision,
        trainParams: { ...trainParams, run_id: String(trained.run_id ?? rec.record.id), registered_by_run: rec.record.id },
      });
      ctx.log(`registered ${m.location} ${m.version} as ${m.stage}`);
      return { location: m.location, version: m.version, stage: m.stage };
    },
  });
  rec.record.model = { location, version: String(registered.version), stage: String(registered.stage) };
  await packageStep(rec, registry, config, c, String(registered.version));
  return rec.finish('registered', `${location} ${String(registered.version)} registered as candidate`);
}

/** Signed Mender artifact of the registered bundle, when a signing key is configured. */
async function packageStep(rec: RunRecorder, registry: Registry, config: PipelineConfig, c: Ctx, version: string): Promise<void> {
  const key = config.package.key;
  if (!key) {
    await rec.skip('package', 'no signing key configured (package.key)');
    return;
  }
  const artifactDir = join(c.locDir, 'artifact');
  const model = registry.get(c.location, version);
  await rec.run({
    name: 'package',
    inputs: async () => ({
      bundle: model.manifestSha256,
      key: sha256Hex(
        Buffer.from(
          publicKeyPemOf(
            await readFile(key, 'utf8').catch((err: Error) => {
              throw new SidewalkError('PIPELINE_KEY_UNREADABLE', `package.key ${key}: ${err.message}`, { cause: err });
            }),
            key,
          ),
        ),
      ),
      device_types: config.package.deviceTypes,
    }),
    stillValid: async (o) => registry.get(c.location, version).artifact?.sha256 === o.sha256,
    run: async (ctx) => {
      const bundle = join(artifactDir, 'bundle');
      await rm(artifactDir, { recursive: true, force: true });
      await registry.materialize(model, bundle);
      const fileName = `${model.name}-${model.version}.mender`;
      const output = join(artifactDir, fileName);
      const info = await buildModelArtifact({ bundleDir: bundle, deviceTypes: config.package.deviceTypes, output, privateKeyPath: key });
      const after = await registry.attachArtifact(c.location, version, output, fileName);
      ctx.log(`artifact ${info.name} (${info.signature?.scheme ?? 'unsigned'}) -> ${output}`);
      return { file: output, name: info.name, sha256: after.artifact!.sha256 };
    },
  });
}
