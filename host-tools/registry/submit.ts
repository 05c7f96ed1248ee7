/**
 * The one way a new model enters the registry: gates first, then registration as a candidate.
 * Production's figures come from a report on the SAME dataset snapshot and split (the pipeline
 * re-evaluates production on the current export); without one, production's stored report is used and
 * the dataset gate refuses the comparison if it was made on another snapshot.
 */
import { createLogger } from '../../lib/log.js';
import type { EvalReport } from './eval-report.js';
import { checkGates, type GateConfig, type GateResult } from './gates.js';
import type { RegisteredModel, Registry } from './registry.js';

const log = createLogger('registry:gates');

export interface SubmitInput {
  location: string;
  bundleDir: string;
  report: EvalReport;
  /** Production's report on the candidate's dataset snapshot; default: production's registered metrics. */
  productionReport?: EvalReport | null;
  gates: GateConfig;
  datasetHash?: string | null;
  codeRevision?: string | null;
  trainParams?: Record<string, unknown>;
}

export interface SubmitResult {
  gates: GateResult;
  /** The new candidate, or null when a gate failed (nothing was registered). */
  model: RegisteredModel | null;
}

export async function submitCandidate(registry: Registry, input: SubmitInput): Promise<SubmitResult> {
  const production = registry.current(input.location, 'production');
  const productionReport = production ? (input.productionReport ?? production.metrics) : null;
  const gates = checkGates(input.location, input.report, productionReport, input.gates);
  if (!gates.passed) {
    log.warn(`${input.location} ${input.report.model.version} rejected: ${gates.failures.map((f) => f.code).join(', ')}`);
    return { gates, model: null };
  }
  const model = await registry.register({
    bundleDir: input.bundleDir, report: input.report, gates,
    ...(input.datasetHash !== undefined ? { datasetHash: input.datasetHash } : {}),
    ...(input.codeRevision !== undefined ? { codeRevision: input.codeRevision } : {}),
    ...(input.trainParams ? { trainParams: input.trainParams } : {}),
  });
  return { gates, model };
}
