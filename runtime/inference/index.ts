/** Public surface of the inference room: bundle loading/verification, preprocessing, classifiers. */
export { InferenceErrorCode } from './errors.js';
export { loadModelBundle, parseManifest, MODEL_FILE, EDGETPU_MODEL_FILE, MANIFEST_FILE, type ModelBundle, type LoadBundleOptions } from './bundle.js';
export { Preprocessor, allocateInput, type FrameGeometry, type ModelInputArray, type ModelInputSpec } from './preprocess.js';
export {
  createTfliteClassifier,
  XNNPACK_LIBRARY,
  TfliteClassifier,
  type TfliteClassification,
  type TfliteDelegate,
  type TfliteClassifierOptions,
} from './classifier.js';
export { probeEdgeTpu, findEdgeTpuLibrary, EDGETPU_LIBRARY, type EdgeTpuInfo, type EdgeTpuProbeOptions } from './edgetpu.js';
export {
  readTfliteModelInfo,
  assertRuntimeSupports,
  BUNDLED_TFLITE_RUNTIME_VERSION,
  type TfliteModelInfo,
  type TfliteOperatorCode,
  type TfliteTensorInfo,
} from './tflite-version.js';
export type { ModelManifest, ModelInputDtype, ModelResize } from './manifest-types.js';
export { DEFAULT_LABELS, DEFAULT_GROUPS } from './manifest-types.js';
export { LEGACY_INPUT, legacyManifest } from './legacy.js';
