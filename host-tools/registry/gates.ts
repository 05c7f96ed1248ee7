/**
 * Promotion gates: may a newly trained model become a candidate for its location? Pure function of two
 * eval reports (the new model's and production's, both on the location's frozen test split) and the
 * configured limits. Every failed gate is reported with a stable code; the caller registers nothing
 * unless `passed`.
 */
import { rateText, type EvalReport } from './eval-report.js';
import { schemaDefaults } from '../../lib/schema-defaults.js';
import { PIPELINE_CONFIG_SCHEMA } from '../pipeline/config.js';

export const GateCode = {
  /** The candidate was not evaluated on the test split, or not for this location. */
  GATE_WRONG_EVALUATION: 'GATE_WRONG_EVALUATION',
  /** Production's report names another dataset snapshot or split: the numbers are not comparable. */
  GATE_DATASET_MISMATCH: 'GATE_DATASET_MISMATCH',
  GATE_ACCURACY_REGRESSION: 'GATE_ACCURACY_REGRESSION',
  GATE_SIDEWALK_RECALL_FLOOR: 'GATE_SIDEWALK_RECALL_FLOOR',
  /** The split has no sidewalk frames: recall cannot be judged (not a bad model, missing data). */
  GATE_NO_SIDEWALK_FRAMES: 'GATE_NO_SIDEWALK_FRAMES',
  GATE_ROAD_FALSE_LIMIT_CEILING: 'GATE_ROAD_FALSE_LIMIT_CEILING',
} as const;
export type GateCode = (typeof GateCode)[keyof typeof GateCode];

export interface GateConfig {
  /** Largest accepted drop of accuracy against production (0.01 = one percentage point). */
  accuracyTolerance: number;
  /** Sidewalk-group recall must be at least this (a missed sidewalk is a scooter at full speed on it). */
  sidewalkRecallMin: number;
  /** Road frames wrongly limited must be at most this share. */
  roadFalseLimitMax: number;
}

/** The pipeline config's gate defaults (host-tools/pipeline/config.ts holds the numbers). */
export const DEFAULT_GATES = schemaDefaults(PIPELINE_CONFIG_SCHEMA.properties.gates) as Readonly<GateConfig>;

export interface GateFailure {
  code: GateCode;
  message: string;
}

export interface GateResult {
  passed: boolean;
  failures: GateFailure[];
  location: string;
  config: GateConfig;
  candidate: { version: string; sha256: string; accuracy: number; sidewalk_recall: number; road_false_limit_rate: number; sidewalk_frames?: number; road_frames?: number };
  /** Production's figures on the same split, or null when the location has no production model. */
  production: { version: string; sha256: string; accuracy: number } | null;
  dataset: { hash: string; split: string };
}

// Rates are ratios of counts: compare with a little slack so 0.9 vs 9/10 is not a failure.
const EPS = 1e-9;
const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;

export function checkGates(location: string, candidate: EvalReport, production: EvalReport | null, config: GateConfig, split = 'test'): GateResult {
  const failures: GateFailure[] = [];
  const fail = (code: GateCode, message: string): void => {
    failures.push({ code, message });
  };
  const c = candidate;
  if (c.dataset.split !== split) fail(GateCode.GATE_WRONG_EVALUATION, `the candidate was evaluated on split "${c.dataset.split}", gates need "${split}"`);
  if (c.model.location !== location) fail(GateCode.GATE_WRONG_EVALUATION, `the candidate is a model for "${c.model.location}", not "${location}"`);
  if (production) {
    const p = production;
    if (p.dataset.hash !== c.dataset.hash || p.dataset.split !== c.dataset.split) {
      fail(
        GateCode.GATE_DATASET_MISMATCH,
        `production ${p.model.version} was evaluated on ${p.dataset.hash} (${p.dataset.split}), ` + `the candidate on ${c.dataset.hash} (${c.dataset.split}); evaluate both on the same snapshot`,
      );
    } else if (p.accuracy - c.accuracy > config.accuracyTolerance + EPS) {
      fail(
        GateCode.GATE_ACCURACY_REGRESSION,
        `accuracy ${pct(c.accuracy)} is ${pct(p.accuracy - c.accuracy)} below production ` + `${p.model.version} (${pct(p.accuracy)}); tolerance ${pct(config.accuracyTolerance)}`,
      );
    }
  }
  if (c.safety.sidewalk_frames === 0) {
    fail(
      GateCode.GATE_NO_SIDEWALK_FRAMES,
      `sidewalk recall n/a (0 frames): the ${c.dataset.split} split has no sidewalk frames, so the model cannot be judged; ` +
        'add sidewalk rides to it (`sidewalk data split --unfreeze`, then `--reset`)',
    );
  } else if (c.safety.sidewalk_recall + EPS < config.sidewalkRecallMin) {
    fail(GateCode.GATE_SIDEWALK_RECALL_FLOOR, `sidewalk recall ${pct(c.safety.sidewalk_recall)} is below the floor ${pct(config.sidewalkRecallMin)}`);
  }
  if (c.safety.road_false_limit_rate > config.roadFalseLimitMax + EPS) {
    fail(GateCode.GATE_ROAD_FALSE_LIMIT_CEILING, `road false-limit rate ${pct(c.safety.road_false_limit_rate)} is above the ceiling ${pct(config.roadFalseLimitMax)}`);
  }
  return {
    passed: failures.length === 0,
    failures,
    location,
    config,
    candidate: {
      version: c.model.version,
      sha256: c.model.sha256,
      accuracy: c.accuracy,
      sidewalk_recall: c.safety.sidewalk_recall,
      road_false_limit_rate: c.safety.road_false_limit_rate,
      ...(c.safety.sidewalk_frames !== undefined ? { sidewalk_frames: c.safety.sidewalk_frames } : {}),
      ...(c.safety.road_frames !== undefined ? { road_frames: c.safety.road_frames } : {}),
    },
    production: production ? { version: production.model.version, sha256: production.model.sha256, accuracy: production.accuracy } : null,
    dataset: { hash: c.dataset.hash, split: c.dataset.split },
  };
}

export function formatGateResult(r: GateResult): string {
  if (r.passed) {
    const vs = r.production ? ` (production ${r.production.version}: ${pct(r.production.accuracy)})` : ' (no production model to compare with)';
    return (
      `gates passed: accuracy ${pct(r.candidate.accuracy)}${vs}, sidewalk recall ${rateText(r.candidate.sidewalk_recall, r.candidate.sidewalk_frames)}, ` +
      `road false-limit ${rateText(r.candidate.road_false_limit_rate, r.candidate.road_frames)}`
    );
  }
  return `gates failed:\n${r.failures.map((f) => `  ${f.code}: ${f.message}`).join('\n')}`;
}
