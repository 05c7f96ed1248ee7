/**
 * npm run bench:runtime [-- --check] — the hot path against bare TFLite, same machine, same model:
 *   (a) bare TFLite invoke with XNNPACK on ready-made input (its own process, bare-invoke.ts);
 *   (b) the full per-frame path as on the device: the fake camera (test/fixtures/fake-rpicam-vid, a
 *       separate process) writes raw YUV420 frames into a pipe -> RpicamSource cuts them -> worker
 *       (preprocess + invoke) -> decide -> limit rule -> SimulatedLimiter writing its JSONL log.
 * (a) and (b, camera flat out) run in interleaved rounds; b/a is the median of the same-round ratios
 * (bench/report.ts), printed with its spread. A run at camera rate gives frame-to-actuation latency
 * and dropped frames as the device sees them. Both MobileNetV2 224 float32 and int8 (random weights,
 * built once with the trainer's export, bench/make_bench_model.py).
 * Env: BENCH_THREADS (1), BENCH_ROUNDS (5), BENCH_FRAMES per round (150), BENCH_CAMERA_FRAMES at camera
 * rate (150), BENCH_FPS (15, the config default), BENCH_CAMERA (224x224).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { REPO_ROOT, DIST_ROOT } from '../lib/paths.js';
import { ensureTrainVenv, TRAIN_DIR } from '../host-tools/python/venv.js';
import { createTfliteClassifier } from '../runtime/inference/index.js';
import { RpicamSource } from '../runtime/camera/rpicam-source.js';
import { RUNTIME_DEFAULTS } from '../runtime/config/schema.js';
import { cameraOptionsFrom } from '../runtime/service/components.js';
import { DecisionEngine } from '../runtime/decision/index.js';
import { createLimitRule } from '../runtime/actuators/speed-rule.js';
import { SimulatedLimiter } from '../runtime/actuators/simulated-limiter.js';
import { Pipeline } from '../runtime/service/pipeline.js';
import { createRuntimeMetrics } from '../telemetry/runtime-metrics.js';
import type { Classifier, Frame, FrameSource, SpeedLimiter } from '../runtime/types.js';
import { interleavedRounds, sameRoundRatios, formatRatios, median, Targets } from './report.js';

const env = process.env;
const THREADS = Number(env.BENCH_THREADS ?? 1);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 5);
const FRAMES = Number(env.BENCH_FRAMES ?? 150);
const CAMERA_FRAMES = Number(env.BENCH_CAMERA_FRAMES ?? 150);
const FPS = Number(env.BENCH_FPS ?? 15);
/** Frames at the start of every full-path run that are not counted (camera start, first inferences). */
const SETTLE = 10;
const RATIO_TARGET = 1.15;
const FAKE_CAMERA = join(REPO_ROOT, 'test', 'fixtures', 'fake-rpicam-vid');
// The camera is asked for the model's resolution (README.md, Architecture: the ISP scales for free); its rows are
// padded to 64 bytes as on a Pi 4. BENCH_CAMERA=WxH tries other sizes.
const [CAM_W, CAM_H] = (env.BENCH_CAMERA ?? '224x224').split('x').map(Number) as [number, number];
const STRIDE = Math.ceil(CAM_W / 64) * 64;

type Variant = 'float32' | 'int8';
const modelDir = (v: Variant) => join(REPO_ROOT, '.cache', 'bench', v === 'float32' ? 'mobilenetv2-224' : 'mobilenetv2-224-int8');

async function ensureModel(variant: Variant): Promise<void> {
  const dir = modelDir(variant);
  if (existsSync(join(dir, 'manifest.json'))) return;
  process.stderr.write(`building ${dir} (MobileNetV2 224 ${variant}, random weights) with the trainer's venv...\n`);
  const venv = await ensureTrainVenv();
  execFileSync(venv.python, [join(REPO_ROOT, 'bench', 'make_bench_model.py'), dir, variant], {
    cwd: TRAIN_DIR,
    env: { ...env, PYTHONPATH: TRAIN_DIR, TF_CPP_MIN_LOG_LEVEL: '2' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Mean ms of `runs` bare invokes, in a child process (tfjs-tflite-node must not be loaded by two threads of one process). */
async function bareInvoke(variant: Variant, delegate: 'xnnpack' | 'cpu', runs: number): Promise<number> {
  const args = [join(DIST_ROOT, 'bench', 'bare-invoke.js'), join(modelDir(variant), 'model.tflite'), delegate, String(THREADS), String(runs)];
  const { stdout } = await promisify(execFile)(process.execPath, args, { encoding: 'utf8' });
  return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { meanMs: number }).meanMs;
}

/** The real camera source, ending the run after `limit` frames (a live camera never ends by itself). */
class CountedSource implements FrameSource {
  readonly #inner: RpicamSource;
  #left: number;
  constructor(inner: RpicamSource, limit: number) {
    this.#inner = inner;
    this.#left = limit;
  }
  get description(): string {
    return this.#inner.description;
  }
  get stats() {
    return this.#inner.stats;
  }
  start = () => this.#inner.start();
  stop = () => this.#inner.stop();
  async next(): Promise<Frame | null> {
    return this.#left-- > 0 ? this.#inner.next() : null;
  }
}

/** The real SimulatedLimiter, recording frame-to-actuation latency once its JSONL line is written. */
class LatencyLimiter implements SpeedLimiter {
  readonly kind: string;
  readonly latenciesMs: Float64Array;
  count = 0;
  counting = false;
  readonly #inner: SpeedLimiter;
  constructor(inner: SpeedLimiter, capacity: number) {
    this.#inner = inner;
    this.kind = inner.kind;
    this.latenciesMs = new Float64Array(capacity);
  }
  init = () => this.#inner.init();
  safeState = () => this.#inner.safeState();
  close = () => this.#inner.close();
  async setLimit(kph: number, frameCapturedAtNs?: bigint): Promise<void> {
    await this.#inner.setLimit(kph, frameCapturedAtNs);
    if (this.counting && frameCapturedAtNs !== undefined && this.count < this.latenciesMs.length) {
      this.latenciesMs[this.count++] = Number(process.hrtime.bigint() - frameCapturedAtNs) / 1e6;
    }
  }
}

interface FullPathRun {
  msPerFrame: number;
  latenciesMs: Float64Array;
  framesDropped: number;
  /** Frames the camera delivered through the pipe per second (used + dropped). */
  cameraFps: number;
  preprocessMs: number;
  inferenceMs: number;
}

/** One full-path run of `frames` counted frames (after SETTLE), the camera flat out or at FPS. */
async function fullPath(classifier: Classifier, frames: number, flatOut: boolean, eld: IntervalHistogram | null): Promise<FullPathRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-runtime-'));
  const camera = new RpicamSource({
    ...cameraOptionsFrom(RUNTIME_DEFAULTS.camera).rpicam,
    width: CAM_W,
    height: CAM_H,
    fps: FPS,
    binary: FAKE_CAMERA,
    stride: STRIDE,
    env: { ...env, FAKE_RPICAM_SCRIPT: 'street:2,side:2,crosswalk:2,bike_lane:2', FAKE_RPICAM_STRIDE: String(STRIDE), ...(flatOut ? { FAKE_RPICAM_FLAT_OUT: '1' } : {}) },
  });
  const source = new CountedSource(camera, SETTLE + frames);
  const limiter = new LatencyLimiter(new SimulatedLimiter({ kind: 'simulated', safeLimitKph: 6, logFile: join(dir, 'limiter.jsonl') }), frames);
  await limiter.init();
  let seen = 0;
  let t0 = 0;
  let preprocessMs = 0;
  let inferenceMs = 0;
  let droppedAtSettle = 0;
  const pipeline = new Pipeline({
    source,
    classifier,
    decision: new DecisionEngine(),
    limitRule: createLimitRule('measured', 6),
    limiter,
    speedSource: null,
    metrics: createRuntimeMetrics({ defaultMetrics: false }),
    timebase: 'monotonic',
    onDecision: (r) => {
      if (++seen === SETTLE) {
        t0 = performance.now();
        droppedAtSettle = camera.stats.dropped;
        limiter.counting = true;
        eld?.enable();
      } else if (seen > SETTLE) {
        preprocessMs += r.preprocessMs;
        inferenceMs += r.inferenceMs;
      }
    },
  });
  try {
    await source.start();
    await pipeline.run();
    const elapsed = performance.now() - t0;
    eld?.disable();
    return {
      msPerFrame: elapsed / frames,
      latenciesMs: limiter.latenciesMs.slice(0, limiter.count).sort(),
      framesDropped: camera.stats.dropped - droppedAtSettle,
      cameraFps: ((frames + camera.stats.dropped - droppedAtSettle) * 1000) / elapsed,
      preprocessMs: preprocessMs / frames,
      inferenceMs: inferenceMs / frames,
    };
  } finally {
    await pipeline.stop();
    await limiter.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : Number.NaN;
}

function openClassifier(variant: Variant): Promise<Classifier> {
  return createTfliteClassifier(modelDir(variant), { delegate: 'xnnpack', numThreads: THREADS });
}

const mb = (x: number) => `${(x / 1048576).toFixed(1)} MB`;
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function benchVariant(variant: Variant, targets: Targets): Promise<string[]> {
  const out: string[] = [`model: MobileNetV2 224x224 ${variant}, ${THREADS} TFLite thread(s), XNNPACK; camera ${CAM_W}x${CAM_H} YUV420 stride ${STRIDE}`];
  if (variant === 'float32') {
    const [xnn, plain] = [await bareInvoke(variant, 'xnnpack', 30), await bareInvoke(variant, 'cpu', 30)];
    out.push(`  bare invoke, default interpreter ${ms(plain)} vs XNNPACK ${ms(xnn)}: XNNPACK speed-up ${(plain / xnn).toFixed(1)}x`);
  }
  const classifier = await openClassifier(variant);
  const eldFlat = monitorEventLoopDelay({ resolution: 1 });
  let rssAfterWarmup = 0;
  const rssPerRound: number[] = [];
  const runs: FullPathRun[] = [];
  try {
    process.stderr.write(`${variant}: ${ROUNDS} rounds (+1 warm-up) of bare invoke vs full path flat out, ${FRAMES} frames each...\n`);
    const { a, b } = await interleavedRounds(
      ROUNDS,
      {
        a: () => bareInvoke(variant, 'xnnpack', FRAMES),
        b: async (round) => {
          const run = await fullPath(classifier, FRAMES, true, round > 0 ? eldFlat : null);
          if (round === 0) rssAfterWarmup = process.memoryUsage().rss;
          else {
            runs.push(run);
            rssPerRound.push(process.memoryUsage().rss);
          }
          return run.msPerFrame;
        },
      },
      { warmup: 1 },
    );
    const rssEnd = process.memoryUsage().rss;
    const ratio = sameRoundRatios(b, a);
    const lat = Float64Array.from(runs.flatMap((r) => [...r.latenciesMs])).sort();
    const sum = (f: (r: FullPathRun) => number) => runs.reduce((s, r) => s + f(r), 0);
    out.push(
      `  (a) bare invoke:              ${ms(median(a))} (median of rounds: ${a.map((x) => x.toFixed(1)).join(', ')})`,
      `  (b) full path, camera flat out: ${ms(median(b))} per frame (rounds: ${b.map((x) => x.toFixed(1)).join(', ')}); inside it preprocess ${ms(sum((r) => r.preprocessMs) / runs.length)}, invoke ${ms(sum((r) => r.inferenceMs) / runs.length)}; ${sum((r) => r.framesDropped)} camera frames dropped (newest frame wins), the pipe carrying ${(sum((r) => r.cameraFps) / runs.length).toFixed(0)} frames/s`,
      `  b/a same-round ratio:         ${formatRatios(ratio, 3)}`,
      `  frame-to-actuation flat out:  p50 ${ms(percentile(lat, 0.5))}, p99 ${ms(percentile(lat, 0.99))}`,
    );
    targets.row(`${variant} b/a flat out (median)`, ratio.median.toFixed(3), `<= ${RATIO_TARGET}`, ratio.median <= RATIO_TARGET);
    const eldFlatP99 = eldFlat.percentile(99) / 1e6;
    targets.row(`${variant} event-loop p99 flat out`, ms(eldFlatP99), '< 20 ms', eldFlatP99 < 20);
    const growth = (rssEnd - rssAfterWarmup) / rssAfterWarmup;
    out.push(
      `  RSS after the warm-up round ${mb(rssAfterWarmup)}, after ${ROUNDS * (FRAMES + SETTLE)} more frames ${mb(rssEnd)} (after each round: ${rssPerRound.map(mb).join(', ')}; a leak climbs every round, GC noise does not)`,
    );
    targets.row(`${variant} RSS growth over the rounds`, `${(growth * 100).toFixed(2)} %`, '< 5 %', growth < 0.05);

    process.stderr.write(`${variant}: ${CAMERA_FRAMES} frames at camera rate (${FPS} fps)...\n`);
    const eldCam = monitorEventLoopDelay({ resolution: 1 });
    const cam = await fullPath(classifier, CAMERA_FRAMES, false, eldCam);
    const eldCamP99 = eldCam.percentile(99) / 1e6;
    out.push(
      `  at camera rate ${FPS} fps:      ${ms(cam.msPerFrame)} per frame, frame-to-actuation p50 ${ms(percentile(cam.latenciesMs, 0.5))}, p99 ${ms(percentile(cam.latenciesMs, 0.99))}; ${cam.framesDropped} of ${CAMERA_FRAMES + cam.framesDropped} frames dropped`,
    );
    targets.row(`${variant} event-loop p99 at ${FPS} fps`, ms(eldCamP99), '< 20 ms', eldCamP99 < 20);
  } finally {
    await classifier.close();
  }
  return out;
}

async function main(): Promise<void> {
  await ensureModel('float32');
  await ensureModel('int8');
  const targets = new Targets();
  const lines: string[] = [];
  for (const variant of ['float32', 'int8'] as const) lines.push(...(await benchVariant(variant, targets)));
  process.stdout.write(`${[...lines, ...targets.lines()].join('\n')}\n`);
  targets.finish();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:runtime failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
