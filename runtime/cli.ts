/**
 * `sidewalk run` (the device service), `sidewalk replay` (a recording through the same pipeline),
 * `sidewalk config ...` (check a config file, print the reference), `sidewalk limiter safe` (the stop path).
 */
import { createWriteStream, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createLogger } from '../lib/log.js';
import { errorMessage, SidewalkError } from '../lib/errors.js';
import { REPO_ROOT } from '../lib/paths.js';
import { loadConfigFile, validateConfig } from './config/load.js';
import { configReferenceMarkdown } from './config/reference.js';
import type { RuntimeConfig } from './config/schema.js';
import { buildComponents, decisionEngineFor, limiterConfig, limitRuleFor, loadClassifier } from './service/components.js';
import { formatAgreement, readRecordedRun, replayRecordedScores } from './service/recorded-scores.js';
import type { LegacyOutLayout } from './recorder/legacy-run.js';
import { forceLimitedState } from './actuators/force-safe.js';
import { RuntimeService } from './service/service.js';
import { createNotifier } from './service/notify.js';
import { createRuntimeMetrics } from '../telemetry/runtime-metrics.js';
import { RideSummaryBuilder, formatSummary } from './service/ride-summary.js';
import { LiveView } from './service/live-view.js';
import type { DecisionRecord } from './service/pipeline.js';

const log = createLogger('runtime:cli');

export function registerRuntimeCommands(program: Command): void {
  program
    .command('run')
    .description('Run the device service (what sidewalk-runtime.service starts): camera -> model -> decision -> speed limiter.')
    .requiredOption('-c, --config <file>', 'runtime YAML config (see README "Configuration")')
    .option('--check', 'validate the config and load the model, then exit')
    .action(async (opts: { config: string; check?: boolean }) => {
      const config = loadConfigFile(opts.config);
      if (opts.check) {
        const classifier = await loadClassifier(config);
        await classifier.close();
        process.stdout.write(`${opts.config}: ok (mode ${config.mode}, model ${classifier.info.name} ${classifier.info.version})\n`);
        return;
      }
      await runService(config, { reloadConfig: () => loadConfigFile(opts.config) });
    });

  program
    .command('replay')
    .description(
      'Run a recording through the runtime pipeline with the simulated limiter and print a summary:\n' +
        'frames, fps, share of time on sidewalk, limit activations, time from entering a sidewalk to the limit being reached.',
    )
    .argument('<input>', 'video file, folder of JPEGs, or legacy run folder (img_NNNNN.jpg + raw_data.txt)')
    .option('-m, --model <bundle>', 'model bundle directory (model.tflite + manifest.json); required unless --recorded-scores')
    .option('--recorded-scores', "decide from the scores recorded with the run instead of a model (a legacy run's out_data.txt, a ride's sensors.jsonl) and report agreement with the recorded decision (legacy swFlag)")
    .option('--realtime', 'pace frames at recording speed and show decisions live (default: as fast as possible)')
    .option('-o, --out <file>', 'write every decision as JSON lines (with --recorded-scores: frame, on_sidewalk, recorded_on_sidewalk, agree, ...)')
    .option('--limiter-log <file>', 'write every simulated limiter command as JSON lines')
    .option('--json', 'print the summary as one JSON object')
    .option('--config <file>', 'take decision, speed and model settings from this runtime config')
    .addOption(new Option('--delegate <name>', 'TFLite delegate').choices(['xnnpack', 'cpu', 'edgetpu']))
    .option('--fps <n>', 'frame rate for JPEG folders', Number)
    .option('--metrics-port <port>', 'serve /metrics on 127.0.0.1:PORT while replaying (0: any free port)', Number)
    .option('--live', 'show decisions as they happen (default with --realtime)')
    .addOption(new Option('--legacy-layout <layout>', "with --recorded-scores: scooter.py's out_data.txt layout when the file fits both (DATA_LEGACY_LAYOUT_AMBIGUOUS)").choices(['live', 'post-process']))
    .action(async (input: string, opts: ReplayOptions) => {
      await replay(input, opts);
    });

  program
    .command('limiter')
    .description('Speed limiter output helpers.')
    .command('safe')
    .description(
      "Force the limit output to its limited state without the runtime (sidewalk-runtime.service's ExecStopPost):\n" +
        'GPIO line driven to the limited level, PWM at the safe duty, serial LIMIT acknowledged, or a simulated log line.',
    )
    .requiredOption('-c, --config <file>', 'runtime YAML config')
    .action(async (opts: { config: string }) => {
      const config = loadConfigFile(opts.config);
      process.stdout.write(`${await forceLimitedState(limiterConfig(config))}\n`);
    });

  const config = program.command('config').description('Runtime configuration helpers.');
  config
    .command('check')
    .description('Validate a runtime config file; prints every violation as `path: message`.')
    .argument('<file>')
    .action((file: string) => {
      loadConfigFile(file);
      process.stdout.write(`${file}: ok\n`);
    });
  config
    .command('reference')
    .description('Print the configuration reference (Markdown) generated from the schema.')
    .option('--update-readme', "rewrite README.md's configuration section")
    .action((opts: { updateReadme?: boolean }) => {
      const table = configReferenceMarkdown();
      if (!opts.updateReadme) {
        process.stdout.write(`${table}\n`);
        return;
      }
      const path = resolve(REPO_ROOT, 'README.md');
      const readme = readFileSync(path, 'utf8');
      const start = readme.indexOf('<!-- config-reference:start');
      const end = readme.indexOf('<!-- config-reference:end -->');
      const startEnd = readme.indexOf('-->', start) + 3;
      writeFileSync(path, `${readme.slice(0, startEnd)}\n${table}\n${readme.slice(end)}`);
      process.stdout.write('README.md updated\n');
    });
}

interface ReplayOptions {
  model?: string;
  recordedScores?: boolean;
  legacyLayout?: LegacyOutLayout;
  realtime?: boolean;
  out?: string;
  limiterLog?: string;
  json?: boolean;
  config?: string;
  delegate?: 'xnnpack' | 'cpu' | 'edgetpu';
  fps?: number;
  metricsPort?: number;
  live?: boolean;
}

async function replay(input: string, opts: ReplayOptions): Promise<void> {
  if (opts.recordedScores) return replayRecorded(input, opts);
  if (!opts.model) throw new SidewalkError('REPLAY_MODEL_REQUIRED', 'replay needs --model <bundle> (or --recorded-scores to decide from the scores recorded with the run)');
  const base = opts.config ? loadConfigFile(opts.config) : validateConfig({ model: { bundle: opts.model } }, 'replay options');
  const config: RuntimeConfig = {
    ...base,
    mode: 'replay',
    model: { ...base.model, bundle: resolve(opts.model), ...(opts.delegate ? { delegate: opts.delegate } : {}) },
    camera: { ...base.camera, source: 'replay', replay: { input: resolve(input), realtime: Boolean(opts.realtime), fps: opts.fps ?? base.camera.replay.fps } },
    limiter: { ...base.limiter, kind: 'simulated', simulated: { log_file: opts.limiterLog ? resolve(opts.limiterLog) : null } },
    metrics: { enabled: opts.metricsPort !== undefined, host: '127.0.0.1', port: opts.metricsPort ?? 0 },
  };
  const summary = new RideSummaryBuilder(config.speed.sidewalk_kph);
  const live = opts.live || opts.realtime ? new LiveView() : null;
  let decisions: ReturnType<typeof createWriteStream> | null = null;
  if (opts.out) {
    mkdirSync(dirname(resolve(opts.out)), { recursive: true });
    decisions = createWriteStream(resolve(opts.out));
  }
  await runService(config, {
    onDecision: (r: DecisionRecord) => {
      summary.add(r);
      live?.show(r);
      decisions?.write(`${JSON.stringify(r)}\n`);
    },
  });
  if (decisions) await new Promise<void>((done) => decisions!.end(() => done()));
  const result = summary.build();
  if (result.frames === 0) throw new Error(`no frame of ${input} could be classified`);
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${formatSummary(result)}\n`);
}

/** `replay --recorded-scores`: the recorded scores through the configured decision and limit rule, no model. */
async function replayRecorded(input: string, opts: ReplayOptions): Promise<void> {
  // The model is not loaded; the config still supplies the decision and speed settings.
  const config = opts.config ? loadConfigFile(opts.config) : validateConfig({ model: { bundle: opts.model ?? '-' } }, 'replay options');
  const run = await readRecordedRun(resolve(input), {
    legacySpeedScale: config.speed_source.replay_log.speed_scale,
    ...(opts.legacyLayout ? { legacyLayout: opts.legacyLayout } : {}),
  });
  const lines: string[] = [];
  const result = replayRecordedScores(run, decisionEngineFor(config), limitRuleFor(config, config.speed.fail_safe_kph), (d) => {
    if (opts.out) lines.push(JSON.stringify(d));
  });
  if (opts.out) {
    mkdirSync(dirname(resolve(opts.out)), { recursive: true });
    writeFileSync(resolve(opts.out), lines.length ? `${lines.join('\n')}\n` : '');
  }
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${formatAgreement(result)}\n`);
}

/** Builds the parts, runs the service until it ends or a signal stops it. */
async function runService(
  config: RuntimeConfig,
  extra: { reloadConfig?: () => RuntimeConfig; onDecision?: (r: DecisionRecord) => void },
): Promise<void> {
  const metrics = createRuntimeMetrics();
  const components = await buildComponents(config);
  const service = new RuntimeService({
    config,
    components,
    metrics,
    notifier: createNotifier(),
    loadClassifier,
    ...(extra.reloadConfig ? { reloadConfig: extra.reloadConfig } : {}),
    ...(extra.onDecision ? { onDecision: extra.onDecision } : {}),
  });
  const onTerm = (signal: string) => () => {
    log.info(`${signal}: limiter to safe state, then exit`);
    void service.stop(signal);
  };
  const onHup = () => void service.reload();
  process.on('SIGTERM', onTerm('SIGTERM'));
  process.on('SIGINT', onTerm('SIGINT'));
  process.on('SIGHUP', onHup);
  try {
    await service.run();
  } catch (err) {
    log.error(`runtime failed: ${errorMessage(err)}`);
    await service.stop('error');
    throw err;
  } finally {
    process.off('SIGHUP', onHup);
  }
}
