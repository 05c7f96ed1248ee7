import { InvalidArgumentError, Option, type Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { runTrainer, type TrainedBundle, type TrainOptions, type TrainVariant } from './trainer.js';
import { defaultVenvDir } from '../python/venv.js';

const log = createLogger('train');

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function semver(value: string): string {
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(value)) throw new InvalidArgumentError('expected a semantic version such as 1.2.0');
  return value;
}

function variants(value: string): TrainVariant[] {
  const list = value.split(',').map((v) => v.trim());
  for (const v of list) if (v !== 'float32' && v !== 'int8') throw new InvalidArgumentError(`unknown variant ${v}; expected float32,int8`);
  return list as TrainVariant[];
}

interface TrainFlags {
  data: string;
  out: string;
  arch: TrainOptions['arch'];
  weights: TrainOptions['weights'];
  inputSize: number;
  alpha: number;
  epochs: number;
  fineTuneEpochs: number;
  fineTuneFrom: number;
  batchSize: number;
  patience: number;
  seed: number;
  colorOrder: 'rgb' | 'bgr';
  crop: string;
  variants: TrainVariant[];
  resume?: boolean;
  name: string;
  modelVersion: string;
  location: string;
  demoOnly?: boolean;
}

/** Training above the export's image size only upscales them: the warning to give before the (long) run, or null. */
export function upscaleWarning(data: string, inputSize: number): string | null {
  let size: { width?: unknown; height?: unknown } | undefined;
  try {
    size = (JSON.parse(readFileSync(resolve(data, 'dataset.json'), 'utf8')) as { preprocessing?: { width?: unknown; height?: unknown } }).preprocessing;
  } catch {
    return null; // no dataset.json (a hand-made folder): nothing to compare with
  }
  const w = Number(size?.width);
  const h = Number(size?.height);
  if (w > 0 && h > 0 && inputSize > Math.min(w, h)) {
    return `--input-size ${inputSize} is above the export's ${w}x${h} images: they are upscaled, which adds no detail; export larger or train smaller`;
  }
  return null;
}

/** A run whose bundles score 0 % on the test split learned nothing: the error that ends it (non-zero exit), or null. */
export function zeroAccuracyError(bundles: readonly TrainedBundle[]): SidewalkError | null {
  const useless = bundles.filter((b) => b.test_accuracy === 0);
  if (useless.length === 0) return null;
  return new SidewalkError(
    'TRAIN_ACCURACY_ZERO',
    `${useless.map((b) => b.variant).join(', ')}: test accuracy 0.0 %; the bundles are written but the model learned nothing (check the labels, the classes of the test split and the epochs)`,
  );
}

export function registerTrainCommands(program: Command): void {
  program
    .command('train')
    .description(
      'Train a ground classifier on a dataset export and write TFLite model bundles (float32 and int8).\n\n' +
        'Keras/TensorFlow runs in its own Python venv, created on first use (a few minutes) at ' +
        `${defaultVenvDir()} (override: SIDEWALK_TRAIN_VENV; base interpreter: SIDEWALK_PYTHON or python3 >= 3.10).\n\n` +
        'Writes OUT/float32/ and OUT/int8/ bundles (model.tflite + manifest.json, plus model_edgetpu.tflite when ' +
        'edgetpu_compiler is on PATH), OUT/model.keras, OUT/checkpoints/ (for --resume) and OUT/train-summary.json.',
    )
    .requiredOption('--data <dir>', 'dataset export: DIR/{train,val,test}/{bike_lane,crosswalk,side,street}/*.png|jpg (+ dataset.json)')
    .requiredOption('--out <dir>', 'output folder')
    .addOption(new Option('--arch <arch>', 'network').choices(['mobilenetv2', 'tiny']).default('mobilenetv2'))
    .addOption(new Option('--weights <weights>', 'MobileNetV2 initial weights').choices(['imagenet', 'none']).default('imagenet'))
    .option('--input-size <n>', 'square input size in pixels', integer(16), 224)
    .option('--alpha <a>', 'MobileNetV2 width multiplier', positiveNumber, 1.0)
    .option('--epochs <n>', 'stage 1 epochs (head; the whole net for tiny or --weights none)', integer(1), 10)
    .option('--fine-tune-epochs <n>', 'stage 2 epochs (MobileNetV2 only; 0 skips)', integer(0), 10)
    .option('--fine-tune-from <layer>', 'stage 2 unfreezes backbone layers from this index on', integer(0), 100)
    .option('--batch-size <n>', 'batch size', integer(1), 32)
    .option('--patience <n>', 'early stopping: epochs without val_loss improvement before a stage ends', integer(1), 3)
    .option('--seed <s>', 'random seed (data order, augmentation, initial weights)', integer(0), 42)
    .addOption(new Option('--color-order <order>', 'channel order the model is trained and served with').choices(['rgb', 'bgr']).default('rgb'))
    .option('--crop <x,y,w,h>', 'region of the camera frame fed to the model, as fractions', '0,0,1,1')
    .option('--variants <list>', 'TFLite exports', variants, ['float32', 'int8'] as TrainVariant[])
    .option('--resume', 'continue from OUT/checkpoints/ after an interrupted run')
    .option('--name <name>', 'model name in the manifest', 'sidewalk')
    .option('--model-version <v>', "model version in the manifest (not --version: that one is the CLI's own)", semver, '0.1.0')
    .option('--location <location>', 'city/location the model is for', 'unknown')
    .option('--demo-only', 'mark the bundles as demo models that must never be deployed for road use')
    .action(async (flags: TrainFlags) => {
      const { modelVersion, ...rest } = flags;
      const out = statSync(flags.out, { throwIfNoEntry: false });
      if (out && !out.isDirectory()) throw new SidewalkError('TRAIN_OUT_NOT_DIR', `--out ${flags.out} is a file; give a folder (it is created when absent)`);
      const upscaled = upscaleWarning(flags.data, flags.inputSize);
      if (upscaled) log.warn(upscaled);
      const result = await runTrainer({ ...rest, version: modelVersion, data: resolve(flags.data), out: resolve(flags.out) });
      for (const bundle of result.bundles) {
        const acc = bundle.test_accuracy === null ? '' : `\ttest_accuracy=${bundle.test_accuracy.toFixed(4)}`;
        process.stdout.write(`${bundle.variant}\t${bundle.dir}${acc}\n`);
      }
      const zero = zeroAccuracyError(result.bundles);
      if (zero) throw zero;
    });
}
