/**
 * The pipeline's evaluation: the eval room's evaluateBundle (device preprocessing and TFLite runtime)
 * on the export's frozen test split, writing OUT/report.json. The gates read that file back through
 * the registry's report reader, so they see exactly what was written.
 */
import { join } from 'node:path';
import { evaluateBundle } from '../eval/evaluate.js';
import { readEvalReport, type EvalReport } from '../registry/eval-report.js';

export interface EvaluateOptions {
  bundleDir: string;
  dataDir: string;
  outDir: string;
  delegate?: 'xnnpack' | 'cpu';
  log: (line: string) => void;
}

export const EVAL_SPLIT = 'test';

export async function evaluateModel(o: EvaluateOptions): Promise<{ report: EvalReport; file: string }> {
  await evaluateBundle({
    model: o.bundleDir,
    data: o.dataDir,
    split: EVAL_SPLIT,
    outDir: o.outDir,
    onProgress: o.log,
    ...(o.delegate ? { delegate: o.delegate } : {}),
  });
  const file = join(o.outDir, 'report.json');
  return { report: await readEvalReport(file), file };
}
