/**
 * The device service: owns the pipeline, the systemd protocol (READY / WATCHDOG / STATUS), the
 * fail-safe control timer, the metrics endpoint and the signals (SIGTERM: limiter to its safe
 * state then exit; SIGHUP: reload config and model without dropping the limiter's state).
 */
import { appVersion } from '../../lib/app-version.js';
import { createLogger } from '../../lib/log.js';
import { SidewalkError, errorMessage, isSidewalkError } from '../../lib/errors.js';
import type { RuntimeConfig } from '../config/schema.js';
import type { RuntimeMetrics, MetricsServer } from '../../telemetry/runtime-metrics.js';
import { serveMetrics } from '../../telemetry/runtime-metrics.js';
import { createServiceLimiter } from '../actuators/index.js';
import type { Classifier, SpeedLimiter } from '../types.js';
import type { Notifier } from '../../lib/sd-notify.js';
import { Pipeline, type DecisionRecord } from './pipeline.js';
import type { Frame } from '../types.js';
import { decisionEngineFor, frameSourceFor, limiterConfig, limitRuleFor, openRecorder, speedSourceFor } from './components.js';
import { Acquired, RELEASE_STEP_MS, withDeadline } from './lifecycle.js';

const log = createLogger('runtime:service');

/** How often the control timer advances fail-safe timing and the ramp without frames. */
const CONTROL_TICK_MS = 100;
const STATUS_EVERY_MS = 5000;
/**
 * The whole stop (limiter safe, pipeline drained, everything released) must end within this, well
 * inside the unit's TimeoutStopSec (15 s, image/systemd/sidewalk-runtime.service). Unit: ms.
 */
export const STOP_DEADLINE_MS = 10_000;
/** How long a stop waits for a start-up step in progress (loading a model) to finish. Unit: ms. */
const STARTING_SETTLE_MS = 5000;
/** Config sections that only a restart applies (they own processes, devices or sockets). */
const RESTART_ONLY = ['mode', 'device', 'camera', 'limiter', 'speed_source', 'metrics', 'recording'] as const;

export interface ServiceOptions {
  config: RuntimeConfig;
  metrics: RuntimeMetrics;
  notifier: Notifier;
  /** Loads the configured model (at start-up, and beside the running one on SIGHUP). */
  loadClassifier: (config: RuntimeConfig) => Promise<Classifier>;
  /** Re-reads the config file for a reload; absent = reload keeps the config. */
  reloadConfig?: () => RuntimeConfig;
  onDecision?: (record: DecisionRecord) => void;
}

/**
 * Start-up and shutdown happen in one place: run() acquires limiter (into its safe state first),
 * model, recorder, metrics server, speed source and camera in that order, each registered in an
 * Acquired list; stop() (signal, end of recording or any failure, start-up included) drives the
 * limiter to its safe state and releases everything in reverse order, within STOP_DEADLINE_MS.
 */
export class RuntimeService {
  #o: ServiceOptions;
  readonly #acquired = new Acquired();
  #pipeline: Pipeline | null = null;
  #limiter: SpeedLimiter | null = null;
  #metricsServer: MetricsServer | null = null;
  #timers: NodeJS.Timeout[] = [];
  #stopping: Promise<void> | null = null;
  #starting: Promise<Pipeline> | null = null;
  #ready = false;
  /** The config in force (reloads replace the parts they can apply). */
  #config: RuntimeConfig;

  constructor(options: ServiceOptions) {
    this.#o = options;
    this.#config = options.config;
  }

  get pipeline(): Pipeline | null {
    return this.#pipeline;
  }

  get metricsUrl(): string | null {
    return this.#metricsServer?.url ?? null;
  }

  /**
   * Starts everything and runs until the pipeline ends (end of a recording) or stop() is called;
   * always stops before it settles. Rejects with the error that ended the run, if any.
   */
  async run(): Promise<void> {
    let failure: unknown = null;
    try {
      this.#starting = this.#start();
      const pipeline = await this.#starting;
      this.#startTimers();
      await pipeline.run();
    } catch (err) {
      failure = err;
      log.debug(() => `run ended by: ${errorMessage(err)}`);
    }
    try {
      await this.stop(failure === null ? 'pipeline ended' : 'error');
    } catch (err) {
      if (failure === null || isSidewalkError(err, 'RUNTIME_STOP_TIMEOUT')) throw err;
      log.error(errorMessage(err));
    }
    if (failure !== null && !isSidewalkError(failure, 'RUNTIME_STOPPING')) throw failure;
  }

  /**
   * Limiter to its safe state first, then everything else in reverse order of acquisition.
   * Idempotent. Rejects with RUNTIME_STOP_TIMEOUT when it cannot finish within STOP_DEADLINE_MS,
   * or RUNTIME_RELEASE_FAILED naming what could not be released.
   */
  stop(reason: string): Promise<void> {
    this.#stopping ??= withDeadline(this.#shutdown(reason), STOP_DEADLINE_MS, `stopping (${reason})`);
    return this.#stopping;
  }

  async #start(): Promise<Pipeline> {
    const { config, metrics, notifier } = this.#o;
    const held = this.#acquired;
    // The limiter comes up in its safe state before anything else can command it.
    // Held before init(): a device that opened half-way is closed too (close() of an unopened limiter does nothing).
    const limiter = createServiceLimiter(limiterConfig(config));
    await held.hold('limiter', () => limiter.close());
    await limiter.init();
    this.#limiter = limiter;

    const classifier = await this.#o.loadClassifier(config);
    // A reload may have swapped the model: release the one running.
    await held.hold('model', () => (this.#pipeline?.classifier ?? classifier).close());
    const recorder = config.mode === 'record' ? await openRecorder(config, classifier) : null;
    if (recorder) await held.hold('recorder', () => recorder.close());

    const source = frameSourceFor(config);
    const speedSource = await speedSourceFor(config);
    const pipeline = new Pipeline({
      source,
      classifier,
      decision: decisionEngineFor(config),
      // The limit rule starts where the limiter's init() leaves it: the safe (fail-safe) limit.
      limitRule: limitRuleFor(config, config.speed.fail_safe_kph),
      limiter: config.mode === 'monitor' ? null : limiter,
      speedSource,
      metrics,
      timebase: config.mode === 'replay' && !config.camera.replay.realtime ? 'media' : 'monotonic',
      onFirstClassification: () => this.#onReady(),
      // Per-frame records are built only when something consumes them (recording, replay output).
      ...(recorder || this.#o.onDecision
        ? {
            onDecision: (record: DecisionRecord, frame: Frame) => {
              recorder?.addFrame(frame, record);
              this.#o.onDecision?.(record);
            },
          }
        : {}),
    });
    this.#pipeline = pipeline;
    setModelInfo(metrics, classifier);
    metrics.appInfo.set({ version: appVersion() }, 1);

    if (config.metrics.enabled) {
      const server = await this.#serveMetrics();
      await held.hold('metrics server', () => server.close());
      this.#metricsServer = server;
    }
    if (speedSource) {
      await held.hold('speed source', () => speedSource.stop());
      await speedSource.start();
    }
    // Registered before start(): a camera that fails half-way is stopped too (stop is always safe).
    await held.hold('camera', () => source.stop());
    await source.start();
    await notifier.notify({ STATUS: `starting: ${config.mode}, ${source.description}` });
    return pipeline;
  }

  async #serveMetrics(): Promise<MetricsServer> {
    const { host, port } = this.#config.metrics;
    try {
      return await serveMetrics(this.#o.metrics.registry, { host, port, health: () => ({ ok: this.#fresh(), detail: this.statusFields() }) });
    } catch (err) {
      throw new SidewalkError('METRICS_PORT_UNAVAILABLE', `cannot serve metrics on ${host}:${port} (metrics.port): ${(err as Error).message}`, { cause: err, details: { host, port } });
    }
  }

  async #shutdown(reason: string): Promise<void> {
    log.info(`stopping: ${reason}`);
    // A stop during start-up: what is being acquired now is released as soon as it arrives.
    this.#acquired.refuseMore();
    await withDeadline(this.#starting?.catch(() => {}) ?? Promise.resolve(), STARTING_SETTLE_MS, 'the start-up step in progress').catch((err: unknown) => log.error(errorMessage(err)));
    for (const t of this.#timers) clearInterval(t);
    const { notifier } = this.#o;
    const pipeline = this.#pipeline;
    // No limiter command leaves the pipeline after halt(); then the safe state, before anything else.
    if (pipeline) await withDeadline(pipeline.halt(), RELEASE_STEP_MS, 'the last limiter command').catch((err: unknown) => log.error(errorMessage(err)));
    await this.#limiter?.safeState().catch((err: unknown) => log.error(`limiter safe state failed: ${errorMessage(err)}`));
    await notifier.notify({ STOPPING: 1, STATUS: `stopping: ${reason}` });
    if (pipeline) await withDeadline(pipeline.stop(), RELEASE_STEP_MS, 'draining the pipeline').catch((err: unknown) => log.warn(errorMessage(err)));
    const failed = await this.#acquired.releaseAll();
    notifier.close();
    if (failed.length > 0) throw new SidewalkError('RUNTIME_RELEASE_FAILED', `stopped, but could not release: ${failed.join(', ')} (see the log above)`);
  }

  /**
   * SIGHUP: re-read the config, load the model beside the current one and swap it in between two
   * frames; changed decision or speed settings take effect too, with the ramp continuing from the
   * limit in force (the limiter's state is never dropped). Camera, limiter, speed source, metrics
   * and mode need a restart. A failed reload keeps everything as it was.
   */
  async reload(): Promise<void> {
    const { notifier } = this.#o;
    if (!this.#pipeline || this.#stopping) {
      log.warn('reload ignored: the service is not running yet (or is stopping)');
      return;
    }
    await notifier.notify({ RELOADING: 1, STATUS: 'reloading' });
    try {
      const current = this.#config;
      const config = this.#o.reloadConfig ? this.#o.reloadConfig() : current;
      const changed = (key: keyof RuntimeConfig) => JSON.stringify(config[key]) !== JSON.stringify(current[key]);
      const needRestart = RESTART_ONLY.filter(changed);
      if (needRestart.length > 0) log.warn(`reload: ${needRestart.join(', ')} changed; that takes effect after a restart`);
      const next = await this.#o.loadClassifier(config);
      const pipeline = this.#pipeline;
      const old = pipeline.swapClassifier(next);
      pipeline.swapControl({
        ...(changed('decision') || changed('speed') ? { decision: decisionEngineFor(config) } : {}),
        ...(changed('speed') ? { limitRule: limitRuleFor(config, pipeline.limitKph) } : {}),
      });
      this.#config = { ...config, ...Object.fromEntries(RESTART_ONLY.map((k) => [k, current[k]])) };
      setModelInfo(this.#o.metrics, next);
      await old.close();
      log.info(`reloaded: model ${next.info.name} ${next.info.version}`);
    } catch (err) {
      log.error(`reload failed, keeping the running model and settings: ${errorMessage(err)}`);
    } finally {
      await notifier.notify({ READY: 1, STATUS: this.#statusLine() });
    }
  }

  statusFields(): Record<string, unknown> {
    const pipeline = this.#pipeline;
    const out = pipeline?.lastOutput;
    return {
      mode: this.#config.mode,
      ready: this.#ready,
      fresh: this.#fresh(),
      fps: Number((pipeline?.framesPerSecond ?? 0).toFixed(1)),
      onSidewalk: out?.onSidewalk ?? null,
      failSafe: out?.failSafe ?? null,
      model: pipeline?.classifier.info ?? null,
    };
  }

  #fresh(): boolean {
    const pipeline = this.#pipeline;
    if (!pipeline) return false;
    const now = performance.now();
    const stale = this.#config.health.stale_after_ms;
    return now - pipeline.lastFrameAtMs < stale && now - pipeline.lastInferenceAtMs < stale;
  }

  #statusLine(): string {
    const out = this.#pipeline!.lastOutput;
    const state = out?.failSafe ? 'FAIL-SAFE' : out?.onSidewalk ? 'sidewalk' : 'road';
    return `${this.#config.mode}: ${this.#pipeline!.framesPerSecond.toFixed(1)} fps, ${state}, model ${this.#pipeline!.classifier.info.version}`;
  }

  #onReady(): void {
    this.#ready = true;
    void this.#o.notifier.notify({ READY: 1, STATUS: this.#statusLine() });
    log.info('first frame classified: ready');
  }

  #startTimers(): void {
    const { notifier } = this.#o;
    this.#timers.push(setInterval(() => this.#pipeline?.tick(), CONTROL_TICK_MS));
    this.#timers.push(
      setInterval(() => {
        if (this.#ready) void notifier.notify({ STATUS: this.#statusLine() });
      }, STATUS_EVERY_MS),
    );
    if (notifier.watchdogIntervalMs > 0) {
      // Ping at half the interval, and only while frames and inferences are fresh: a stalled
      // pipeline lets systemd's watchdog restart us.
      this.#timers.push(
        setInterval(() => {
          if (this.#ready && this.#fresh()) void notifier.notify({ WATCHDOG: 1 });
          else log.warn('pipeline stale: withholding WATCHDOG=1');
        }, notifier.watchdogIntervalMs / 2),
      );
    }
    for (const t of this.#timers) t.unref();
  }
}

function setModelInfo(metrics: RuntimeMetrics, classifier: Classifier): void {
  const { name, version, location, sha256, backend } = classifier.info;
  metrics.modelInfo.reset();
  metrics.modelInfo.set({ name, version, location, sha256, backend }, 1);
}
