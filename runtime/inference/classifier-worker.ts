/**
 * The inference worker thread: hosts the TFLite interpreters (tfjs-tflite-node's raw runner) of
 * every classifier in the process and does preprocessing and inference, so the main thread
 * (watchdog, limiter, MQTT) never blocks on them. Preprocessing writes straight into the
 * interpreter's input tensor array; frame buffers arrive transferred and go back with the result.
 *
 * One worker for all models, for the life of the process: tfjs-tflite-node 0.0.2 keeps a static
 * Napi::FunctionReference (TensorInfo::constructor) that the last thread to load the addon
 * overwrites, so interpreters created in a second worker, or a worker torn down after another
 * loaded the addon, abort the process ("Entering the V8 API without proper locking",
 * "Check failed: node->IsInUse()", "free(): invalid pointer"). Interpreters are never released
 * either: their finalizers call Napi::Reference::Unref, which crashed under forced GC.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { type ErrorCode, isSidewalkError, SidewalkError } from '../../lib/errors.js';
import type { FrameFormat } from '../types.js';
import { InferenceErrorCode } from './errors.js';
import type { ModelManifest } from './manifest-types.js';
import { Preprocessor, type ModelInputArray } from './preprocess.js';

export interface LoadRequest {
  type: 'load';
  modelId: number;
  model: ArrayBuffer;
  modelFile: string;
  manifest: ModelManifest;
  numThreads: number;
  delegate?: { path: string; options: Array<[string, string]> };
}

export interface ClassifyRequest {
  type: 'classify';
  modelId: number;
  id: number;
  width: number;
  height: number;
  stride: number;
  format: FrameFormat;
  data: ArrayBuffer;
  byteLength: number;
}

/** Stops serving a model (its interpreter stays allocated, see above). */
export interface UnloadRequest {
  type: 'unload';
  modelId: number;
}

export type WorkerRequest = LoadRequest | ClassifyRequest | UnloadRequest;

export type WorkerMessage =
  | { type: 'loaded'; modelId: number }
  | { type: 'result'; id: number; probabilities: Float32Array; preprocessMs: number; inferenceMs: number; data: ArrayBuffer }
  | { type: 'error'; modelId?: number; id?: number; code: ErrorCode; message: string; data?: ArrayBuffer };

/** The part of tfjs-tflite-node's native runner we use (its .d.ts pulls in tfjs-tflite web types). */
interface NativeTensor {
  readonly dataType: string;
  readonly shape: string;
  readonly name: string;
  data(): ModelInputArray | Float32Array;
}
interface NativeRunner {
  getInputs(): NativeTensor[];
  getOutputs(): NativeTensor[];
  infer(): boolean;
}
type NativeRunnerClass = new (model: ArrayBuffer, options: { threads?: number; delegate?: { path: string; options: Array<[string, string]> } }) => NativeRunner;

interface Loaded {
  request: LoadRequest;
  runner: NativeRunner;
  input: ModelInputArray;
  output: Float32Array | Int8Array | Uint8Array;
  preprocessor?: Preprocessor;
  /** Dequantised output, reused every frame: postMessage copies it, so nothing is transferred or allocated for it. */
  probabilities: Float32Array;
}

const port = parentPort!;
const { TFLiteNodeModelRunner } = createRequire(import.meta.url)('tfjs-tflite-node') as { TFLiteNodeModelRunner: NativeRunnerClass };
const models = new Map<number, Loaded>();
/** Every interpreter ever created, referenced until the process ends (never finalized). */
const keepAlive: unknown[] = [];

function load(request: LoadRequest): Loaded {
  let runner: NativeRunner;
  try {
    runner = new TFLiteNodeModelRunner(request.model, { threads: request.numThreads, ...(request.delegate ? { delegate: request.delegate } : {}) });
    keepAlive.push(runner);
  } catch (err) {
    throw new SidewalkError(InferenceErrorCode.MODEL_LOAD_FAILED, `${request.modelFile}: TFLite could not load it: ${(err as Error).message.trim()}`, { cause: err });
  }
  const spec = request.manifest.input;
  const labels = request.manifest.labels.length;
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
  else if (outTensor.shape !== `1,${labels}`) {
    problems.push(`output tensor ${outTensor.name} has shape [${outTensor.shape}], manifest.json has ${labels} labels`);
  } else if (!['float32', 'int8', 'uint8'].includes(outTensor.dataType)) {
    problems.push(`output tensor ${outTensor.name} is ${outTensor.dataType}, expected float32, int8 or uint8`);
  }
  if (problems.length > 0) {
    throw new SidewalkError(InferenceErrorCode.MODEL_INPUT_MISMATCH, `${request.modelFile}: ${problems.join('; ')}`, { details: { problems } });
  }
  return {
    request,
    runner,
    input: inTensor!.data() as ModelInputArray,
    output: outTensor!.data() as Float32Array | Int8Array | Uint8Array,
    probabilities: new Float32Array(labels),
  };
}

function classify(model: Loaded, request: ClassifyRequest): WorkerMessage & { type: 'result' } {
  const { manifest, modelFile } = model.request;
  const t0 = performance.now();
  if (model.preprocessor === undefined || !model.preprocessor.matches(request)) {
    model.preprocessor = new Preprocessor(manifest.input, request);
  }
  model.preprocessor.run(new Uint8Array(request.data, 0, request.byteLength), model.input);
  const t1 = performance.now();
  if (!model.runner.infer()) throw new SidewalkError(InferenceErrorCode.MODEL_INFERENCE_FAILED, `${modelFile}: interpreter invoke failed`);
  const t2 = performance.now();
  const quant = manifest.output?.quantization;
  const { probabilities, output: raw } = model;
  if (quant === undefined || raw instanceof Float32Array) probabilities.set(raw);
  else for (let i = 0; i < probabilities.length; i++) probabilities[i] = (raw[i]! - quant.zero_point) * quant.scale;
  return { type: 'result', id: request.id, probabilities, preprocessMs: t1 - t0, inferenceMs: t2 - t1, data: request.data };
}

function failure(err: unknown, extra: { modelId?: number; id?: number; data?: ArrayBuffer }): WorkerMessage {
  const code = isSidewalkError(err) ? err.code : InferenceErrorCode.MODEL_INFERENCE_FAILED;
  return { type: 'error', code, message: err instanceof Error ? err.message : String(err), ...extra };
}

port.on('message', (request: WorkerRequest) => {
  if (request.type === 'load') {
    try {
      models.set(request.modelId, load(request));
      port.postMessage({ type: 'loaded', modelId: request.modelId } satisfies WorkerMessage);
    } catch (err) {
      port.postMessage(failure(err, { modelId: request.modelId }));
    }
  } else if (request.type === 'unload') {
    models.delete(request.modelId);
  } else {
    try {
      const model = models.get(request.modelId);
      if (model === undefined) throw new SidewalkError(InferenceErrorCode.MODEL_CLASSIFIER_CLOSED, `model ${request.modelId} is not loaded in the inference worker`);
      const result = classify(model, request);
      port.postMessage(result, [request.data]);
    } catch (err) {
      port.postMessage(failure(err, { id: request.id, data: request.data }), [request.data]);
    }
  }
});
