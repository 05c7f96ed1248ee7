/**
 * Classifier: frames in, probabilities (manifest.labels order) out. The bundle is loaded and verified
 * on the calling thread; the process's inference worker thread then hosts the interpreter and does
 * preprocessing and inference (runtime.md §0 item 3: invoke is synchronous and would starve the
 * watchdog). A worker crash or hang ends every classifier on it (MODEL_WORKER_CRASHED /
 * MODEL_INFERENCE_TIMEOUT); the service should then exit and let systemd restart it, because
 * reloading tfjs-tflite-node in a new thread after a terminated one is not safe (classifier-worker.ts).
 * One classify() in flight per classifier: the runtime holds one frame in flight (README.md, Architecture).
 * All classifiers share one worker (tfjs-tflite-node cannot be used from several threads).
 */
import { Worker } from 'node:worker_threads';
import { access } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { DIST_ROOT } from '../../lib/paths.js';
import { RUNTIME_DEFAULTS } from '../config/schema.js';
import type { Classification, Classifier, Frame, ModelInfo } from '../types.js';
import { EDGETPU_MODEL_FILE, loadModelBundle, MODEL_FILE, type ModelBundle } from './bundle.js';
import type { ClassifyRequest, LoadRequest, UnloadRequest, WorkerMessage } from './classifier-worker.js';
import { probeEdgeTpu, type EdgeTpuProbeOptions } from './edgetpu.js';
import { InferenceErrorCode } from './errors.js';
import type { ModelManifest } from './manifest-types.js';

const log = createLogger('runtime:inference');

/** How the interpreter runs: XNNPACK (fast CPU), the plain interpreter (`cpu`), or a Coral Edge TPU. */
export type TfliteDelegate = 'xnnpack' | 'cpu' | 'edgetpu';

/** The TFLite result: one probability per manifest label, in order; quantised outputs are dequantised. */
export interface TfliteClassification extends Classification {
  probabilities: Float32Array;
}

export interface TfliteClassifierOptions {
  delegate: TfliteDelegate;
  /** Interpreter and XNNPACK threads (default: the runtime config's model.num_threads default). */
  numThreads?: number;
  /** Per-classify limit; past it the worker is stopped and the classifier is unusable (default 10000). */
  timeoutMs?: number;
  /** Passed to loadModelBundle (min_app_version check). */
  appVersion?: string;
  /** Coral device selector ('usb', 'usb:0', 'pci', ...) and probe overrides. */
  edgetpu?: EdgeTpuProbeOptions & { device?: string };
  /** The XNNPACK shim (default dist/native/libsidewalk_xnnpack.so, built by scripts/build-native.mjs). */
  xnnpackLibrary?: string;
  /** Worker script; only tests replace it (each URL gets its own shared worker). */
  workerUrl?: URL;
}

export const XNNPACK_LIBRARY = join(DIST_ROOT, 'native', 'libsidewalk_xnnpack.so');

export async function createTfliteClassifier(bundleOrDir: string | ModelBundle, options: TfliteClassifierOptions): Promise<TfliteClassifier> {
  const bundle = typeof bundleOrDir === 'string' ? await loadModelBundle(bundleOrDir, options.appVersion === undefined ? {} : { appVersion: options.appVersion }) : bundleOrDir;
  const numThreads = options.numThreads ?? RUNTIME_DEFAULTS.model.num_threads;
  let backend: TfliteDelegate = 'cpu';
  let model = bundle.model;
  let modelFile = join(bundle.dir, MODEL_FILE);
  let delegate: LoadRequest['delegate'];

  if (options.delegate === 'xnnpack') {
    const path = options.xnnpackLibrary ?? XNNPACK_LIBRARY;
    await access(path).catch((err: unknown) => {
      throw new SidewalkError(InferenceErrorCode.MODEL_DELEGATE_UNAVAILABLE, `${path}: XNNPACK delegate shim not built; run 'node scripts/build-native.mjs' (needs gcc)`, { cause: err });
    });
    // XNNPACK 2.9 leaves quantised ops to the slow reference kernels unless asked (QS8 = 1, QU8 = 2).
    const flags = { float32: 0, int8: 1, uint8: 2 }[bundle.manifest.input.dtype];
    delegate = {
      path,
      options: [
        ['num_threads', String(numThreads)],
        ['flags', String(flags)],
      ],
    };
    backend = 'xnnpack';
  } else if (options.delegate === 'edgetpu') {
    // Probe before the delegate exists anywhere: a missing libedgetpu segfaults the interpreter.
    const tpu = await probeEdgeTpu(options.edgetpu);
    if (bundle.edgetpuModel === undefined) {
      throw new SidewalkError(InferenceErrorCode.EDGETPU_UNAVAILABLE, `${join(bundle.dir, EDGETPU_MODEL_FILE)}: the bundle has no Edge TPU model (compile model.tflite with edgetpu_compiler)`);
    }
    model = bundle.edgetpuModel;
    modelFile = join(bundle.dir, EDGETPU_MODEL_FILE);
    delegate = { path: tpu.libraryPath, options: options.edgetpu?.device ? [['device', options.edgetpu.device]] : [] };
    backend = 'edgetpu';
  }

  const host = inferenceHost(options.workerUrl ?? DEFAULT_WORKER_URL);
  const modelId = await host.load({
    type: 'load',
    modelId: 0,
    model: new Uint8Array(model).buffer,
    modelFile,
    manifest: bundle.manifest,
    numThreads,
    ...(delegate ? { delegate } : {}),
  });
  log.info(`loaded ${bundle.manifest.name} ${bundle.manifest.version} (${backend}, ${numThreads} threads)`, { model: modelFile });
  return new TfliteClassifier(host, modelId, bundle.manifest, backend, modelFile, options.timeoutMs ?? 10_000);
}

const DEFAULT_WORKER_URL = new URL('./classifier-worker.js', import.meta.url);
const hosts = new Map<string, InferenceHost>();

/** The process's inference worker for `url` (one for all models; see classifier-worker.ts why). */
function inferenceHost(url: URL): InferenceHost {
  let host = hosts.get(url.href);
  if (host === undefined || host.dead !== undefined) {
    host = new InferenceHost(url);
    hosts.set(url.href, host);
  }
  return host;
}

type Reply = WorkerMessage & { type: 'result' | 'error' };

/** Owns the worker thread: routes replies by id, keeps the process alive only while models are open. */
class InferenceHost {
  readonly #worker: Worker;
  readonly #loads = new Map<number, { resolve(id: number): void; reject(err: SidewalkError): void; modelFile: string }>();
  readonly #requests = new Map<number, (reply: Reply | SidewalkError) => void>();
  #nextModelId = 1;
  #nextRequestId = 1;
  #openModels = 0;
  dead: SidewalkError | undefined;

  constructor(url: URL) {
    this.#worker = new Worker(url, { stdout: false, stderr: false });
    this.#worker.unref();
    this.#worker.on('message', (msg: WorkerMessage) => this.#onMessage(msg));
    this.#worker.on('error', (err) => this.kill(crashed(`crashed: ${err.message}`, err)));
    this.#worker.on('exit', (code) => this.kill(crashed(`exited with code ${code}`)));
  }

  load(request: LoadRequest): Promise<number> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const modelId = this.#nextModelId++;
    this.#open(+1);
    return new Promise<number>((resolve, reject) => {
      this.#loads.set(modelId, {
        resolve,
        reject: (err) => {
          this.#open(-1);
          reject(err);
        },
        modelFile: request.modelFile,
      });
      this.#worker.postMessage({ ...request, modelId }, [request.model]);
    });
  }

  unload(modelId: number): void {
    if (this.dead === undefined) this.#worker.postMessage({ type: 'unload', modelId } satisfies UnloadRequest);
    this.#open(-1);
  }

  /** Sends a classify request; `transfer` is the frame buffer. */
  classify(request: Omit<ClassifyRequest, 'id'>, transfer: boolean): { id: number; reply: Promise<Reply | SidewalkError> } {
    const id = this.#nextRequestId++;
    const reply = new Promise<Reply | SidewalkError>((resolve) => {
      if (this.dead !== undefined) {
        resolve(this.dead);
        return;
      }
      this.#requests.set(id, resolve);
      this.#worker.postMessage({ ...request, id }, transfer ? [request.data] : []);
    });
    return { id, reply };
  }

  /** Stops the worker (crash, hang): every model on it is gone and every waiter gets `reason`. */
  kill(reason: SidewalkError): void {
    if (this.dead !== undefined) return;
    this.dead = reason;
    log.error(reason.message, { code: reason.code });
    void this.#worker.terminate();
    for (const load of this.#loads.values()) load.reject(reason);
    for (const resolve of this.#requests.values()) resolve(reason);
    this.#loads.clear();
    this.#requests.clear();
  }

  #open(delta: number): void {
    this.#openModels += delta;
    if (this.#openModels > 0) this.#worker.ref();
    else this.#worker.unref();
  }

  #onMessage(msg: WorkerMessage): void {
    if (msg.type === 'loaded' || (msg.type === 'error' && msg.modelId !== undefined)) {
      const modelId = msg.modelId!;
      const load = this.#loads.get(modelId);
      this.#loads.delete(modelId);
      if (load === undefined) return;
      if (msg.type === 'loaded') load.resolve(modelId);
      else load.reject(new SidewalkError(msg.code, msg.message));
      return;
    }
    const resolve = this.#requests.get(msg.id!);
    this.#requests.delete(msg.id!);
    resolve?.(msg);
  }
}

function crashed(what: string, cause?: unknown): SidewalkError {
  return new SidewalkError(InferenceErrorCode.MODEL_WORKER_CRASHED, `inference worker ${what}`, cause === undefined ? {} : { cause });
}

/**
 * The device's classifier. Beyond the port it exposes the manifest (host tools read its input spec).
 * classify() transfers the frame's buffer to the worker when the frame owns a whole ArrayBuffer (else
 * copies it once); `frame.data` is detached meanwhile and points at the same bytes again when the
 * promise settles (unless the worker died).
 */
export class TfliteClassifier implements Classifier {
  readonly manifest: ModelManifest;
  readonly info: ModelInfo;
  readonly labels: readonly string[];
  readonly groups: { sidewalk: readonly string[]; road: readonly string[] };
  readonly #host: InferenceHost;
  readonly #modelId: number;
  readonly #modelFile: string;
  readonly #timeoutMs: number;
  #busy = false;
  #closed = false;

  constructor(host: InferenceHost, modelId: number, manifest: ModelManifest, backend: TfliteDelegate, modelFile: string, timeoutMs: number) {
    this.#host = host;
    this.#modelId = modelId;
    this.manifest = manifest;
    const { name, version, location, labels, groups, files } = manifest;
    this.info = { name, version, location, sha256: files[basename(modelFile)]?.sha256 ?? '', backend };
    this.labels = labels;
    this.groups = groups;
    this.#modelFile = modelFile;
    this.#timeoutMs = timeoutMs;
  }

  async classify(frame: Frame): Promise<TfliteClassification> {
    if (this.#closed) throw new SidewalkError(InferenceErrorCode.MODEL_CLASSIFIER_CLOSED, `classifier for ${this.#modelFile} is closed`);
    if (this.#host.dead !== undefined) throw this.#host.dead;
    if (this.#busy) {
      throw new SidewalkError(InferenceErrorCode.MODEL_CLASSIFIER_BUSY, `frame ${frame.seq}: a classify() is already in flight (one frame at a time)`);
    }
    this.#busy = true;
    const { data } = frame;
    const byteLength = data.byteLength;
    // Transfer the caller's buffer when the frame owns all of it; otherwise send one copy.
    const owns = data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && byteLength === data.buffer.byteLength;
    const buffer = owns ? (data.buffer as ArrayBuffer) : new Uint8Array(data).buffer;
    let timer: NodeJS.Timeout | undefined;
    try {
      const { reply } = this.#host.classify(
        {
          type: 'classify',
          modelId: this.#modelId,
          width: frame.width,
          height: frame.height,
          stride: frame.stride,
          format: frame.format,
          data: buffer,
          byteLength,
        },
        true,
      );
      const timeout = new Promise<SidewalkError>((resolve) => {
        timer = setTimeout(
          () => resolve(new SidewalkError(InferenceErrorCode.MODEL_INFERENCE_TIMEOUT, `${this.#modelFile}: frame ${frame.seq} took longer than ${this.#timeoutMs} ms; inference worker stopped`)),
          this.#timeoutMs,
        );
      });
      const msg = await Promise.race([reply, timeout]);
      if (msg instanceof SidewalkError) {
        if (msg.code === InferenceErrorCode.MODEL_INFERENCE_TIMEOUT) this.#host.kill(msg);
        throw msg;
      }
      if (owns && msg.data !== undefined) frame.data = new Uint8Array(msg.data, 0, byteLength);
      if (msg.type === 'error') throw new SidewalkError(msg.code, msg.message);
      return { probabilities: msg.probabilities, preprocessMs: msg.preprocessMs, inferenceMs: msg.inferenceMs };
    } finally {
      clearTimeout(timer);
      this.#busy = false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.unload(this.#modelId);
  }
}
