/** `sidewalk eval`: model bundle(s) on a dataset export split, with optional ride replay and Keras parity. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { evaluateBundles, type EvalReport } from './evaluate.js';
import { rateText } from '../registry/eval-report.js';

interface EvalFlags {
  model: string[];
  data: string;
  split: string;
  out?: string;
  keras?: string;
  rides?: string;
  delegate?: 'xnnpack' | 'none';
  threads: number;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function threads(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1');
  return n;
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;

function summary(r: EvalReport): string {
  const lines = [
    `${r.model.name} ${r.model.version} (${r.model.dtype}, ${r.model.dir})`,
    `  accuracy ${pct(r.accuracy)} on ${r.dataset.count} ${r.dataset.split} images (dataset ${r.dataset.hash})`,
    `  sidewalk recall ${rateText(r.safety.sidewalk_recall, r.safety.sidewalk_frames)}, road wrongly limited ${rateText(r.safety.road_false_limit_rate, r.safety.road_frames)}`,
    `  latency mean ${r.latency_ms.mean.toFixed(2)} ms, p50 ${r.latency_ms.p50.toFixed(2)} ms, p99 ${r.latency_ms.p99.toFixed(2)} ms (${r.model.backend})`,
  ];
  for (const [label, s] of Object.entries(r.per_class)) {
    lines.push(`  ${label.padEnd(10)} precision ${pct(s.precision)} recall ${pct(s.recall)} (n=${s.support})`);
  }
  if (r.rides) {
    const t = r.rides;
    const fmt = (v: { mean: number; max: number } | null): string => (v ? `mean ${(v.mean / 1000).toFixed(2)} s, max ${(v.max / 1000).toFixed(2)} s` : '-');
    lines.push(`  rides: ${t.rides} (${t.frames} frames), ${t.sidewalk_segments} sidewalk segments, ${t.missed_segments} missed, ` +
      `${t.limit_not_reached} ended before the limit was reached; time to limit ${fmt(t.time_to_limit_ms)}; time to decision ${fmt(t.time_to_decision_ms)}`);
  }
  if (r.files) lines.push(`  report: ${r.files.json}, ${r.files.html}`);
  return lines.join('\n');
}

export function registerEvalCommands(program: Command): void {
  program
    .command('eval')
    .description('Evaluate model bundle(s) on a dataset export through the device\'s own preprocessing and TFLite runtime.\n\n' +
      'Reports accuracy, per-class precision/recall, the confusion matrix, per-location accuracy, the safety figures ' +
      '(sidewalk-group recall, road frames wrongly limited) and inference latency, as OUT/report.json (format ' +
      'sidewalk-eval/1) and OUT/report.html with PNG plots. With several --model, each gets OUT/<bundle folder>/.\n' +
      '--rides replays recorded rides through the decision engine and ramp (time to limit, missed sidewalk segments); ' +
      '--keras checks top-1 agreement between the Keras model and every --model export (float >= 99.5 %, int8 >= 98 %).')
    .requiredOption('--model <bundle>', 'model bundle folder (manifest.json + model.tflite); repeat for several exports', collect)
    .requiredOption('--data <dir>', 'dataset export: DIR/{train,val,test}/<class>/*.png|jpg (+ dataset.json)')
    .option('--split <split>', 'split to evaluate', 'test')
    .option('--out <dir>', 'write report.json, report.html, confusion.png and per-class.png here')
    .option('--keras <model.keras>', 'Keras model written by `sidewalk train` (OUT/model.keras): report parity with each export')
    .option('--rides <dir>', 'folder of recorded rides (sidewalk-ride/1), e.g. from `sidewalk data synth`, for the ride-level replay')
    .addOption(new Option('--delegate <delegate>', 'TFLite delegate (default: xnnpack, what the device runs; the plain interpreter when the XNNPACK shim is not built)').choices(['xnnpack', 'none']))
    .option('--threads <n>', 'interpreter threads', threads, 2)
    .action(async (flags: EvalFlags) => {
      const reports = await evaluateBundles({
        models: flags.model.map((m) => resolve(m)),
        data: resolve(flags.data),
        split: flags.split,
        ...(flags.delegate ? { delegate: flags.delegate } : {}),
        numThreads: flags.threads,
        ...(flags.out ? { outDir: resolve(flags.out) } : {}),
        ...(flags.keras ? { keras: resolve(flags.keras) } : {}),
        ...(flags.rides ? { rides: resolve(flags.rides) } : {}),
        onProgress: (m) => process.stderr.write(`[eval] ${m}\n`),
      });
      for (const r of reports) process.stdout.write(`${summary(r)}\n`);
      const parity = reports[0]?.parity;
      if (parity) {
        for (const [variant, p] of Object.entries(parity)) {
          process.stdout.write(`parity ${variant}: ${pct(p.agreement)} top-1 agreement with Keras (target ${pct(p.target)}) ${p.ok ? 'ok' : 'MISS'}\n`);
        }
        if (Object.values(parity).some((p) => !p.ok)) process.exitCode = 3;
      }
    });
}
