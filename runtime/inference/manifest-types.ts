/**
 * The model bundle manifest (`manifest.json` beside `model.tflite`): the single source of truth for
 * preprocessing. Training writes it, evaluation and the device read it. On disk it is JSON with the
 * exact field names below (snake_case, shared with the Python trainer).
 */
export type ModelInputDtype = 'float32' | 'uint8' | 'int8';
export type ModelResize = 'bilinear' | 'area';

export interface ModelManifest {
  /** Always "sidewalk-model/1" for this layout. */
  format: 'sidewalk-model/1';
  name: string;
  /** Semantic version, e.g. "1.2.0". */
  version: string;
  /** City/location this model is trained for, e.g. "LA", "Denver", "demo". */
  location: string;
  /** Class names in the model's output order. */
  labels: string[];
  /** Class groups the decision engine averages; every name must be in `labels`. */
  groups: { sidewalk: string[]; road: string[] };
  input: {
    width: number;
    height: number;
    dtype: ModelInputDtype;
    color_order: 'rgb' | 'bgr';
    /** Real-valued input = pixel(0..255) * scale + offset; e.g. [-1,1] is {scale: 1/127.5, offset: -1}. */
    normalization: { scale: number; offset: number };
    /** For uint8/int8 inputs: q = round(real / scale) + zero_point, clamped to the dtype's range. */
    quantization?: { scale: number; zero_point: number };
    /**
     * Optional first step: the whole frame resized to exactly this size (8-bit, with `resize`'s method)
     * before the crop, as the legacy Pi resized every camera frame to 640x480 first.
     */
    pre_resize?: { width: number; height: number };
    /** Region of the camera frame (or of the pre-resized frame) fed to the model, as fractions (0..1). */
    crop: { x: number; y: number; width: number; height: number };
    /**
     * bilinear: antialiased triangle filter (preprocess.ts). area: OpenCV's INTER_AREA on 8-bit images,
     * every stage rounded to 8 bits as cv2.resize does (what the legacy models were trained and served with).
     */
    resize: ModelResize;
  };
  /** Output tensor: probabilities (softmax) in `labels` order; quantised outputs are dequantised with this. */
  output?: { quantization?: { scale: number; zero_point: number } };
  /** sha256 (hex) and size of every file of the bundle, by file name. model.tflite is required. */
  files: Record<string, { sha256: string; bytes: number }>;
  /** Oldest app (runtime) version that can run this bundle. */
  min_app_version?: string;
  /** Evaluation metrics of this model (free-form, written by `sidewalk eval`). */
  metrics?: Record<string, unknown>;
  /** Content hash of the dataset snapshot the model was trained on. */
  dataset_hash?: string;
  trainer_version?: string;
  created_at?: string;
  /** True for demo models that must never be deployed for road use. */
  demo_only?: boolean;
}

/** The legacy class order and groups (README.md; the legacy scooter's cnn.py). */
export const DEFAULT_LABELS = ['bike_lane', 'crosswalk', 'side', 'street'] as const;
export const DEFAULT_GROUPS = { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] } as const;
