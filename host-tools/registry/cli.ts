/**
 * `sidewalk models ...`: list, show, promote, retire and fetch registered models. New models enter
 * through `sidewalk pipeline run` (gates, then registration as a candidate).
 */
import { Option, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { rateText } from './eval-report.js';
import { defaultRegistryDir, Registry, type RegisteredModel } from './registry.js';

interface RegistryOpts {
  registry?: string;
}

/** `readOnly`: list, show and bundle never create or change a registry. */
function withRegistry<T>(o: RegistryOpts, fn: (r: Registry) => Promise<T> | T, options: { readOnly?: boolean } = {}): Promise<T> {
  const registry = Registry.open(o.registry ?? defaultRegistryDir(), { create: false, ...options });
  return Promise.resolve()
    .then(() => fn(registry))
    .finally(() => registry.close());
}

function registryOption(cmd: Command): Command {
  return cmd.option('--registry <dir>', 'registry folder (default $SIDEWALK_REGISTRY or ./sidewalk-registry)');
}

const pct = (v: number | undefined, frames?: number): string => (typeof v === 'number' ? rateText(v, frames, 1) : '-');

function summary(m: RegisteredModel): Record<string, unknown> {
  return {
    location: m.location,
    name: m.name,
    version: m.version,
    stage: m.stage,
    registered_at: m.registeredAt,
    stage_changed_at: m.stageChangedAt,
    accuracy: m.metrics.accuracy,
    sidewalk_recall: m.metrics.safety.sidewalk_recall,
    road_false_limit_rate: m.metrics.safety.road_false_limit_rate,
    dataset_hash: m.datasetHash,
    code_revision: m.codeRevision,
    manifest_sha256: m.manifestSha256,
    artifact_sha256: m.artifact?.sha256 ?? null,
  };
}

function formatTable(models: RegisteredModel[]): string {
  const rows = [
    ['LOCATION', 'VERSION', 'NAME', 'STAGE', 'ACCURACY', 'SIDEWALK RECALL', 'ROAD FALSE LIMIT', 'REGISTERED'],
    ...models.map((m) => [
      m.location,
      m.version,
      m.name,
      m.stage,
      pct(m.metrics.accuracy),
      pct(m.metrics.safety.sidewalk_recall, m.metrics.safety.sidewalk_frames),
      pct(m.metrics.safety.road_false_limit_rate, m.metrics.safety.road_frames),
      m.registeredAt.slice(0, 19),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

function formatModel(m: RegisteredModel, history: ReturnType<Registry['history']>): string {
  const lines = [
    `${m.location} ${m.version} (${m.name}): ${m.stage} since ${m.stageChangedAt}`,
    `  registered:     ${m.registeredAt}`,
    `  dataset:        ${m.datasetHash ?? '-'}`,
    `  code revision:  ${m.codeRevision ?? '-'}`,
    `  training run:   ${typeof m.trainParams.run_id === 'string' ? m.trainParams.run_id : '-'}${typeof m.trainParams.registered_by_run === 'string' && m.trainParams.registered_by_run !== m.trainParams.run_id ? ` (registered by run ${m.trainParams.registered_by_run})` : ''}`,
    `  training:       ${JSON.stringify(m.trainParams)}`,
    `  evaluation:     ${m.metrics.dataset.split} split of ${m.metrics.dataset.hash} (${m.metrics.dataset.count} images): accuracy ${pct(m.metrics.accuracy)}, ` +
      `sidewalk recall ${pct(m.metrics.safety.sidewalk_recall, m.metrics.safety.sidewalk_frames)}, road false-limit ${pct(m.metrics.safety.road_false_limit_rate, m.metrics.safety.road_frames)}`,
    `  gates:          ${m.gates ? (m.gates.production ? `passed against production ${m.gates.production.version}` : 'passed (no production to compare with)') : '-'}`,
    `  artifact:       ${m.artifact ? `${m.artifact.fileName} sha256 ${m.artifact.sha256}` : '-'}`,
    '  files:',
    ...m.files.map((f) => `    ${f.name}  ${f.bytes} bytes  sha256 ${f.sha256}`),
    '  history:',
    ...history.map((e) => `    ${e.at}  ${e.from ?? '-'} -> ${e.to}  ${e.reason}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerRegistryCommands(program: Command): void {
  const models = program
    .command('models')
    .description(
      'the model registry: every model per location and version with its lineage, files and stage ' +
        '(candidate -> canary -> production -> retired); new models arrive through `sidewalk pipeline run`',
    );

  registryOption(
    models
      .command('list')
      .description('registered models, by location and version')
      .option('--location <name>', 'only this location')
      .addOption(new Option('--stage <stage>', 'only this stage').choices(['candidate', 'canary', 'production', 'retired']))
      .option('--json', 'machine-readable output'),
  ).action(async (o: RegistryOpts & { location?: string; stage?: RegisteredModel['stage']; json?: boolean }) => {
    const dir = o.registry ?? defaultRegistryDir();
    // A fresh setup has no registry yet: that is an empty list, not an error.
    const list =
      existsSync(join(dir, 'registry.db')) || (existsSync(dir) && !statSync(dir).isDirectory())
        ? await withRegistry(o, (r) => r.list({ ...(o.location ? { location: o.location } : {}), ...(o.stage ? { stage: o.stage } : {}) }), { readOnly: true })
        : [];
    process.stdout.write(o.json ? `${JSON.stringify(list.map(summary), null, 2)}\n` : list.length ? formatTable(list) : 'no models registered\n');
  });

  registryOption(
    models
      .command('show')
      .description('one model: stage and history, lineage (dataset, code revision, training parameters), evaluation, files')
      .argument('<model>', 'location or model name')
      .argument('<version>', 'model version')
      .option('--json', 'the full record, eval report included'),
  ).action((ref: string, version: string, o: RegistryOpts & { json?: boolean }) =>
    withRegistry(
      o,
      (r) => {
        const m = r.get(ref, version);
        process.stdout.write(o.json ? `${JSON.stringify({ ...m, history: r.history(m) }, null, 2)}\n` : formatModel(m, r.history(m)));
      },
      { readOnly: true },
    ),
  );

  registryOption(
    models
      .command('promote')
      .description(
        'candidate -> canary, or canary -> production (the previous canary/production of the location is retired); ' + 'a retired former production model may return to production (rollback)',
      )
      .argument('<location>', 'location (or model name)')
      .argument('<version>', 'model version')
      .addOption(new Option('--to <stage>', 'target stage').choices(['canary', 'production']).makeOptionMandatory())
      .option('--reason <text>', "recorded in the model's history", 'promoted'),
  ).action((location: string, version: string, o: RegistryOpts & { to: 'canary' | 'production'; reason: string }) =>
    withRegistry(o, (r) => {
      const { model, retired } = r.promote(location, version, o.to, o.reason);
      process.stdout.write(`${model.location} ${model.version} is now ${model.stage}${retired.map((m) => `; ${m.version} retired`).join('')}\n`);
    }),
  );

  registryOption(
    models
      .command('retire')
      .description('take a model out of service (any stage but retired)')
      .argument('<location>', 'location (or model name)')
      .argument('<version>', 'model version')
      .option('--reason <text>', "recorded in the model's history", 'retired'),
  ).action((location: string, version: string, o: RegistryOpts & { reason: string }) =>
    withRegistry(o, (r) => {
      const m = r.retire(location, version, o.reason);
      process.stdout.write(`${m.location} ${m.version} is now retired\n`);
    }),
  );

  registryOption(
    models
      .command('bundle')
      .description("write a registered model's bundle (manifest.json + model files, verified against the registry) into a folder")
      .argument('<location>', 'location (or model name)')
      .argument('<version>', 'model version')
      .requiredOption('--out <dir>', 'output folder'),
  ).action((location: string, version: string, o: RegistryOpts & { out: string }) =>
    withRegistry(
      o,
      async (r) => {
        const m = r.get(location, version);
        await r.materialize(m, resolve(o.out));
        process.stdout.write(`${m.location} ${m.version}: ${m.files.length} files -> ${o.out}\n`);
      },
      { readOnly: true },
    ),
  );
}
