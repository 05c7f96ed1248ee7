/**
 * Classifier: frames in, probabilities (manifest.labels order) out. The bundle is loaded and verified
 * on the calling thread; one worker thread then owns the interpreter and does preprocessing and
 * inference (runtime.md §0 item 3: invoke is synchronous and would starve the watchdog).
 * One classify() in flight at a time: the runtime holds one frame in flight (DESIGN.md).
 */
import { Worker } from 'node:worker_threads';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { DIST_ROOT } from '../../lib/paths.js';
import type { Frame } from '../types.js';
import { EDGETPU_MODEL_FILE, loadModelBundle, MODEL_FILE, type ModelBundle } from './bundle.js';
import type { ClassifyRequest, CloseRequest, WorkerInit, WorkerMessage } from './classifier-worker.js';
import { probeEdgeTpu, type EdgeTpuProbeOptions } from './edgetpu.js';
import { InferenceErrorCode } from './errors.js';
import type { ModelManifest } from './manifest-types.js';

const log = createLogger('runtime:inference');

export type ClassifierBackend = 'xnnpack' | 'cpu' | 'edgetpu';
export type DelegateChoice = 'xnnpack' | 'none' | 'edgetpu';

export interface ClassifyResult {
  /** One probability per manifest label, in manifest.labels order; quantised outputs are dequantised. */
  probabilities: Float32Array;
  preprocessMs: number;
  inferenceMs: number;
}

export interface Classifier {
  readonly manifest: ModelManifest;
  readonly backend: ClassifierBackend;
  /**
   * Classifies one frame. The frame's buffer is transferred to the worker when it owns a whole
   * ArrayBuffer (else copied once); `frame.data` is detached meanwhile and points at the same bytes
   * again when the promise settles (unless the worker died). Rejects with a SidewalkError (MODEL_*).
   */
  classify(frame: Frame): Promise<ClassifyResult>;
  close(): Promise<void>;
}

export interface TfliteClassifierOptions {
  delegate: DelegateChoice;
  /** Interpreter and XNNPACK threads (default 2: leaves a Pi 4 core for the main thread and the camera). */
  numThreads?: number;
  /** Per-classify limit; past it the worker is stopped and the classifier is unusable (default 10000). */
  timeoutMs?: number;
  /** Passed to loadModelBundle (min_app_version check). */
  appVersion?: string;
  /** Coral device selector ('usb', 'usb:0', 'pci', ...) and probe overrides. */
  edgetpu?: EdgeTpuProbeOptions & { device?: string };
  /** The XNNPACK shim (default dist/native/libsidewalk_xnnpack.so, built by scripts/build-native.mjs). */
  xnnpackLibrary?: string;
  /** Worker script; only tests replace it. */
  workerUrl?: URL;
}

export const XNNPACK_LIBRARY = join(DIST_ROOT, 'native', 'libsidewalk_xnnpack.so');

export async function createTfliteClassifier(bundleOrDir: string | ModelBundle, options: TfliteClassifierOptions): Promise<Classifier> {
  const bundle = typeof bundleOrDir === 'string'
    ? await loadModelBundle(bundleOrDir, options.appVersion === undefined ? {} : { appVersion: options.appVersion })
    : bundleOrDir;
  const numThreads = options.numThreads ?? 2;
  let backend: ClassifierBackend = 'cpu';
  let model = bundle.model;
  let modelFile = join(bundle.dir, MODEL_FILE);
  let delegate: WorkerInit['delegate'];

  if (options.delegate === 'xnnpack') {
    const path = options.xnnpackLibrary ?? XNNPACK_LIBRARY;
    await access(path).catch((err: unknown) => {
      throw new SidewalkError(InferenceErrorCode.MODEL_DELEGATE_UNAVAILABLE,
        `${path}: XNNPACK delegate shim not built; run 'node scripts/build-native.mjs' (needs gcc)`, { cause: err });
    });
    // XNNPACK 2.9 leaves quantised ops to the slow reference kernels unless asked (QS8 = 1, QU8 = 2).
    const flags = { float32: 0, int8: 1, uint8: 2 }[bundle.manifest.input.dtype];
    delegate = { path, options: [['num_threads', String(numThreads)], ['flags', String(flags)]] };
    backend = 'xnnpack';
  } else if (options.delegate === 'edgetpu') {
    // Probe before the delegate exists anywhere: a missing libedgetpu segfaults the interpreter.
    const tpu = await probeEdgeTpu(options.edgetpu);
    if (bundle.edgetpuModel === undefined) {
      throw new SidewalkError(InferenceErrorCode.EDGETPU_UNAVAILABLE,
        `${join(bundle.dir, EDGETPU_MODEL_FILE)}: the bundle has no Edge TPU model (compile model.tflite with edgetpu_compiler)`);
    }
    model = bundle.edgetpuModel;
    modelFile = join(bundle.dir, EDGETPU_MODEL_FILE);
    delegate = { path: tpu.libraryPath, options: options.edgetpu?.device ? [['device', options.edgetpu.device]] : [] };
    backend = 'edgetpu';
  }

  const init: WorkerInit = { model: new Uint8Array(model).buffer, modelFile, manifest: bundle.manifest, numThreads, ...(delegate ? { delegate } : {}) };
  const worker = new Worker(options.workerUrl ?? new URL('./classifier-worker.js', import.meta.url), {
    workerData: init,
    transferList: [init.model],
    stdout: false,
    stderr: false,
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (err: SidewalkError, exited = false): void => {
      cleanup();
      if (!exited) parkWorker(worker);
      reject(err);
    };
    const onMessage = (msg: WorkerMessage): void => {
      if (msg.type === 'ready') {
        cleanup();
        resolve();
      } else if (msg.type === 'error') {
        fail(new SidewalkError(msg.code, msg.message));
      }
    };
    const onError = (err: Error): void => fail(crashed(modelFile, `failed while loading: ${err.message}`, err));
    const onExit = (code: number): void => fail(crashed(modelFile, `exited with code ${code} while loading`), true);
    const cleanup = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
  log.info(`loaded ${bundle.manifest.name} ${bundle.manifest.version} (${backend}, ${numThreads} threads)`, { model: modelFile });
  return new TfliteClassifier(worker, bundle.manifest, backend, modelFile, options.timeoutMs ?? 10_000);
}

/**
 * Stops using a worker without tearing it down: tfjs-tflite-node 0.0.2's Interpreter/TensorInfo
 * destructors (Napi::Reference::Unref in finalizers) corrupt the heap when a worker environment
 * holding an interpreter is freed ("free(): invalid pointer", "Check failed: node->IsInUse()"),
 * in about 1 of 4 test runs. A parked worker keeps its interpreter (memory of one model) until the
 * process exits; unref() lets the process exit. Model swaps are rare, so the leak is bounded.
 */
function parkWorker(worker: Worker): void {
  worker.removeAllListeners('message');
  worker.postMessage({ type: 'close' } satisfies CloseRequest);
  worker.unref();
}

function crashed(modelFile: string, what: string, cause?: unknown): SidewalkError {
  return new SidewalkError(InferenceErrorCode.MODEL_WORKER_CRASHED, `inference worker for ${modelFile} ${what}`, cause === undefined ? {} : { cause });
}

interface Pending {
  id: number;
  frame: Frame;
  /** True when frame.data's own buffer was transferred (and must be re-attached). */
  transferred: boolean;
  byteLength: number;
  resolve(result: ClassifyResult): void;
  reject(err: SidewalkError): void;
  timer: NodeJS.Timeout;
}

class TfliteClassifier implements Classifier {
  readonly manifest: ModelManifest;
  readonly backend: ClassifierBackend;
  readonly #worker: Worker;
  readonly #modelFile: string;
  readonly #timeoutMs: number;
  #pending: Pending | undefined;
  #nextId = 1;
  /** Set once the worker is gone (closed, crashed or timed out); every later call rejects with it. */
  #dead: SidewalkError | undefined;
  #stopped: Promise<void> = Promise.resolve();

  constructor(worker: Worker, manifest: ModelManifest, backend: ClassifierBackend, modelFile: string, timeoutMs: number) {
    this.#worker = worker;
    this.manifest = manifest;
    this.backend = backend;
    this.#modelFile = modelFile;
    this.#timeoutMs = timeoutMs;
    worker.on('message', (msg: WorkerMessage) => this.#onMessage(msg));
    worker.on('error', (err) => this.#kill(crashed(modelFile, `crashed: ${err.message}`, err)));
    worker.on('exit', (code) => this.#kill(crashed(modelFile, `exited with code ${code}`)));
  }

  classify(frame: Frame): Promise<ClassifyResult> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (this.#pending !== undefined) {
      return Promise.reject(new SidewalkError(InferenceErrorCode.MODEL_CLASSIFIER_BUSY, `frame ${frame.seq}: a classify() is already in flight (one frame at a time)`));
    }
    const { data } = frame;
    const ownsBuffer = data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    const buffer = ownsBuffer ? (data.buffer as ArrayBuffer) : new Uint8Array(data).buffer;
    const request: ClassifyRequest = {
      type: 'classify', id: this.#nextId++, width: frame.width, height: frame.height, stride: frame.stride, format: frame.format,
      data: buffer, byteOffset: 0, byteLength: data.byteLength,
    };
    return new Promise<ClassifyResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#kill(new SidewalkError(InferenceErrorCode.MODEL_INFERENCE_TIMEOUT,
          `${this.#modelFile}: frame ${frame.seq} took longer than ${this.#timeoutMs} ms; inference worker stopped`));
      }, this.#timeoutMs);
      this.#pending = { id: request.id, frame, transferred: false, byteLength: data.byteLength, resolve, reject, timer };
      try {
        this.#worker.postMessage(request, [buffer]);
        this.#pending.transferred = ownsBuffer;
      } catch {
        // Untransferable buffer (e.g. Node's Buffer pool): send a copy instead.
        const copy = new Uint8Array(data).buffer;
        this.#worker.postMessage({ ...request, data: copy }, [copy]);
      }
    });
  }

  #onMessage(msg: WorkerMessage): void {
    const pending = this.#pending;
    if (pending === undefined || msg.type === 'ready' || msg.id !== pending.id) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    if (pending.transferred && msg.data !== undefined) {
      pending.frame.data = new Uint8Array(msg.data, 0, pending.byteLength);
    }
    if (msg.type === 'result') {
      pending.resolve({ probabilities: msg.probabilities, preprocessMs: msg.preprocessMs, inferenceMs: msg.inferenceMs });
    } else {
      pending.reject(new SidewalkError(msg.code, msg.message));
    }
  }

  #kill(reason: SidewalkError): void {
    if (this.#dead === undefined) {
      this.#dead = reason;
      if (reason.code === InferenceErrorCode.MODEL_CLASSIFIER_CLOSED) {
        // Parked, not terminated: tearing down a worker that holds a tfjs-tflite-node interpreter
        // intermittently aborts the whole process (its destructors double-free); see parkWorker().
        parkWorker(this.#worker);
      } else {
        log.error(reason.message, { code: reason.code });
        this.#stopped = this.#worker.terminate().then(() => undefined);
      }
    }
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      clearTimeout(pending.timer);
      pending.reject(this.#dead);
    }
  }

  async close(): Promise<void> {
    if (this.#dead === undefined) {
      this.#kill(new SidewalkError(InferenceErrorCode.MODEL_CLASSIFIER_CLOSED, `classifier for ${this.#modelFile} is closed`));
    }
    await this.#stopped;
  }
}
