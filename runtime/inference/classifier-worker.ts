/**
 * The inference worker thread: owns one TFLite interpreter (tfjs-tflite-node's raw runner) and does
 * preprocessing and inference, so the main thread (watchdog, limiter, MQTT) never blocks on them.
 * Preprocessing writes straight into the interpreter's input tensor array; the frame buffer arrives
 * transferred and goes back with the result, so frames cross threads without copies.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { isSidewalkError, SidewalkError } from '../../lib/errors.js';
import type { FrameFormat } from '../types.js';
import { InferenceErrorCode } from './errors.js';
import type { ModelManifest } from './manifest-types.js';
import { Preprocessor, type ModelInputArray } from './preprocess.js';

export interface WorkerInit {
  model: ArrayBuffer;
  modelFile: string;
  manifest: ModelManifest;
  numThreads: number;
  delegate?: { path: string; options: Array<[string, string]> };
}

export interface ClassifyRequest {
  type: 'classify';
  id: number;
  width: number;
  height: number;
  stride: number;
  format: FrameFormat;
  data: ArrayBuffer;
  byteOffset: number;
  byteLength: number;
}

/** Tells the worker to stop serving (see shutdown()). */
export interface CloseRequest { type: 'close' }

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; probabilities: Float32Array; preprocessMs: number; inferenceMs: number; data: ArrayBuffer }
  | { type: 'error'; id?: number; code: string; message: string; data?: ArrayBuffer };

/** The part of tfjs-tflite-node's native runner we use (its .d.ts pulls in tfjs-tflite web types). */
interface NativeTensor { readonly dataType: string; readonly shape: string; readonly name: string; data(): ModelInputArray | Float32Array }
interface NativeRunner { getInputs(): NativeTensor[]; getOutputs(): NativeTensor[]; infer(): boolean }
type NativeRunnerClass = new (model: ArrayBuffer, options: { threads?: number; delegate?: { path: string; options: Array<[string, string]> } }) => NativeRunner;

const port = parentPort!;
const init = workerData as WorkerInit;

function createRunner(): { runner: NativeRunner; input: ModelInputArray; output: Float32Array | Int8Array | Uint8Array } {
  const { TFLiteNodeModelRunner } = createRequire(import.meta.url)('tfjs-tflite-node') as { TFLiteNodeModelRunner: NativeRunnerClass };
  let runner: NativeRunner;
  try {
    runner = new TFLiteNodeModelRunner(init.model, { threads: init.numThreads, ...(init.delegate ? { delegate: init.delegate } : {}) });
  } catch (err) {
    throw new SidewalkError(InferenceErrorCode.MODEL_LOAD_FAILED, `${init.modelFile}: TFLite could not load it: ${(err as Error).message.trim()}`, { cause: err });
  }
  const spec = init.manifest.input;
  const inputs = runner.getInputs();
  const outputs = runner.getOutputs();
  const problems: string[] = [];
  const inTensor = inputs[0];
  const outTensor = outputs[0];
  if (inputs.length !== 1 || inTensor === undefined) problems.push(`${inputs.length} input tensors, expected 1`);
  else {
    const want = `1,${spec.height},${spec.width},3`;
    if (inTensor.shape !== want) problems.push(`input tensor ${inTensor.name} has shape [${inTensor.shape}], manifest.json input says [${want}]`);
    if (inTensor.dataType !== spec.dtype) problems.push(`input tensor ${inTensor.name} is ${inTensor.dataType}, manifest.json input.dtype is ${spec.dtype}`);
  }
  if (outputs.length !== 1 || outTensor === undefined) problems.push(`${outputs.length} output tensors, expected 1`);
  else if (outTensor.shape !== `1,${init.manifest.labels.length}`) {
    problems.push(`output tensor ${outTensor.name} has shape [${outTensor.shape}], manifest.json has ${init.manifest.labels.length} labels`);
  } else if (!['float32', 'int8', 'uint8'].includes(outTensor.dataType)) {
    problems.push(`output tensor ${outTensor.name} is ${outTensor.dataType}, expected float32, int8 or uint8`);
  }
  if (problems.length > 0) {
    throw new SidewalkError(InferenceErrorCode.MODEL_INPUT_MISMATCH, `${init.modelFile}: ${problems.join('; ')}`, { details: { problems } });
  }
  return { runner, input: inTensor!.data() as ModelInputArray, output: outTensor!.data() as Float32Array | Int8Array | Uint8Array };
}

function errorMessage(err: unknown, id?: number, data?: ArrayBuffer): WorkerMessage {
  const code = isSidewalkError(err) ? err.code : InferenceErrorCode.MODEL_INFERENCE_FAILED;
  return { type: 'error', code, message: (err as Error).message ?? String(err), ...(id === undefined ? {} : { id }), ...(data ? { data } : {}) };
}

/**
 * Stops serving but keeps the interpreter and the environment alive (the main thread parks this
 * worker; see parkWorker() in classifier.ts for why it is never torn down on purpose).
 */
function shutdown(last?: WorkerMessage): void {
  port.removeAllListeners('message');
  // A listener keeps this thread's event loop (and so its environment) alive; the main thread
  // has unref'd the worker, so the process can still exit.
  port.on('message', () => undefined);
  if (last !== undefined) port.postMessage(last);
}

function serve(initial: ReturnType<typeof createRunner>): void {
  let state: ReturnType<typeof createRunner> | undefined = initial;
  const labelCount = init.manifest.labels.length;
  const outQuant = init.manifest.output?.quantization;
  let preprocessor: Preprocessor | undefined;

  port.on('message', (request: ClassifyRequest | CloseRequest) => {
    if (request.type === 'close' || state === undefined) {
      state = undefined;
      preprocessor = undefined;
      shutdown();
      return;
    }
    const frameData = new Uint8Array(request.data, request.byteOffset, request.byteLength);
    try {
      const t0 = performance.now();
      if (preprocessor === undefined || !preprocessor.matches(request)) {
        preprocessor = new Preprocessor(init.manifest.input, request);
      }
      preprocessor.run(frameData, state.input);
      const t1 = performance.now();
      if (!state.runner.infer()) throw new SidewalkError(InferenceErrorCode.MODEL_INFERENCE_FAILED, `${init.modelFile}: interpreter invoke failed`);
      const t2 = performance.now();
      const probabilities = new Float32Array(labelCount);
      const raw = state.output;
      for (let i = 0; i < labelCount; i++) {
        probabilities[i] = outQuant === undefined || raw instanceof Float32Array ? raw[i]! : (raw[i]! - outQuant.zero_point) * outQuant.scale;
      }
      const message: WorkerMessage = { type: 'result', id: request.id, probabilities, preprocessMs: t1 - t0, inferenceMs: t2 - t1, data: request.data };
      port.postMessage(message, [probabilities.buffer, request.data]);
    } catch (err) {
      port.postMessage(errorMessage(err, request.id, request.data), [request.data]);
    }
  });
}

let created: ReturnType<typeof createRunner> | undefined;
try {
  created = createRunner();
} catch (err) {
  shutdown(errorMessage(err));
}
if (created !== undefined) {
  serve(created);
  created = undefined;
  port.postMessage({ type: 'ready' } satisfies WorkerMessage);
}
