/**
 * Parity between the Keras model `sidewalk train` wrote (OUT/model.keras) and its TFLite exports:
 * the same images through Keras (trainer venv + keras_predict.py, using the trainer's preprocessing)
 * and through each bundle on the device path; top-1 agreement per export against a target
 * (float >= 99.5 %, quantised >= 98 %).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { REPO_ROOT } from '../../lib/paths.js';
import type { ModelManifest } from '../../runtime/inference/manifest-types.js';
import { outputTail, runProcess } from '../../lib/run-process.js';
import { ensureTrainVenv, TRAIN_DIR, type TrainVenvOptions } from '../python/venv.js';

const KERAS_SCRIPT = resolve(REPO_ROOT, 'host-tools', 'eval', 'keras_predict.py');

export const PARITY_TARGETS = { float32: 0.995, int8: 0.98, uint8: 0.98 } as const;

export interface ParityResult {
  agreement: number;
  target: number;
  ok: boolean;
  count: number;
}

export interface KerasPredictions {
  /** The trainer's output order (sidewalk_train.LABELS). */
  labels: string[];
  probabilities: number[][];
}

/** Keras probabilities for `paths`, preprocessed per `input` by sidewalk_train.preprocess. */
export async function kerasPredict(modelPath: string, input: ModelManifest['input'], paths: readonly string[], venv?: TrainVenvOptions): Promise<KerasPredictions> {
  const { python } = await ensureTrainVenv(venv);
  const work = await mkdtemp(join(tmpdir(), 'sidewalk-eval-keras-'));
  try {
    const request = join(work, 'request.json');
    const output = join(work, 'output.json');
    await writeFile(request, JSON.stringify({ model: resolve(modelPath), input, paths }));
    const run = await runProcess(python, [KERAS_SCRIPT, request, output], {
      cwd: TRAIN_DIR,
      env: { ...process.env, PYTHONPATH: TRAIN_DIR, PYTHONDONTWRITEBYTECODE: '1', TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
      errorCode: 'EVAL_KERAS_FAILED',
      maxOutputChars: 64 * 1024,
    });
    if (run.code !== 0) {
      const last = outputTail({ stdout: '', stderr: run.stderr }, 3);
      throw new SidewalkError('EVAL_KERAS_FAILED', `${modelPath}: Keras prediction failed (exit ${run.code ?? run.signal}): ${last}`, { details: { model: modelPath } });
    }
    const parsed = JSON.parse(await readFile(output, 'utf8')) as KerasPredictions;
    if (parsed.probabilities.length !== paths.length) {
      throw new SidewalkError('EVAL_KERAS_FAILED', `${modelPath}: Keras returned ${parsed.probabilities.length} predictions for ${paths.length} images`);
    }
    return parsed;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Compares predicted label NAMES, so an export whose manifest mislabels its outputs disagrees. */
export function parityOf(kerasTop1: readonly string[], tfliteTop1: readonly string[], dtype: ModelManifest['input']['dtype']): ParityResult {
  if (kerasTop1.length !== tfliteTop1.length) {
    throw new SidewalkError('EVAL_PARITY_MISMATCH', `parity needs the same images: Keras has ${kerasTop1.length}, TFLite ${tfliteTop1.length}`);
  }
  const same = kerasTop1.filter((k, i) => k === tfliteTop1[i]).length;
  const agreement = kerasTop1.length === 0 ? 0 : same / kerasTop1.length;
  const target = PARITY_TARGETS[dtype];
  return { agreement, target, ok: agreement >= target, count: kerasTop1.length };
}
