/**
 * `sidewalk eval`: a model bundle on a dataset split, through the device's own path (bundle loader,
 * manifest-driven Preprocessor and TFLite classifier in the inference worker): each image is decoded
 * by ffmpeg at its own size and handed over as an rgb24 Frame, so crop and resize are the device's.
 * Produces the stable report (format "sidewalk-eval/1", README.md) that the registry gates read.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isSidewalkError, SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { createTfliteClassifier, InferenceErrorCode, loadModelBundle, type ModelBundle, type TfliteClassifier, type TfliteDelegate } from '../../runtime/inference/index.js';
import type { TrainVenvOptions } from '../python/venv.js';
import { decodeImages, exportedCrop, readDatasetSplit, type DatasetSplit } from './dataset.js';
import { reportHtml } from './html.js';
import { kerasPredict, parityOf, type KerasPredictions, type ParityResult } from './keras.js';
import { accuracyOf, addToConfusion, argmax, emptyConfusion, latencySummary, perClassScores, safetyFigures, type ClassScores, type Confusion, type LatencySummary } from './metrics.js';
import { confusionPng, perClassPng } from './plots.js';
import { findRides, replayRides, type RideReplayReport } from './rides.js';

const log = createLogger('eval');

export const EVAL_FORMAT = 'sidewalk-eval/1';

export interface EvalReport {
  format: typeof EVAL_FORMAT;
  model: { name: string; version: string; location: string; sha256: string; dir: string; dtype: string; backend: string };
  dataset: { hash: string; split: string; count: number; dir: string };
  accuracy: number;
  per_class: Record<string, ClassScores>;
  /** Rows = truth, columns = predicted, both in `labels` (the manifest's output order). */
  confusion: Confusion;
  safety: { sidewalk_recall: number; road_false_limit_rate: number; sidewalk_frames: number; road_frames: number };
  per_location: Record<string, { accuracy: number; count: number }>;
  /** Inference (interpreter invoke) time per image; preprocess_ms is the device preprocessing. */
  latency_ms: LatencySummary & { preprocess_mean: number };
  rides?: RideReplayReport;
  /** Keras vs each TFLite export given, keyed by the export's input dtype. */
  parity?: Record<string, ParityResult>;
  created_at: string;
  files?: { json: string; html: string; confusion_png: string; per_class_png: string };
}

export interface EvalOptions {
  /** Model bundle folder (manifest.json + model.tflite). */
  model: string;
  /** Dataset export folder. */
  data: string;
  split?: string;
  /** Writes report.json, report.html, confusion.png and per-class.png here. */
  outDir?: string;
  /** Rides folder (sidewalk-ride/1) for the ride-level replay. */
  rides?: string;
  /** OUT/model.keras of `sidewalk train`: adds `parity` for this bundle. */
  keras?: string;
  /** Keras predictions for the split's images in dataset order (instead of running `keras`). */
  kerasPredictions?: KerasPredictions;
  /** Default xnnpack (what the device runs); falls back to the plain interpreter when the shim is not built. */
  delegate?: TfliteDelegate;
  numThreads?: number;
  venv?: TrainVenvOptions;
  onProgress?: (message: string) => void;
}

interface Evaluated {
  report: EvalReport;
  /** Predicted label name per image, in dataset order. */
  top1: string[];
  split: DatasetSplit;
}

const FULL_FRAME = { x: 0, y: 0, width: 1, height: 1 };

/**
 * The manifest as the export's images must be fed. Images of a dataset export are already cropped
 * (to dataset.json's preprocessing.crop), so they go in with the crop switched off, which is what the
 * device's crop of a camera frame gives. An export cropped differently from the model's manifest is
 * refused rather than cropped twice.
 */
async function manifestForExport(bundle: ModelBundle, dataDir: string): Promise<ModelBundle['manifest']> {
  const crop = await exportedCrop(dataDir);
  if (crop === null) return bundle.manifest;
  const want = bundle.manifest.input.crop;
  const same = (['x', 'y', 'width', 'height'] as const).every((k) => Math.abs(crop[k] - want[k]) < 1e-9);
  if (!same) {
    throw new SidewalkError(
      'EVAL_DATASET_CROP',
      `${join(dataDir, 'dataset.json')}: images were cropped to ${JSON.stringify(crop)}, ` +
        `but ${join(bundle.dir, 'manifest.json')} crops camera frames to ${JSON.stringify(want)}; export the dataset with this model's manifest`,
    );
  }
  if (bundle.manifest.input.pre_resize !== undefined) {
    // The pre-resize works on whole frames; images cropped beforehand cannot go through it.
    throw new SidewalkError(
      'EVAL_DATASET_CROP',
      `${join(dataDir, 'dataset.json')}: images were cropped at export, but ` +
        `${join(bundle.dir, 'manifest.json')} resizes whole camera frames first (input.pre_resize); evaluate it on an export of whole frames`,
    );
  }
  return { ...bundle.manifest, input: { ...bundle.manifest.input, crop: FULL_FRAME } };
}

async function openClassifier(dir: string, options: EvalOptions): Promise<TfliteClassifier> {
  const loaded = await loadModelBundle(dir);
  const bundle = { ...loaded, manifest: await manifestForExport(loaded, resolve(options.data)) };
  const delegate = options.delegate ?? 'xnnpack';
  const numThreads = options.numThreads ?? 2;
  try {
    return await createTfliteClassifier(bundle, { delegate, numThreads });
  } catch (err) {
    if (options.delegate === undefined && isSidewalkError(err, InferenceErrorCode.MODEL_DELEGATE_UNAVAILABLE)) {
      log.warn(`${(err as Error).message}; evaluating without XNNPACK (latency will not be the device's)`);
      return createTfliteClassifier(bundle, { delegate: 'cpu', numThreads });
    }
    throw err;
  }
}

async function evaluateOne(options: EvalOptions, split?: DatasetSplit): Promise<Evaluated> {
  const progress = options.onProgress ?? ((m: string) => log.info(m));
  const classifier = await openClassifier(resolve(options.model), options);
  try {
    const m = classifier.manifest;
    // The split listed for an earlier export is reused when this model knows all its classes.
    const data = split?.items.every((i) => m.labels.includes(i.label)) ? split : await readDatasetSplit(resolve(options.data), options.split ?? 'test', m.labels);
    const confusion = emptyConfusion(m.labels);
    const inferenceMs: number[] = [];
    const preprocessMs: number[] = [];
    const top1 = new Array<string>(data.items.length);
    const index = new Map(data.items.map((item, i) => [item, i]));
    let done = 0;
    for await (const { item, rgb } of decodeImages(data.items)) {
      // A copy: the classifier transfers the frame's buffer to its worker.
      const result = await classifier.classify({
        seq: done,
        capturedAtNs: 0n,
        width: item.width,
        height: item.height,
        stride: item.width * 3,
        format: 'rgb24',
        data: rgb.slice(),
      });
      const predicted = argmax(result.probabilities);
      top1[index.get(item)!] = m.labels[predicted]!;
      addToConfusion(confusion, m.labels.indexOf(item.label), predicted);
      inferenceMs.push(result.inferenceMs);
      preprocessMs.push(result.preprocessMs);
      done++;
      if (done % 500 === 0) progress(`${m.name} ${m.version}: ${done}/${data.items.length} images`);
    }
    const accuracy = accuracyOf(confusion);
    const report: EvalReport = {
      format: EVAL_FORMAT,
      model: {
        name: m.name,
        version: m.version,
        location: m.location,
        sha256: m.files['model.tflite']!.sha256,
        dir: resolve(options.model),
        dtype: m.input.dtype,
        backend: classifier.info.backend,
      },
      dataset: { hash: data.hash, split: data.split, count: data.items.length, dir: data.dir },
      accuracy,
      per_class: perClassScores(confusion),
      confusion,
      safety: safetyFigures(confusion, m.groups),
      per_location: { [data.location ?? 'all']: { accuracy, count: data.items.length } },
      latency_ms: { ...latencySummary(inferenceMs), preprocess_mean: latencySummary(preprocessMs).mean },
      created_at: new Date().toISOString(),
    };
    progress(`${m.name} ${m.version} (${m.input.dtype}): accuracy ${(accuracy * 100).toFixed(2)}% on ${data.items.length} ${data.split} images`);
    if (options.rides !== undefined) {
      report.rides = await replayRides(await findRides(resolve(options.rides)), classifier, progress);
    }
    return { report, top1, split: data };
  } finally {
    await classifier.close();
  }
}

async function writeReport(report: EvalReport, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const files = {
    json: join(outDir, 'report.json'),
    html: join(outDir, 'report.html'),
    confusion_png: join(outDir, 'confusion.png'),
    per_class_png: join(outDir, 'per-class.png'),
  };
  report.files = files;
  await writeFile(files.confusion_png, confusionPng(report.confusion));
  await writeFile(files.per_class_png, perClassPng(report.per_class));
  await writeFile(files.html, reportHtml(report, { confusion: 'confusion.png', perClass: 'per-class.png' }));
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
}

/** Evaluates one bundle (and its Keras parity when `keras` is given); writes the report files when `outDir` is set. */
export async function evaluateBundle(options: EvalOptions): Promise<EvalReport> {
  const [report] = await evaluateBundles({ ...options, models: [options.model] });
  return report!;
}

/**
 * Several exports of one model (e.g. float32 and int8) on the same images: each gets its report, and
 * with `keras` every report carries the parity of every export. With more than one model the files
 * go to OUT/<bundle folder name>/.
 */
export async function evaluateBundles(options: Omit<EvalOptions, 'model'> & { models: string[] }): Promise<EvalReport[]> {
  if (options.models.length === 0) throw new SidewalkError('EVAL_NO_MODEL', 'no model bundle given (--model BUNDLE)');
  const results: Evaluated[] = [];
  let split: DatasetSplit | undefined;
  for (const model of options.models) {
    const result = await evaluateOne({ ...options, model }, split);
    split = result.split;
    results.push(result);
  }
  if (options.keras !== undefined || options.kerasPredictions !== undefined) {
    const first = await loadModelBundle(resolve(options.models[0]!));
    const keras =
      options.kerasPredictions ??
      (await kerasPredict(
        options.keras!,
        (
          await manifestForExport(first, resolve(options.data))
        ).input,
        results[0]!.split.items.map((i) => i.path),
        options.venv,
      ));
    const kerasTop1 = keras.probabilities.map((p) => keras.labels[argmax(p)]!);
    const parity: Record<string, ParityResult> = {};
    for (const { report, top1 } of results) {
      let key = report.model.dtype;
      for (let n = 2; key in parity; n++) key = `${report.model.dtype}-${n}`;
      parity[key] = parityOf(kerasTop1, top1, report.model.dtype as 'float32' | 'int8' | 'uint8');
      if (!parity[key]!.ok) {
        log.warn(
          `parity MISS: ${report.model.dir} (${key}) agrees with Keras on ${(parity[key]!.agreement * 100).toFixed(2)}% ` +
            `of ${kerasTop1.length} images, target ${(parity[key]!.target * 100).toFixed(1)}%`,
        );
      }
    }
    for (const { report } of results) report.parity = parity;
  }
  if (options.outDir !== undefined) {
    const used = new Set<string>();
    for (const { report } of results) {
      let dir = resolve(options.outDir);
      if (results.length > 1) {
        let name = basename(report.model.dir);
        for (let n = 2; used.has(name); n++) name = `${basename(report.model.dir)}-${n}`;
        used.add(name);
        dir = join(dir, name);
      }
      await writeReport(report, dir);
    }
  }
  return results.map((r) => r.report);
}
