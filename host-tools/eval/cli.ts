/** `sidewalk eval`: model bundle(s) on a dataset export split, with optional ride replay and Keras parity. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { evaluateBundles, type EvalReport } from './evaluate.js';
import { findRecordedRuns, replayRecordedRuns } from './rides.js';
import { rateText } from '../registry/eval-report.js';

interface EvalFlags {
  model?: string[];
  data?: string;
  recordedScores?: boolean;
  split: string;
  out?: string;
  keras?: string;
  rides?: string;
  delegate?: 'xnnpack' | 'cpu';
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
    lines.push(
      `  rides: ${t.rides} (${t.frames} frames), ${t.sidewalk_segments} sidewalk segments, ${t.missed_segments} missed, ` +
        `${t.limit_not_reached} ended before the limit was reached; time to limit ${fmt(t.time_to_limit_ms)}; time to decision ${fmt(t.time_to_decision_ms)}`,
    );
  }
  if (r.files) lines.push(`  report: ${r.files.json}, ${r.files.html}`);
  return lines.join('\n');
}

export function registerEvalCommands(program: Command): void {
  program
    .command('eval')
    .description(
      "Evaluate model bundle(s) on a dataset export through the device's own preprocessing and TFLite runtime.\n\n" +
        'Reports accuracy, per-class precision/recall, the confusion matrix, per-location accuracy, the safety figures ' +
        '(sidewalk-group recall, road frames wrongly limited) and inference latency, as OUT/report.json (format ' +
        'sidewalk-eval/1) and OUT/report.html with PNG plots. With several --model, each gets OUT/<bundle folder>/.\n' +
        '--rides replays recorded rides through the decision engine and ramp (time to limit, missed sidewalk segments); ' +
        '--keras checks top-1 agreement between the Keras model and every --model export (float >= 99.5 %, int8 >= 98 %).',
    )
    .option('--model <bundle>', 'model bundle folder (manifest.json + model.tflite); repeat for several exports', collect)
    .option('--data <dir>', 'dataset export: DIR/{train,val,test}/<class>/*.png|jpg (+ dataset.json)')
    .option('--split <split>', 'split to evaluate', 'test')
    .option('--out <dir>', 'write report.json, report.html, confusion.png and per-class.png here')
    .option('--keras <model.keras>', 'Keras model written by `sidewalk train` (OUT/model.keras): report parity with each export')
    .option('--rides <dir>', 'folder of recorded rides (sidewalk-ride/1), e.g. from `sidewalk data synth`, for the ride-level replay')
    .option(
      '--recorded-scores',
      'with --rides (rides or legacy runN/ folders), no model: replay the recorded scores through the decision and report agreement with the recorded decisions (legacy swFlag)',
    )
    .addOption(new Option('--delegate <delegate>', 'TFLite delegate (default: xnnpack, what the device runs; the plain interpreter when the XNNPACK shim is not built)').choices(['xnnpack', 'cpu']))
    .option('--threads <n>', 'interpreter threads', threads, 2)
    .action(async (flags: EvalFlags) => {
      if (flags.recordedScores) return recordedScores(flags);
      if (!flags.model || !flags.data) {
        throw new SidewalkError('EVAL_ARGS_MISSING', 'eval needs --model and --data (or --rides DIR --recorded-scores, which needs neither)');
      }
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

/** `eval --rides DIR --recorded-scores`: agreement with the recorded decisions, per run and in total. */
async function recordedScores(flags: EvalFlags): Promise<void> {
  if (!flags.rides) throw new SidewalkError('EVAL_ARGS_MISSING', '--recorded-scores needs --rides DIR (ride folders or legacy runN/ folders)');
  const decisions: string[] = [];
  const report = await replayRecordedRuns(
    await findRecordedRuns(resolve(flags.rides)),
    (dir, d) => {
      if (flags.out) decisions.push(JSON.stringify({ run: dir, ...d }));
    },
    (m) => process.stderr.write(`[eval] ${m}\n`),
  );
  if (flags.out) {
    const out = resolve(flags.out);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'recorded-scores.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(out, 'recorded-decisions.jsonl'), decisions.length ? `${decisions.join('\n')}\n` : '');
  }
  for (const r of report.runs)
    process.stdout.write(`${r.input}: ${r.agreeing}/${r.compared} frames agree${r.disagreeing_frames.length ? ` (differs at ${r.disagreeing_frames.slice(0, 10).join(', ')})` : ''}\n`);
  process.stdout.write(`recorded decision reproduced on ${report.agreeing} of ${report.compared} frames of ${report.runs.length} runs (${pct(report.agreement)})\n`);
}
