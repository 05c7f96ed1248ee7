/**
 * The evaluation report (`sidewalk eval` writes it as report.json, format "sidewalk-eval/1"). The registry
 * and the gates read the JSON file rather than the eval module's types, so they only depend on this
 * fixed shape; `readEvalReport` checks the fields they use and names the first one that is wrong.
 */
import { readFile } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';

export interface EvalReport {
  format: 'sidewalk-eval/1';
  model: { name: string; version: string; location: string; sha256: string };
  dataset: { hash: string; split: string; count: number };
  accuracy: number;
  per_class: Record<string, { precision: number; recall: number; support: number }>;
  confusion: { labels: string[]; matrix: number[][] };
  /** `*_frames`: how many frames each rate is over (0: the rate is "no data", shown as n/a). */
  safety: { sidewalk_recall: number; road_false_limit_rate: number; sidewalk_frames?: number; road_frames?: number };
  per_location?: Record<string, unknown>;
  latency_ms?: { mean: number; p50: number; p99: number };
  parity?: Record<string, unknown>;
}

/** A rate for people: "93.10%", or "n/a (0 frames)" when it is over no frames at all. */
export function rateText(rate: number, frames?: number, digits = 2): string {
  return frames === 0 ? 'n/a (0 frames)' : `${(rate * 100).toFixed(digits)}%`;
}

const isRate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Checks a parsed report; `source` names the file in the error. */
export function checkEvalReport(value: unknown, source: string): EvalReport {
  const r = value as Partial<EvalReport> | null;
  const fail = (field: string, why: string): never => {
    throw new SidewalkError('REGISTRY_REPORT_INVALID', `${source}: ${field} ${why}`, { details: { file: source, field } });
  };
  if (!r || typeof r !== 'object') return fail('(root)', 'must be a JSON object');
  if (r.format !== 'sidewalk-eval/1') fail('format', `must be "sidewalk-eval/1", got ${JSON.stringify(r.format)}`);
  for (const f of ['name', 'version', 'location', 'sha256'] as const) if (!isText(r.model?.[f])) fail(`model.${f}`, 'must be a non-empty string');
  if (!isText(r.dataset?.hash)) fail('dataset.hash', 'must be a non-empty string');
  if (!isText(r.dataset?.split)) fail('dataset.split', 'must be a non-empty string');
  if (!Number.isInteger(r.dataset?.count) || r.dataset!.count < 0) fail('dataset.count', 'must be a whole number');
  if (!isRate(r.accuracy)) fail('accuracy', 'must be a number in [0, 1]');
  if (!isRate(r.safety?.sidewalk_recall)) fail('safety.sidewalk_recall', 'must be a number in [0, 1]');
  if (!isRate(r.safety?.road_false_limit_rate)) fail('safety.road_false_limit_rate', 'must be a number in [0, 1]');
  return r as EvalReport;
}

export async function readEvalReport(file: string): Promise<EvalReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SidewalkError('REGISTRY_REPORT_INVALID', `${file}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SidewalkError('REGISTRY_REPORT_INVALID', `${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
  return checkEvalReport(value, file);
}
