/** Hand-written eval reports and fixture bundles for the registry and gate tests. */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvalReport } from '../../../host-tools/registry/eval-report.js';
import { REPO_ROOT } from '../../helpers/paths.js';

export const FIXTURE_BUNDLE = join(REPO_ROOT, 'test', 'fixtures', 'models', 'float');
export const DATASET_HASH = 'sha256:frozen-la-test-snapshot';

export interface ReportFigures {
  accuracy: number;
  sidewalkRecall: number;
  roadFalseLimit: number;
}

/** A report as `sidewalk eval` writes it, with the figures the gates read set by hand. */
export function report(version: string, f: ReportFigures, opts: { location?: string; sha256?: string; hash?: string; split?: string } = {}): EvalReport {
  const labels = ['bike_lane', 'crosswalk', 'side', 'street'];
  return {
    format: 'sidewalk-eval/1',
    model: { name: 'la', version, location: opts.location ?? 'LA', sha256: opts.sha256 ?? `sha-${version}` },
    dataset: { hash: opts.hash ?? DATASET_HASH, split: opts.split ?? 'test', count: 200 },
    accuracy: f.accuracy,
    per_class: Object.fromEntries(labels.map((l) => [l, { precision: f.accuracy, recall: f.accuracy, support: 50 }])),
    confusion: { labels, matrix: labels.map((_, i) => labels.map((__, j) => (i === j ? 50 : 0))) },
    safety: { sidewalk_recall: f.sidewalkRecall, road_false_limit_rate: f.roadFalseLimit },
    per_location: {},
    latency_ms: { mean: 1, p50: 1, p99: 2 },
  };
}

/** Copies the float fixture bundle as LOCATION VERSION; returns its folder and model.tflite sha256. */
export async function fixtureBundle(dir: string, location: string, version: string): Promise<{ dir: string; modelSha: string }> {
  await cp(FIXTURE_BUNDLE, dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
    version: string;
    location: string;
    name: string;
    demo_only?: boolean;
    files: Record<string, { sha256: string }>;
  };
  Object.assign(manifest, { version, location, name: `${location.toLowerCase()}-ground` });
  delete manifest.demo_only; // the fixture is a demo model; the registry refuses those
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir, modelSha: manifest.files['model.tflite']!.sha256 };
}
