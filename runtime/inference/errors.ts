/**
 * Error codes of the inference room. Thrown as SidewalkError(code, message); OTA health checks and
 * rollback decisions key on the code, the message names the file, field or byte at fault.
 * INFERENCE_ERRORS says what each code means and what to do.
 */
import type { ErrorCatalogue } from '../../lib/errors.js';

export const InferenceErrorCode = {
  MODEL_FILE_MISSING: 'MODEL_FILE_MISSING',
  MODEL_MANIFEST_INVALID: 'MODEL_MANIFEST_INVALID',
  MODEL_SHA_MISMATCH: 'MODEL_SHA_MISMATCH',
  MODEL_CORRUPT: 'MODEL_CORRUPT',
  MODEL_RUNTIME_TOO_OLD: 'MODEL_RUNTIME_TOO_OLD',
  MODEL_APP_TOO_OLD: 'MODEL_APP_TOO_OLD',
  MODEL_INPUT_MISMATCH: 'MODEL_INPUT_MISMATCH',
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  MODEL_FRAME_INVALID: 'MODEL_FRAME_INVALID',
  MODEL_INFERENCE_FAILED: 'MODEL_INFERENCE_FAILED',
  MODEL_INFERENCE_TIMEOUT: 'MODEL_INFERENCE_TIMEOUT',
  MODEL_WORKER_CRASHED: 'MODEL_WORKER_CRASHED',
  MODEL_CLASSIFIER_BUSY: 'MODEL_CLASSIFIER_BUSY',
  MODEL_CLASSIFIER_CLOSED: 'MODEL_CLASSIFIER_CLOSED',
  MODEL_DELEGATE_UNAVAILABLE: 'MODEL_DELEGATE_UNAVAILABLE',
  EDGETPU_UNAVAILABLE: 'EDGETPU_UNAVAILABLE',
} as const;

export type InferenceErrorCode = (typeof InferenceErrorCode)[keyof typeof InferenceErrorCode];

const REINSTALL = 'Install the model bundle again (`sidewalk models bundle`, or the model artifact over OTA).';

export const INFERENCE_ERRORS = {
  MODEL_FILE_MISSING: {
    summary: 'The model bundle folder, its manifest.json or a file the manifest lists does not exist.',
    action: 'Check --model or model.bundle in the runtime config; install the bundle again if files are missing.',
  },
  MODEL_MANIFEST_INVALID: {
    summary: "The bundle's manifest.json is not JSON or violates the sidewalk-model/1 schema (every violation is listed).",
    action: 'Rebuild the bundle with `sidewalk train` (or fix the listed fields).',
  },
  MODEL_SHA_MISMATCH: {
    summary: "A bundle file's sha256 or size differs from the manifest: the bundle is damaged or was edited.",
    action: REINSTALL,
  },
  MODEL_CORRUPT: {
    summary: 'model.tflite is not a well-formed TFLite flatbuffer (the message names the byte offset).',
    action: REINSTALL,
  },
  MODEL_RUNTIME_TOO_OLD: {
    summary: 'The model needs a newer TFLite runtime than the one bundled with this app.',
    action: 'Update the app first, or export the model with the TensorFlow version the trainer pins.',
  },
  MODEL_APP_TOO_OLD: {
    summary: "The bundle's min_app_version is newer than this app.",
    action: 'Update the app (an app artifact) before installing this model.',
  },
  MODEL_INPUT_MISMATCH: {
    summary: "The model's real input or output tensors disagree with the manifest.",
    action: 'Rebuild the bundle: the manifest must describe the model it ships.',
  },
  MODEL_LOAD_FAILED: {
    summary: 'The TFLite interpreter could not be created (unsupported op, delegate failure, ...).',
    action: "Run with --verbose for the interpreter's reason; try model.delegate cpu.",
  },
  MODEL_FRAME_INVALID: {
    summary: 'A camera frame does not match what the preprocessing was built for (size, stride or format).',
    action: "Make camera.width/height and the camera's output agree (runtime/camera/README.md).",
  },
  MODEL_INFERENCE_FAILED: {
    summary: 'Invoking the interpreter on a frame failed.',
    action: 'Run with --verbose for the reason; the limiter stays at its fail-safe meanwhile.',
  },
  MODEL_INFERENCE_TIMEOUT: {
    summary: 'One classification took longer than its timeout; the inference worker was stopped.',
    action: 'Check the CPU load and the model size; the service restarts and the limiter holds its fail-safe meanwhile.',
  },
  MODEL_WORKER_CRASHED: {
    summary: 'The inference worker thread died; the classifier cannot be used and is recreated.',
    action: 'Run with --verbose for the reason; a repeat points to a broken model or native library.',
  },
  MODEL_CLASSIFIER_BUSY: {
    summary: 'classify() was called while another call was still in flight (a bug in the caller).',
    action: 'Report it: the pipeline classifies one frame at a time.',
  },
  MODEL_CLASSIFIER_CLOSED: {
    summary: 'classify() was called after the classifier was closed (a bug, or during shutdown).',
    action: 'Nothing to repair during shutdown; otherwise report it.',
  },
  MODEL_DELEGATE_UNAVAILABLE: {
    summary: 'The XNNPACK delegate shim (dist/native/libsidewalk_xnnpack.so) is not built.',
    action: 'Run `npm run build` (it builds the shim), or set model.delegate cpu.',
  },
  EDGETPU_UNAVAILABLE: {
    summary: 'libedgetpu.so.1 (the Coral Edge TPU runtime) is not installed, so the Edge TPU delegate cannot be used.',
    action: 'Install libedgetpu1-std, or set model.delegate cpu with a CPU model.',
  },
} as const satisfies Record<InferenceErrorCode, { summary: string; action: string }> & ErrorCatalogue;
