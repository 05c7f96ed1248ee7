/**
 * Data-pipeline settings: filter thresholds, the rider-input mapping and auto-labelling rules.
 * Defaults reproduce the legacy scripts; a YAML/JSON file (--config) overrides any subset.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
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
  };
}

export const DEFAULT_DATA_CONFIG: DataConfig = {
  labels: [...DEFAULT_LABELS],
  filters: { legacyMinSpeed: 10, minSpeedKph: 5, blurMinVariance: 20, darkMaxLuma: 40, duplicateMaxDistance: 3 },
  labelling: { riderMap: { '0': 'crosswalk', '1': 'side', '2': 'street' }, modelThreshold: 0.9, trustRiderAlone: true },
};

export function loadDataConfig(file?: string): DataConfig {
  if (!file) return structuredClone(DEFAULT_DATA_CONFIG);
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SidewalkError('DATA_CONFIG_INVALID', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const v = (value ?? {}) as Partial<{ labels: string[]; filters: Partial<DataConfig['filters']>; labelling: Partial<DataConfig['labelling']> }>;
  const cfg: DataConfig = {
    labels: v.labels ?? [...DEFAULT_DATA_CONFIG.labels],
    filters: { ...DEFAULT_DATA_CONFIG.filters, ...v.filters },
    labelling: { ...DEFAULT_DATA_CONFIG.labelling, ...v.labelling },
  };
  for (const [k, n] of Object.entries(cfg.filters)) {
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new SidewalkError('DATA_CONFIG_INVALID', `${file}: filters.${k} must be a number`);
  }
  for (const [code, label] of Object.entries(cfg.labelling.riderMap)) {
    if (!cfg.labels.includes(label)) throw new SidewalkError('DATA_CONFIG_INVALID', `${file}: labelling.riderMap.${code} = "${label}" is not one of ${cfg.labels.join(', ')}`);
  }
  return cfg;
}
