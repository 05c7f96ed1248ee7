/**
 * `sidewalk pipeline run`: export -> train -> evaluate -> gate -> register (-> package) for one location.
 * Exit codes: 0 registered or unchanged, 1 a step failed (its code and reason on stderr), 2 the gates
 * rejected the model (nothing registered). Every run leaves WORK/runs/<id>/run.json and a log per step.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { SidewalkError, relayedCode } from '../../lib/errors.js';
import { runPipeline } from './pipeline.js';
import type { RunRecord } from './run-record.js';

export const EXIT_REJECTED = 2;

interface RunFlags {
  location: string;
  db?: string;
  work: string;
  registry?: string;
  config?: string;
  json?: boolean;
}

function summary(r: RunRecord): string {
  const lines = [`run ${r.id} (${r.location}): ${r.status}${r.reason ? ` - ${r.reason}` : ''}`];
  for (const s of r.steps) {
    const took = s.duration_ms === undefined ? '' : ` ${(s.duration_ms / 1000).toFixed(1)} s`;
    lines.push(`  ${s.name.padEnd(9)} ${s.status.padEnd(8)}${took}${s.reason && s.status !== 'done' ? `  ${s.reason}` : ''}`);
  }
  if (r.model) lines.push(`model: ${r.model.location} ${r.model.version} (${r.model.stage})`);
  lines.push(`record: ${join(r.paths.work, 'runs', r.id, 'run.json')}`);
  return `${lines.join('\n')}\n`;
}

export function registerPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('the training pipeline: dataset export -> train -> evaluate -> gates -> registry');

  pipeline
    .command('run')
    .description(
      'Run the pipeline for one location: export the dataset snapshot (assigning new rides to train/val and freezing the test split on the first run), ' +
        'train, evaluate the new model and production on the frozen test split, apply the promotion gates, register the model as a candidate, ' +
        'and write a signed model artifact when package.key is configured.\n\n' +
        'A step whose inputs (content hashes) are unchanged since its last success is skipped. Every run leaves WORK/runs/<id>/run.json and ' +
        'WORK/runs/<id>/logs/<step>.log.\n\nExit status: 0 registered or unchanged, 1 a step failed, 2 the gates rejected the model.',
    )
    .requiredOption('--location <name>', 'location (city) to train for, e.g. LA')
    .option('--db <file>', 'dataset database (default $SIDEWALK_DATA_DB or ./sidewalk-data/dataset.db)')
    .option('--work <dir>', 'work folder for step outputs and run records', 'sidewalk-work')
    .option('--registry <dir>', 'model registry (default $SIDEWALK_REGISTRY or ./sidewalk-registry)')
    .option('--config <file>', 'pipeline settings (YAML): export, train, eval, gates, package; see host-tools/pipeline/pipeline.example.yaml')
    .option('--json', 'print run.json instead of the summary')
    .action(async (o: RunFlags) => {
      const record = await runPipeline({
        location: o.location,
        work: o.work,
        ...(o.db ? { db: o.db } : {}),
        ...(o.registry ? { registry: o.registry } : {}),
        ...(o.config ? { configFile: o.config } : {}),
      });
      process.stdout.write(o.json ? `${JSON.stringify(record, null, 2)}\n` : summary(record));
      if (record.status === 'rejected') process.exitCode = EXIT_REJECTED;
      if (record.status === 'failed') {
        const failed = record.steps.find((s) => s.status === 'failed');
        throw new SidewalkError(relayedCode(failed?.error?.code ?? '', 'PIPELINE_FAILED'), `pipeline step ${failed?.name ?? '?'} failed: ${failed?.error?.message ?? record.reason ?? ''}`);
      }
    });
}
