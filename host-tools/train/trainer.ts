/**
 * Runs the Python trainer (host-tools/train/sidewalk_train) in its venv as a child process, turning its
 * JSON-line events into progress on stderr and its failures into SidewalkErrors.
 */
import { SidewalkError, relayedCode } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { runProcess } from '../../lib/run-process.js';
import { TRAIN_DIR, ensureTrainVenv, type TrainVenvOptions } from '../python/venv.js';

const log = createLogger('train');

export type TrainArch = 'mobilenetv2' | 'tiny';
export type TrainVariant = 'float32' | 'int8';

export interface TrainOptions {
  data: string;
  out: string;
  arch?: TrainArch;
  weights?: 'imagenet' | 'none';
  inputSize?: number;
  alpha?: number;
  epochs?: number;
  fineTuneEpochs?: number;
  fineTuneFrom?: number;
  batchSize?: number;
  /** Early stopping: epochs without val_loss improvement before a stage ends. */
  patience?: number;
  seed?: number;
  colorOrder?: 'rgb' | 'bgr';
  /** "x,y,width,height" fractions of the camera frame. */
  crop?: string;
  variants?: TrainVariant[];
  resume?: boolean;
  name?: string;
  version?: string;
  location?: string;
  demoOnly?: boolean;
  venv?: TrainVenvOptions;
  /** Every progress event of the trainer (dataset, model, stage, epoch, export, bundle, info). */
  onEvent?: (event: TrainEvent) => void;
}

export interface TrainedBundle {
  variant: TrainVariant;
  dir: string;
  /** Accuracy of the exported .tflite itself on the test split, when the export has one. */
  test_accuracy: number | null;
}

export interface TrainResult {
  bundles: TrainedBundle[];
  dataset_hash: string;
  counts: Record<string, Record<string, number>>;
  preprocess: Record<string, unknown>;
}

/** The Python trainer's arguments (the TS options are its camelCase mirror). */
function trainerArgs(options: TrainOptions): string[] {
  const args = ['-m', 'sidewalk_train', '--data', options.data, '--out', options.out];
  const add = (flag: string, value: string | number | undefined): void => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add('--arch', options.arch);
  add('--weights', options.weights);
  add('--input-size', options.inputSize);
  add('--alpha', options.alpha);
  add('--epochs', options.epochs);
  add('--fine-tune-epochs', options.fineTuneEpochs);
  add('--fine-tune-from', options.fineTuneFrom);
  add('--batch-size', options.batchSize);
  add('--patience', options.patience);
  add('--seed', options.seed);
  add('--color-order', options.colorOrder);
  add('--crop', options.crop);
  add('--variants', options.variants?.join(','));
  add('--name', options.name);
  add('--version', options.version);
  add('--location', options.location);
  if (options.resume) args.push('--resume');
  if (options.demoOnly) args.push('--demo-only');
  return args;
}

export type TrainEvent = { event: string } & Record<string, unknown>;

const pct = (v: unknown): string => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '-');
const num = (v: unknown): string => (typeof v === 'number' ? v.toFixed(4) : '-');

function render(e: TrainEvent): string | undefined {
  switch (e.event) {
    case 'dataset':
      return `dataset ${String(e.dir)}: ${JSON.stringify(e.counts)}`;
    case 'model':
      return `model ${String(e.arch)} input ${String(e.input_size)}px, ${String(e.params)} parameters`;
    case 'stage':
      return `stage ${String(e.stage)}: ${String(e.epochs)} epoch(s) from ${String(e.from_epoch)}, ` + `learning rate ${String(e.learning_rate)}, ${String(e.trainable_params)} trainable parameters`;
    case 'epoch':
      return (
        `stage ${String(e.stage)} epoch ${String(e.epoch)}/${String(e.epochs)} (${String(e.seconds)} s): ` +
        `loss ${num(e.loss)} acc ${pct(e.accuracy)} | val loss ${num(e.val_loss)} val acc ${pct(e.val_accuracy)}`
      );
    case 'export':
      return `exporting ${String(e.variant)} TFLite model`;
    case 'bundle':
      return (
        `bundle ${String(e.variant)}: ${String(e.dir)} (${String(e.bytes)} bytes, min_runtime_version ` +
        `${String(e.min_runtime_version)}, test acc ${pct(e.test_accuracy)}${e.edgetpu ? ', Edge TPU model included' : ''})`
      );
    case 'info':
      return String(e.message);
    default:
      return undefined;
  }
}

/** Creates the venv if needed, trains, exports; resolves with the trainer's summary. */
export async function runTrainer(options: TrainOptions): Promise<TrainResult> {
  const venv = await ensureTrainVenv(options.venv);
  let result: TrainResult | undefined;
  let failure: TrainEvent | undefined;
  const run = await runProcess(venv.python, trainerArgs(options), {
    cwd: TRAIN_DIR,
    env: {
      ...process.env,
      PYTHONPATH: TRAIN_DIR,
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2',
    },
    errorCode: 'TRAIN_FAILED',
    maxOutputChars: 64 * 1024,
    onStdoutLine: (line) => {
      let event: TrainEvent | undefined;
      if (line.startsWith('{')) {
        try {
          event = JSON.parse(line) as TrainEvent;
        } catch {
          event = undefined;
        }
      }
      if (!event || typeof event.event !== 'string') {
        if (line.trim()) log.debug(line);
        return;
      }
      if (event.event === 'done') result = event as unknown as TrainResult;
      else if (event.event === 'error') failure = event;
      else {
        options.onEvent?.(event);
        const text = render(event);
        if (text) log.info(text);
      }
    },
    // TensorFlow's own chatter; shown with --verbose, and its tail on failure.
    onStderrLine: (line) => {
      if (line.trim()) log.debug(line);
    },
  });
  if (failure) throw new SidewalkError(relayedCode(String(failure.code), 'TRAIN_FAILED'), String(failure.message));
  if (run.code !== 0 || !result) {
    const stderrTail = run.stderr.split('\n').slice(-61, -1);
    const why = run.code === 2 && !result ? (stderrTail.filter((l) => /error:/.test(l)).pop() ?? stderrTail.slice(-1)[0]) : stderrTail.slice(-12).join('\n');
    throw new SidewalkError('TRAIN_FAILED', `the trainer exited with ${run.code ?? run.signal}${result ? '' : ' before finishing'}:\n${why ?? '(no output)'}`);
  }
  return result;
}
