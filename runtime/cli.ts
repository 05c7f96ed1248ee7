/**
 * `sidewalk run` (the device service), `sidewalk replay` (a recording through the same pipeline),
 * `sidewalk config ...` (check a config file, print the reference), `sidewalk limiter safe` (the stop path).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../lib/log.js';
import { SidewalkError, exitIfStillRunning, isSidewalkError } from '../lib/errors.js';
import { REPO_ROOT } from '../lib/paths.js';
import { loadConfigFile, validateConfig } from './config/load.js';
import { configReferenceMarkdown } from './config/reference.js';
import { runtimeConfigSchema, type RuntimeConfig } from './config/schema.js';
import { checkWritableDir, decisionEngineFor, limiterConfig, limitRuleFor, loadClassifier } from './service/components.js';
import { formatAgreement, readRecordedRun, replayRecordedScores } from './service/recorded-scores.js';
import type { LegacyOutLayout } from './recorder/legacy-run.js';
import { forceLimitedState } from './actuators/force-safe.js';
import { RuntimeService, STOP_DEADLINE_MS } from './service/service.js';
import { createNotifier } from '../lib/sd-notify.js';
import { createRuntimeMetrics } from '../telemetry/runtime-metrics.js';
import { RideSummaryBuilder, formatSummary } from './service/ride-summary.js';
import { LiveView } from './service/live-view.js';
import { decisionJson, type DecisionRecord } from './service/pipeline.js';
import { OutputFile } from './service/output-file.js';

const log = createLogger('runtime:cli');

/** After a stop, a process still alive this long (a leaked handle) is ended with a non-zero exit. Unit: ms. */
const EXIT_AFTER_STOP_MS = 2000;

const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number above 0.');
  return n;
};

const tcpPort = (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535 (0: any free port).');
  return n;
};

export function registerRuntimeCommands(program: Command): void {
  program
    .command('run')
    .description('Run the device service (what sidewalk-runtime.service starts): camera -> model -> decision -> speed limiter.')
    .requiredOption('-c, --config <file>', 'runtime YAML config (see README "Configuration")')
    .option('--check', 'validate the config and load the model, then exit')
    .action(async (opts: { config: string; check?: boolean }) => {
      const config = loadConfigFile(opts.config);
      if (opts.check) {
        // What start-up would create, without creating it: the recording folder, the simulated limiter's log folder.
        if (config.mode === 'record') await checkWritableDir(config.recording.dir, 'recording.dir');
        if (config.limiter.kind === 'simulated' && config.limiter.simulated.log_file) await checkWritableDir(resolve(config.limiter.simulated.log_file, '..'), 'limiter.simulated.log_file');
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
    .option(
      '--recorded-scores',
      "decide from the scores recorded with the run instead of a model (a legacy run's out_data.txt, a ride's sensors.jsonl) and report agreement with the recorded decision (legacy swFlag)",
    )
    .option('--realtime', 'pace frames at recording speed and show decisions live (default: as fast as possible)')
    .option('-o, --out <file>', 'write every decision as JSON lines (with --recorded-scores: frame, on_sidewalk, recorded_on_sidewalk, agree, ...)')
    .option('--limiter-log <file>', 'write every simulated limiter command as JSON lines')
    .option('--json', 'print the summary as one JSON object')
    .option('--config <file>', 'take decision, speed and model settings from this runtime config')
    .addOption(new Option('--delegate <name>', 'TFLite delegate').choices(runtimeConfigSchema.properties.model.properties.delegate.enum))
    .option('--fps <n>', 'frame rate for JPEG folders', positiveNumber)
    .option('--metrics-port <port>', 'serve /metrics on 127.0.0.1:PORT while replaying (0: any free port)', tcpPort)
    .option('--live', 'show decisions as they happen (default with --realtime)')
    .option('--strict', 'fail (CAMERA_DECODE_ERRORS) when ffmpeg reports decode errors, e.g. a truncated video; default: a warning with their count')
    .addOption(
      new Option('--legacy-layout <layout>', "with --recorded-scores: scooter.py's out_data.txt layout when the file fits both (DATA_LEGACY_LAYOUT_AMBIGUOUS)").choices(['live', 'post-process']),
    )
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
  delegate?: RuntimeConfig['model']['delegate'];
  fps?: number;
  metricsPort?: number;
  live?: boolean;
  strict?: boolean;
}

async function replay(input: string, opts: ReplayOptions): Promise<void> {
  if (opts.recordedScores) return replayRecorded(input, opts);
  if (!opts.model) throw new SidewalkError('REPLAY_MODEL_REQUIRED', 'replay needs --model <bundle> (or --recorded-scores to decide from the scores recorded with the run)');
  const base = opts.config ? loadConfigFile(opts.config) : validateConfig({ model: { bundle: opts.model } }, 'replay options');
  const config: RuntimeConfig = {
    ...base,
    mode: 'replay',
    model: { ...base.model, bundle: resolve(opts.model), ...(opts.delegate ? { delegate: opts.delegate } : {}) },
    camera: {
      ...base.camera,
      source: 'replay',
      replay: { input: resolve(input), realtime: Boolean(opts.realtime), fps: opts.fps ?? base.camera.replay.fps, strict: Boolean(opts.strict) || base.camera.replay.strict },
    },
    limiter: { ...base.limiter, kind: 'simulated', simulated: { log_file: opts.limiterLog ? resolve(opts.limiterLog) : null } },
    metrics: { enabled: opts.metricsPort !== undefined, host: '127.0.0.1', port: opts.metricsPort ?? 0 },
  };
  const summary = new RideSummaryBuilder(config.speed.sidewalk_kph);
  const live = opts.live || opts.realtime ? new LiveView() : null;
  // Written beside its final name and renamed at the end: a failed replay leaves no decisions file.
  const decisions = opts.out ? await OutputFile.create(resolve(opts.out), '--out') : null;
  try {
    await runService(config, {
      onDecision: (r: DecisionRecord) => {
        summary.add(r);
        live?.show(r);
        decisions?.write(`${decisionJson(r)}\n`);
      },
    });
    const result = summary.build();
    if (result.frames === 0) throw new SidewalkError('CAMERA_INPUT_EMPTY', `no frame of ${input} could be classified`, { details: { input } });
    await decisions?.commit();
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${formatSummary(result)}\n`);
  } finally {
    await decisions?.discard();
  }
}

/** `replay --recorded-scores`: the recorded scores through the configured decision and limit rule, no model. */
async function replayRecorded(input: string, opts: ReplayOptions): Promise<void> {
  // The model is not loaded; the config still supplies the decision and speed settings.
  const config = opts.config ? loadConfigFile(opts.config) : validateConfig({ model: { bundle: opts.model ?? '-' } }, 'replay options');
  const run = await readRecordedRun(resolve(input), {
    legacySpeedScale: config.speed_source.replay_log.speed_scale,
    ...(opts.legacyLayout ? { legacyLayout: opts.legacyLayout } : {}),
  });
  // Written beside its final name and renamed at the end: a failed replay leaves no decisions file.
  const decisions = opts.out ? await OutputFile.create(resolve(opts.out), '--out') : null;
  try {
    const result = replayRecordedScores(run, decisionEngineFor(config), limitRuleFor(config, config.speed.fail_safe_kph), (d) => {
      decisions?.write(`${JSON.stringify(d)}\n`);
    });
    await decisions?.commit();
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${formatAgreement(result)}\n`);
  } finally {
    await decisions?.discard();
  }
}

/**
 * Runs the service until it ends or a signal stops it. SIGTERM/SIGINT: limiter to its safe state,
 * everything released, exit; a stop that cannot finish within STOP_DEADLINE_MS ends with
 * RUNTIME_STOP_TIMEOUT and a non-zero exit, whatever a component does.
 */
async function runService(config: RuntimeConfig, extra: { reloadConfig?: () => RuntimeConfig; onDecision?: (r: DecisionRecord) => void }): Promise<void> {
  const service = new RuntimeService({
    config,
    metrics: createRuntimeMetrics(),
    notifier: createNotifier(),
    loadClassifier,
    ...(extra.reloadConfig ? { reloadConfig: extra.reloadConfig } : {}),
    ...(extra.onDecision ? { onDecision: extra.onDecision } : {}),
  });
  let signalled: Promise<void> | null = null;
  const stopped = new Promise<void>((resolveStop, rejectStop) => {
    const handler = (signal: string) => () => {
      if (signalled) return;
      log.info(`${signal}: limiter to its safe state, then exit (deadline ${STOP_DEADLINE_MS} ms)`);
      signalled = service.stop(signal);
      signalled.then(resolveStop, rejectStop);
    };
    process.on('SIGTERM', handler('SIGTERM'));
    process.on('SIGINT', handler('SIGINT'));
  });
  const onHup = () => void service.reload();
  process.on('SIGHUP', onHup);
  try {
    // A signal ends the wait even when start-up is stuck in a component.
    await Promise.race([service.run(), stopped]);
  } catch (err) {
    // A stop that missed its deadline leaves something stuck: the error line is written, then the exit is forced.
    if (isSidewalkError(err, 'RUNTIME_STOP_TIMEOUT')) exitIfStillRunning(0, 1, 'the stop deadline');
    throw err;
  } finally {
    process.off('SIGHUP', onHup);
    if (signalled) exitIfStillRunning(EXIT_AFTER_STOP_MS, 1, 'stopping');
  }
}
