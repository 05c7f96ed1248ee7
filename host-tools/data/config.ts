/**
 * Data-pipeline settings: filter thresholds, the rider-input mapping and auto-labelling rules.
 * Defaults reproduce the legacy scripts; a YAML/JSON file (--config) overrides any subset, validated
 * by one JSON Schema like the runtime, OTA and pipeline configs (lib/config-file.ts).
 */
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../../lib/config-file.js';
import { SidewalkError } from '../../lib/errors.js';
import { DEFAULT_LABELS } from '../../runtime/inference/manifest-types.js';

export interface DataConfig {
  /** Class names, in the order used for model scores when a ride does not say otherwise. */
  labels: string[];
  filters: {
    /** Legacy rides: frames below this legacy-scale speed are flagged low_speed (legacy scripts used 10). */
    legacyMinSpeed: number;
    /** New-format rides and videos: frames below this speed (km/h) are flagged low_speed. */
    minSpeedKph: number;
    /** Variance of the Laplacian of the 160x120 grey frame below this => blurry. */
    blurMinVariance: number;
    /** Mean luma (0..255) below this => dark. */
    darkMaxLuma: number;
    /**
     * dHash Hamming distance at or below this: to the previous kept frame of the ride => near_duplicate;
     * to any frame of an earlier ride of the same location => duplicate_of_other_ride.
     */
    duplicateMaxDistance: number;
  };
  labelling: {
    /** Rider joystick/button code -> class name (legacy: 0 intersection/crosswalk, 1 sidewalk, 2 street). */
    riderMap: Record<string, string>;
    /** A model's top score at or above this labels a frame the rider did not label. */
    modelThreshold: number;
    /** Keep a rider's label when no model scores exist (legacy rides); false sends such frames to review. */
    trustRiderAlone: boolean;
    /**
     * A model's label is a proposal: kept apart from final labels (so never exported for training)
     * until a person accepts it in review, or until this is true (`data label --accept-model-labels`).
     */
    acceptModelLabels: boolean;
    /** Share (0..1) of model-proposed labels sampled into the review queue, to see how good they are. */
    modelReviewShare: number;
  };
}

export const DEFAULT_DATA_CONFIG: DataConfig = {
  labels: [...DEFAULT_LABELS],
  filters: { legacyMinSpeed: 10, minSpeedKph: 5, blurMinVariance: 20, darkMaxLuma: 40, duplicateMaxDistance: 3 },
  labelling: { riderMap: { '0': 'crosswalk', '1': 'side', '2': 'street' }, modelThreshold: 0.9, trustRiderAlone: true, acceptModelLabels: false, modelReviewShare: 0.2 },
};

const num = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'number', description, ...extra });

/** Every key, its type and default: unknown keys (typos such as `labeling:`) are refused like in every other config. */
const DATA_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    labels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 2, default: DEFAULT_DATA_CONFIG.labels },
    filters: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        legacyMinSpeed: num('legacy-scale speed below which a frame is low_speed', { default: DEFAULT_DATA_CONFIG.filters.legacyMinSpeed }),
        minSpeedKph: num('km/h below which a frame is low_speed', { default: DEFAULT_DATA_CONFIG.filters.minSpeedKph }),
        blurMinVariance: num('Laplacian variance below which a frame is blurry', { minimum: 0, default: DEFAULT_DATA_CONFIG.filters.blurMinVariance }),
        darkMaxLuma: num('mean luma below which a frame is dark', { minimum: 0, maximum: 255, default: DEFAULT_DATA_CONFIG.filters.darkMaxLuma }),
        duplicateMaxDistance: { type: 'integer', minimum: 0, maximum: 64, default: DEFAULT_DATA_CONFIG.filters.duplicateMaxDistance },
      },
    },
    labelling: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        riderMap: { type: 'object', additionalProperties: { type: 'string' }, default: DEFAULT_DATA_CONFIG.labelling.riderMap },
        modelThreshold: num('top score at which a model proposes a label', { minimum: 0, maximum: 1, default: DEFAULT_DATA_CONFIG.labelling.modelThreshold }),
        trustRiderAlone: { type: 'boolean', default: DEFAULT_DATA_CONFIG.labelling.trustRiderAlone },
        acceptModelLabels: { type: 'boolean', default: DEFAULT_DATA_CONFIG.labelling.acceptModelLabels },
        modelReviewShare: num('share of model-proposed labels sampled into the review queue', { minimum: 0, maximum: 1, default: DEFAULT_DATA_CONFIG.labelling.modelReviewShare }),
      },
    },
  },
};

const validate = compileConfigSchema<DataConfig>(DATA_CONFIG_SCHEMA);

/** The defaults, or a YAML/JSON file over them: DATA_CONFIG_UNREADABLE, or DATA_CONFIG_INVALID naming every bad key. */
export function loadDataConfig(file?: string): DataConfig {
  if (!file) return structuredClone(DEFAULT_DATA_CONFIG);
  const cfg = validateConfigObject(validate, readYamlFile(file, 'DATA_CONFIG_UNREADABLE', 'DATA_CONFIG_INVALID'), file, 'DATA_CONFIG_INVALID');
  for (const [code, label] of Object.entries(cfg.labelling.riderMap)) {
    if (!cfg.labels.includes(label)) throw new SidewalkError('DATA_CONFIG_INVALID', `${file}: labelling.riderMap.${code} = "${label}" is not one of ${cfg.labels.join(', ')}`);
  }
  return cfg;
}
