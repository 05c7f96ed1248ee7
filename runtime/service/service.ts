/**
 * The device service: owns the pipeline, the systemd protocol (READY / WATCHDOG / STATUS), the
 * fail-safe control timer, the metrics endpoint and the signals (SIGTERM: limiter to its safe
 * state then exit; SIGHUP: reload config and model without dropping the limiter's state).
 */
import { createLogger } from '../../lib/log.js';
import { errorMessage } from '../../lib/errors.js';
import type { RuntimeConfig } from '../config/schema.js';
import type { RuntimeMetrics, MetricsServer } from '../../telemetry/runtime-metrics.js';
import { serveMetrics } from '../../telemetry/runtime-metrics.js';
import type { Notifier } from './notify.js';
import { Pipeline, type DecisionRecord, type FrameClassifier } from './pipeline.js';
import type { Frame } from '../types.js';
import { APP_VERSION, decisionEngineFor, limitRuleFor, type Components } from './components.js';

const log = createLogger('runtime:service');

/** How often the control timer advances fail-safe timing and the ramp without frames. */
const CONTROL_TICK_MS = 100;
const STATUS_EVERY_MS = 5000;
/** Config sections that only a restart applies (they own processes, devices or sockets). */
const RESTART_ONLY = ['mode', 'device', 'camera', 'limiter', 'speed_source', 'metrics', 'recording'] as const;

export interface ServiceOptions {
  config: RuntimeConfig;
  components: Components;
  metrics: RuntimeMetrics;
  notifier: Notifier;
  /** Builds a fresh classifier for a reload (SIGHUP) from a new config. */
  loadClassifier: (config: RuntimeConfig) => Promise<FrameClassifier>;
  /** Re-reads the config file for a reload; absent = reload keeps the config. */
  reloadConfig?: () => RuntimeConfig;
  onDecision?: (record: DecisionRecord) => void;
}

export class RuntimeService {
  #o: ServiceOptions;
  #pipeline: Pipeline;
  #metricsServer: MetricsServer | null = null;
  #timers: NodeJS.Timeout[] = [];
  #stopping: Promise<void> | null = null;
  #ready = false;
  /** The config in force (reloads replace the parts they can apply). */
  #config: RuntimeConfig;

  constructor(options: ServiceOptions) {
    this.#o = options;
    this.#config = options.config;
    const { components, config, metrics } = options;
    this.#pipeline = new Pipeline({
      source: components.source,
      classifier: components.classifier,
      decision: components.decision,
      limitRule: components.limitRule,
      limiter: config.mode === 'monitor' ? null : components.limiter,
      speedSource: components.speedSource,
      metrics,
      timebase: config.mode === 'replay' && !config.camera.replay.realtime ? 'media' : 'monotonic',
      onFirstClassification: () => this.#onReady(),
      // Per-frame records are built only when something consumes them (recording, replay output).
      ...(components.recorder || options.onDecision
        ? {
            onDecision: (record: DecisionRecord, frame: Frame) => {
              components.recorder?.addFrame(frame, record);
              options.onDecision?.(record);
            },
          }
        : {}),
    });
  }

  get pipeline(): Pipeline {
    return this.#pipeline;
  }

  get metricsUrl(): string | null {
    return this.#metricsServer?.url ?? null;
  }

  /** Starts everything; resolves when the pipeline ends (end of a recording) or stop() finishes. */
  async run(): Promise<void> {
    const { components, config, metrics, notifier } = this.#o;
    // The limiter comes up in its safe state before anything else can command it.
    await components.limiter.init();
    setModelInfo(metrics, components.classifier);
    metrics.appInfo.set({ version: APP_VERSION }, 1);
    if (config.metrics.enabled) {
      this.#metricsServer = await serveMetrics(metrics.registry, {
        host: config.metrics.host,
        port: config.metrics.port,
        health: () => ({ ok: this.#fresh(), detail: this.statusFields() }),
      });
    }
    await components.speedSource?.start();
    await components.source.start();
    await notifier.notify({ STATUS: `starting: ${config.mode}, ${components.source.description}` });

    this.#startTimers();
    try {
      await this.#pipeline.run();
    } finally {
      await this.stop('pipeline ended');
    }
  }

  /** Limiter to its safe state first, then everything else. Idempotent. */
  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      log.info(`stopping: ${reason}`);
      for (const t of this.#timers) clearInterval(t);
      const { components, notifier } = this.#o;
      await this.#pipeline.halt();
      await components.limiter.safeState().catch((err: unknown) => log.error(`limiter safe state failed: ${errorMessage(err)}`));
      await notifier.notify({ STOPPING: 1, STATUS: `stopping: ${reason}` });
      await this.#pipeline.stop().catch((err: unknown) => log.warn(`pipeline stop: ${errorMessage(err)}`));
      await components.speedSource?.stop().catch(() => {});
      await components.recorder?.close().catch((err: unknown) => log.warn(`recorder close: ${errorMessage(err)}`));
      await this.#pipeline.classifier.close().catch(() => {});
      await components.limiter.safeState().catch(() => {});
      await components.limiter.close().catch(() => {});
      await this.#metricsServer?.close();
      notifier.close();
    })();
    return this.#stopping;
  }

  /**
   * SIGHUP: re-read the config, load the model beside the current one and swap it in between two
   * frames; changed decision or speed settings take effect too, with the ramp continuing from the
   * limit in force (the limiter's state is never dropped). Camera, limiter, speed source, metrics
   * and mode need a restart. A failed reload keeps everything as it was.
   */
  async reload(): Promise<void> {
    const { notifier } = this.#o;
    await notifier.notify({ RELOADING: 1, STATUS: 'reloading' });
    try {
      const current = this.#config;
      const config = this.#o.reloadConfig ? this.#o.reloadConfig() : current;
      const changed = (key: keyof RuntimeConfig) => JSON.stringify(config[key]) !== JSON.stringify(current[key]);
      const needRestart = RESTART_ONLY.filter(changed);
      if (needRestart.length > 0) log.warn(`reload: ${needRestart.join(', ')} changed; that takes effect after a restart`);
      const next = await this.#o.loadClassifier(config);
      const old = this.#pipeline.swapClassifier(next);
      this.#pipeline.swapControl({
        ...(changed('decision') || changed('speed') ? { decision: decisionEngineFor(config) } : {}),
        ...(changed('speed') ? { limitRule: limitRuleFor(config, this.#pipeline.limitKph) } : {}),
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
    const out = this.#pipeline.lastOutput;
    return {
      mode: this.#config.mode,
      ready: this.#ready,
      fresh: this.#fresh(),
      fps: Number(this.#pipeline.framesPerSecond.toFixed(1)),
      onSidewalk: out?.onSidewalk ?? null,
      failSafe: out?.failSafe ?? null,
      model: this.#pipeline.classifier.info,
    };
  }

  #fresh(): boolean {
    const now = performance.now();
    const stale = this.#config.health.stale_after_ms;
    return now - this.#pipeline.lastFrameAtMs < stale && now - this.#pipeline.lastInferenceAtMs < stale;
  }

  #statusLine(): string {
    const out = this.#pipeline.lastOutput;
    const state = out?.failSafe ? 'FAIL-SAFE' : out?.onSidewalk ? 'sidewalk' : 'road';
    return `${this.#config.mode}: ${this.#pipeline.framesPerSecond.toFixed(1)} fps, ${state}, model ${this.#pipeline.classifier.info.version}`;
  }

  #onReady(): void {
    this.#ready = true;
    void this.#o.notifier.notify({ READY: 1, STATUS: this.#statusLine() });
    log.info('first frame classified: ready');
  }

  #startTimers(): void {
    const { notifier } = this.#o;
    this.#timers.push(setInterval(() => this.#pipeline.tick(), CONTROL_TICK_MS));
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

function setModelInfo(metrics: RuntimeMetrics, classifier: FrameClassifier): void {
  const { name, version, location, sha256, backend } = classifier.info;
  metrics.modelInfo.reset();
  metrics.modelInfo.set({ name, version, location, sha256, backend }, 1);
}
