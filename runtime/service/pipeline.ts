/**
 * The hot path: frame -> classify -> decide -> limit rule -> actuate, one frame in flight.
 * Knows nothing about config files, systemd or HTTP; the service (service.ts) wires those around it.
 *
 * Time: live and real-time replay use the monotonic clock; "as fast as possible" replay uses the
 * frames' media time, so a replay decides and ramps exactly as the ride did, however fast it runs.
 */
import type { ClassProbabilities, Classification, Classifier, Frame, FrameSource, SpeedLimiter, SpeedSource } from '../types.js';
import { createLogger } from '../../lib/log.js';
import { errorMessage, isSidewalkError } from '../../lib/errors.js';
import type { RuntimeMetrics } from '../../telemetry/runtime-metrics.js';
import type { DecisionEngine, DecisionOutput } from '../decision/index.js';
import type { LimitRule } from '../actuators/speed-rule.js';

const log = createLogger('runtime:pipeline');

export interface DecisionRecord {
  seq: number;
  mediaTimeMs: number | null;
  nowMs: number;
  /** The classifier's labels and its probabilities in their order (the classifier's own objects, not copies). */
  labels: readonly string[];
  probabilities: ClassProbabilities;
  top: string;
  onSidewalk: boolean;
  failSafe: boolean;
  targetLimitKph: number;
  limitKph: number;
  speedKph: number | null;
  preprocessMs: number;
  inferenceMs: number;
  frameToActuationMs: number;
}

/** One line of `replay --out`: the record with its probabilities keyed by label. */
export type DecisionLine = Omit<DecisionRecord, 'labels' | 'probabilities'> & { probabilities: Record<string, number> };

export function decisionJson(record: DecisionRecord): string {
  const { seq, mediaTimeMs, nowMs, labels, probabilities, ...rest } = record;
  const byLabel = Object.fromEntries(labels.map((label, i) => [label, probabilities[i]]));
  return JSON.stringify({ seq, mediaTimeMs, nowMs, probabilities: byLabel, ...rest } satisfies DecisionLine);
}

export interface PipelineOptions {
  source: FrameSource;
  classifier: Classifier;
  decision: DecisionEngine;
  /** From the decision's target and the measured speed to the commanded limit (actuators/speed-rule.ts). */
  limitRule: LimitRule;
  /** null in monitor mode: decide and report, never actuate. */
  limiter: SpeedLimiter | null;
  speedSource: SpeedSource | null;
  metrics: RuntimeMetrics;
  /** 'monotonic' for live/real-time runs, 'media' for as-fast-as-possible replay. */
  timebase: 'monotonic' | 'media';
  /** Called after every decided frame (recording, live display, decisions file). */
  onDecision?: (record: DecisionRecord, frame: Frame) => void;
  /** Called once after the first frame has been classified (READY=1). */
  onFirstClassification?: () => void;
}

const monotonicMs = () => performance.now();
const FATAL_INFERENCE_CODES = new Set(['MODEL_WORKER_CRASHED', 'MODEL_INFERENCE_TIMEOUT', 'MODEL_CLASSIFIER_CLOSED']);
/**
 * A limiter that has refused every command for this long ends the run (systemd restarts the
 * service; the wiring's fail-safe holds meanwhile). Long enough for a serial adapter to be reopened.
 * A command that hangs (LIMITER_TIMEOUT) ends it at once. Unit: ms.
 */
const LIMITER_FAILING_FATAL_MS = 3000;

export class Pipeline {
  #o: PipelineOptions;
  #classifier: Classifier;
  #decision: DecisionEngine;
  #limitRule: LimitRule;
  #running = false;
  #loop: Promise<void> | null = null;
  #lastFrameAtMs = -Infinity;
  #lastInferenceAtMs = -Infinity;
  #lastMediaTimeMs = 0;
  #lastCommandedKph: number | null = null;
  #wasOnSidewalk = false;
  #wasFailSafe = false;
  #reportedDropped = 0;
  #reportedRestarts = 0;
  #firstDone = false;
  #fpsWindow: number[] = [];
  #lastOutput: DecisionOutput | null = null;
  #actuating: Promise<void> = Promise.resolve();
  #inFlight = false;
  #halted = false;
  #pending: { limitKph: number; frameCapturedAtNs: bigint | undefined } | null = null;
  #limiterFailingSinceMs: number | null = null;
  /** Rejects with the error that must end the run (a limiter that stopped working). */
  readonly #fatal: Promise<never>;
  #raiseFatal: (err: unknown) => void = () => {};

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#classifier = options.classifier;
    this.#decision = options.decision;
    this.#limitRule = options.limitRule;
    this.#fatal = new Promise<never>((_, reject) => (this.#raiseFatal = reject));
    this.#fatal.catch(() => {}); // observed by the run loop; a run that already ended ignores it
  }

  get classifier(): Classifier {
    return this.#classifier;
  }

  /** Monotonic ms of the last frame taken from the source / last successful inference (watchdog freshness). */
  get lastFrameAtMs(): number {
    return this.#lastFrameAtMs;
  }
  get lastInferenceAtMs(): number {
    return this.#lastInferenceAtMs;
  }
  get lastOutput(): DecisionOutput | null {
    return this.#lastOutput;
  }
  get framesPerSecond(): number {
    const w = this.#fpsWindow;
    return w.length < 2 ? 0 : ((w.length - 1) * 1000) / (w[w.length - 1]! - w[0]!);
  }

  /** Swaps the classifier between two frames (SIGHUP reload, model OTA); returns the old one. */
  swapClassifier(next: Classifier): Classifier {
    const old = this.#classifier;
    this.#classifier = next;
    return old;
  }

  /** The limit currently commanded, km/h. */
  get limitKph(): number {
    return this.#limitRule.limitKph;
  }

  /**
   * Replaces the decision engine and/or the limit rule between two frames (SIGHUP with changed
   * decision or speed settings). Pass a rule that starts at `limitKph` so the limit does not jump.
   */
  swapControl(next: { decision?: DecisionEngine; limitRule?: LimitRule }): void {
    if (next.decision) this.#decision = next.decision;
    if (next.limitRule) this.#limitRule = next.limitRule;
  }

  /** Runs until the source ends or stop() is called. Resolves when the loop has finished. */
  run(): Promise<void> {
    this.#running = true;
    this.#loop = this.#runLoop();
    return this.#loop;
  }

  /** No limiter command leaves the pipeline after this resolves (the service then applies the safe state). */
  async halt(): Promise<void> {
    this.#halted = true;
    await this.#actuating;
  }

  async stop(): Promise<void> {
    this.#halted = true;
    this.#running = false;
    await this.#o.source.stop();
    await this.#loop?.catch(() => {}); // an error that ended the loop went to run()'s caller
    await this.#actuating;
  }

  /**
   * Advances time without a frame: fail-safe timing and the limit rule keep running while the camera
   * is gone. Called by the service's control timer in live mode.
   */
  tick(): void {
    if (this.#o.timebase !== 'monotonic') return;
    const nowMs = monotonicMs();
    const speedKph = this.#speedKph(undefined);
    const out = this.#decide(nowMs, null, speedKph);
    this.#apply(out, nowMs, speedKph, undefined);
  }

  async #runLoop(): Promise<void> {
    const { source } = this.#o;
    while (this.#running) {
      const frame = await Promise.race([source.next(), this.#fatal]);
      if (frame === null) break;
      await this.#processFrame(frame);
    }
    this.#running = false;
  }

  async #processFrame(frame: Frame): Promise<void> {
    const { metrics, source } = this.#o;
    this.#lastFrameAtMs = monotonicMs();
    this.#countSourceStats(source);
    const nowMs = this.#o.timebase === 'media' ? (frame.mediaTimeMs ?? this.#lastMediaTimeMs) : monotonicMs();
    this.#lastMediaTimeMs = frame.mediaTimeMs ?? nowMs;

    let result: Classification | null = null;
    try {
      result = await this.#classifier.classify(frame);
    } catch (err) {
      metrics.inferenceErrorsTotal.inc();
      // A dead or hung inference worker cannot be recovered in-process (tfjs-tflite-node is not
      // safe to reload across threads): end the run so systemd restarts the service.
      if (isSidewalkError(err) && FATAL_INFERENCE_CODES.has(err.code)) throw err;
      log.warn(`classification of frame ${frame.seq} failed: ${errorMessage(err)}`);
    }
    if (result) {
      this.#lastInferenceAtMs = monotonicMs();
      metrics.framesTotal.inc();
      metrics.inferenceSeconds.observe(result.inferenceMs / 1000);
      metrics.preprocessSeconds.observe(result.preprocessMs / 1000);
      const labels = this.#classifier.labels;
      for (let i = 0; i < labels.length; i++) metrics.classConfidence.set({ class: labels[i]! }, result.probabilities[i] ?? 0);
      this.#fpsWindow.push(this.#lastInferenceAtMs);
      if (this.#fpsWindow.length > 30) this.#fpsWindow.shift();
      metrics.framesPerSecond.set(this.framesPerSecond);
    }

    const speedKph = this.#speedKph(frame.mediaTimeMs);
    const out = this.#decide(nowMs, result?.probabilities ?? null, speedKph);
    const limitKph = this.#apply(out, nowMs, speedKph, frame.capturedAtNs);
    const frameToActuationMs = Number(process.hrtime.bigint() - frame.capturedAtNs) / 1e6;

    if (result && !this.#firstDone) {
      this.#firstDone = true;
      this.#o.onFirstClassification?.();
    }
    if (this.#o.onDecision && result) {
      const labels = this.#classifier.labels;
      const { probabilities } = result;
      let top = 0;
      for (let i = 1; i < labels.length; i++) if (probabilities[i]! > probabilities[top]!) top = i;
      this.#o.onDecision(
        {
          seq: frame.seq,
          mediaTimeMs: frame.mediaTimeMs ?? null,
          nowMs,
          labels,
          probabilities,
          top: labels[top]!,
          onSidewalk: out.onSidewalk,
          failSafe: out.failSafe,
          targetLimitKph: out.targetLimitKph,
          limitKph,
          speedKph,
          preprocessMs: result.preprocessMs,
          inferenceMs: result.inferenceMs,
          frameToActuationMs,
        },
        frame,
      );
    }
  }

  #decide(nowMs: number, probabilities: ClassProbabilities | null, speedKph: number | null): DecisionOutput {
    const { labels, groups } = this.#classifier;
    return this.#decision.step({ nowMs, probabilities, labels, groups, speedKph });
  }

  #speedKph(mediaTimeMs: number | undefined): number | null {
    const reading = this.#o.speedSource?.current(mediaTimeMs) ?? null;
    if (reading) this.#o.metrics.speedKph.set(reading.speedKph);
    return reading?.speedKph ?? null;
  }

  #countSourceStats(source: FrameSource): void {
    const { dropped, restarts } = source.stats;
    if (dropped > this.#reportedDropped) this.#o.metrics.droppedFramesTotal.inc(dropped - this.#reportedDropped);
    if (restarts > this.#reportedRestarts) this.#o.metrics.cameraRestartsTotal.inc(restarts - this.#reportedRestarts);
    this.#reportedDropped = dropped;
    this.#reportedRestarts = restarts;
  }

  /** Updates state metrics, runs the limit rule, and commands the limiter when the limit changed. */
  #apply(out: DecisionOutput, nowMs: number, speedKph: number | null, frameCapturedAtNs: bigint | undefined): number {
    const { metrics, limiter } = this.#o;
    this.#lastOutput = out;
    if (out.onSidewalk && !this.#wasOnSidewalk) metrics.limitActivationsTotal.inc();
    if (out.failSafe && !this.#wasFailSafe) {
      metrics.failSafeActivationsTotal.inc();
      log.warn(`fail-safe engaged: ${out.reason}`);
    } else if (!out.failSafe && this.#wasFailSafe) {
      log.info('fail-safe released: decisions are fresh again');
    }
    this.#wasOnSidewalk = out.onSidewalk;
    this.#wasFailSafe = out.failSafe;
    metrics.onSidewalk.set(out.onSidewalk ? 1 : 0);
    metrics.failSafeActive.set(out.failSafe ? 1 : 0);
    metrics.targetSpeedLimitKph.set(out.targetLimitKph);

    const limitKph = this.#limitRule.next({ targetKph: out.targetLimitKph, onSidewalk: out.onSidewalk, failSafe: out.failSafe, speedKph, nowMs });
    metrics.speedLimitKph.set(limitKph);
    // As the legacy scooter: a command only when the limit changed. Controllers that need
    // refreshing get it from their backend (the serial limiter's keepalive).
    if (limiter && limitKph !== this.#lastCommandedKph) {
      this.#lastCommandedKph = limitKph;
      this.#command(limiter, limitKph, frameCapturedAtNs);
    }
    return limitKph;
  }

  /**
   * One command in flight; while a slow device is busy only the newest limit waits, so commands
   * never pile up or arrive out of order.
   */
  #command(limiter: SpeedLimiter, limitKph: number, frameCapturedAtNs: bigint | undefined): void {
    if (this.#halted) return;
    this.#pending = { limitKph, frameCapturedAtNs };
    if (this.#inFlight) return;
    this.#inFlight = true;
    this.#actuating = (async () => {
      while (this.#pending && !this.#halted) {
        const { limitKph: kph, frameCapturedAtNs: at } = this.#pending;
        this.#pending = null;
        try {
          await limiter.setLimit(kph, at);
          this.#limiterFailingSinceMs = null;
          if (at !== undefined) this.#o.metrics.frameToActuationSeconds.observe(Number(process.hrtime.bigint() - at) / 1e9);
        } catch (err) {
          this.#o.metrics.limiterErrorsTotal.inc();
          log.error(`speed limiter command failed: ${errorMessage(err)}`);
          const now = monotonicMs();
          this.#limiterFailingSinceMs ??= now;
          if (isSidewalkError(err, 'LIMITER_TIMEOUT') || now - this.#limiterFailingSinceMs >= LIMITER_FAILING_FATAL_MS) {
            this.#halted = true;
            this.#raiseFatal(err);
          }
        }
      }
      this.#inFlight = false;
    })();
  }
}
