/**
 * Error codes of the inference room. Thrown as SidewalkError(code, message); OTA health checks and
 * rollback decisions key on the code, the message names the file, field or byte at fault.
 */
export const InferenceErrorCode = {
  /** The bundle directory, manifest.json or a file it lists does not exist. */
  MODEL_FILE_MISSING: 'MODEL_FILE_MISSING',
  /** manifest.json is not JSON or violates the sidewalk-model/1 schema (every violation listed). */
  MODEL_MANIFEST_INVALID: 'MODEL_MANIFEST_INVALID',
  /** A bundle file's sha256 or size differs from the manifest. */
  MODEL_SHA_MISMATCH: 'MODEL_SHA_MISMATCH',
  /** model.tflite is not a well-formed TFLite flatbuffer (names the byte offset). */
  MODEL_CORRUPT: 'MODEL_CORRUPT',
  /** The model needs a newer TFLite runtime than the bundled one. */
  MODEL_RUNTIME_TOO_OLD: 'MODEL_RUNTIME_TOO_OLD',
  /** The bundle's min_app_version is newer than this app. */
  MODEL_APP_TOO_OLD: 'MODEL_APP_TOO_OLD',
  /** The model's real input/output tensors disagree with the manifest. */
  MODEL_INPUT_MISMATCH: 'MODEL_INPUT_MISMATCH',
  /** The interpreter could not be created (unsupported op, delegate failure, ...). */
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  /** A frame does not match what the preprocessing tables were built for. */
  MODEL_FRAME_INVALID: 'MODEL_FRAME_INVALID',
  /** Invoking the interpreter failed. */
  MODEL_INFERENCE_FAILED: 'MODEL_INFERENCE_FAILED',
  /** One classify() took longer than its timeout; the worker is stopped. */
  MODEL_INFERENCE_TIMEOUT: 'MODEL_INFERENCE_TIMEOUT',
  /** The inference worker thread died; the classifier is unusable and must be recreated. */
  MODEL_WORKER_CRASHED: 'MODEL_WORKER_CRASHED',
  /** classify() after close(), or a second classify() while one is in flight. */
  MODEL_CLASSIFIER_BUSY: 'MODEL_CLASSIFIER_BUSY',
  MODEL_CLASSIFIER_CLOSED: 'MODEL_CLASSIFIER_CLOSED',
  /** The XNNPACK delegate shim (dist/native/libsidewalk_xnnpack.so) is not built. */
  MODEL_DELEGATE_UNAVAILABLE: 'MODEL_DELEGATE_UNAVAILABLE',
  /** libedgetpu.so.1 (Coral runtime) is not installed; the delegate is never passed without it. */
  EDGETPU_UNAVAILABLE: 'EDGETPU_UNAVAILABLE',
} as const;

export type InferenceErrorCode = (typeof InferenceErrorCode)[keyof typeof InferenceErrorCode];
