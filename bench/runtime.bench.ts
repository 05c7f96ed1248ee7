/**
 * npm run bench:runtime — the hot path against bare TFLite, same machine, same model, one run:
 *   (a) bare TFLite invoke with XNNPACK on ready-made input (and without, for XNNPACK's speed-up);
 *   (b) the full per-frame path: raw YUV420 camera frame -> worker (preprocess + invoke) ->
 *       decide -> ramp -> limiter command.
 * Prints a/b, b/a, p50/p99 frame-to-actuation, event-loop delay p99 while inferring, RSS after 500
 * and 5,000 frames. Model: MobileNetV2 224x224 float (random weights; built once with the trainer).
 * Env: BENCH_THREADS (default 1), BENCH_FRAMES (default 5000), BENCH_CAMERA (default 224x224).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { REPO_ROOT, DIST_ROOT } from '../lib/paths.js';
import { ensureTrainVenv, TRAIN_DIR } from '../host-tools/train/venv.js';
import { createTfliteClassifier } from '../runtime/inference/index.js';
import { renderScene, rgbToI420, i420FrameBytes } from '../runtime/camera/scenes.js';
import { DecisionEngine } from '../runtime/decision/index.js';
import { Ramp } from '../runtime/actuators/ramp.js';
import { Pipeline, type FrameClassifier } from '../runtime/service/pipeline.js';
import { createRuntimeMetrics } from '../telemetry/runtime-metrics.js';
import type { Frame, FrameSource, SpeedLimiter } from '../runtime/types.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 5000);
const WARMUP = 500;
const MODEL_DIR = join(REPO_ROOT, '.cache', 'bench', 'mobilenetv2-224');
// The camera is asked for the model's resolution (DESIGN.md: the ISP scales for free); its rows are
// padded to 64 bytes as on a Pi 4. BENCH_CAMERA=WxH tries other sizes.
const [CAM_W, CAM_H] = (process.env.BENCH_CAMERA ?? '224x224').split('x').map(Number) as [number, number];
const CAMERA = { width: CAM_W, height: CAM_H, stride: Math.ceil(CAM_W / 64) * 64 };

async function ensureModel(): Promise<void> {
  if (existsSync(join(MODEL_DIR, 'manifest.json'))) return;
  process.stderr.write(`building ${MODEL_DIR} (MobileNetV2 224 float, random weights) with the trainer's venv...\n`);
  const venv = await ensureTrainVenv();
  execFileSync(venv.python, [join(REPO_ROOT, 'bench', 'make_bench_model.py'), MODEL_DIR], {
    cwd: TRAIN_DIR,
    env: { ...process.env, PYTHONPATH: TRAIN_DIR, TF_CPP_MIN_LOG_LEVEL: '2' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function bareInvoke(delegate: 'xnnpack' | 'none', runs: number): { meanMs: number; p50Ms: number } {
  const r = spawnSync(process.execPath, [join(DIST_ROOT, 'bench', 'bare-invoke.js'), join(MODEL_DIR, 'model.tflite'), delegate, String(THREADS), String(runs)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bare invoke (${delegate}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { meanMs: number; p50Ms: number };
}

/**
 * Cycles a few pre-rendered raw YUV420 camera frames, stamped with their capture time as next()
 * hands them out. The Frame objects are reused: the classifier transfers frame.data to its worker
 * and re-attaches it when classify() settles.
 */
class CyclingCamera implements FrameSource {
  readonly description = `bench camera ${CAMERA.width}x${CAMERA.height} yuv420`;
  readonly stats = { frames: 0, dropped: 0, restarts: 0 };
  #frames: Frame[] = [];
  #seq = 0;
  async start(): Promise<void> {
    const rgb = new Uint8Array(CAMERA.width * CAMERA.height * 3);
    for (const [i, kind] of (['street', 'side', 'crosswalk', 'bike_lane'] as const).entries()) {
      renderScene(kind, { width: CAMERA.width, height: CAMERA.height, seed: i + 1 }, rgb);
      const yuv = new Uint8Array(i420FrameBytes(CAMERA.stride, CAMERA.height));
      rgbToI420(rgb, CAMERA.width, CAMERA.height, CAMERA.stride, yuv);
      this.#frames.push({ seq: 0, capturedAtNs: 0n, width: CAMERA.width, height: CAMERA.height, stride: CAMERA.stride, format: 'yuv420', data: yuv });
    }
  }
  async next(): Promise<Frame | null> {
    if (this.#seq >= FRAMES) return null;
    const seq = this.#seq++;
    this.stats.frames++;
    const frame = this.#frames[Math.floor(seq / 30) % this.#frames.length]!;
    frame.seq = seq;
    frame.mediaTimeMs = (seq * 1000) / 15;
    frame.capturedAtNs = process.hrtime.bigint();
    return frame;
  }
  async stop(): Promise<void> {}
}

/** Records frame-to-actuation latency into a preallocated array (no per-command allocation). */
class LatencyLimiter implements SpeedLimiter {
  readonly kind = 'bench';
  readonly latenciesMs = new Float64Array(FRAMES);
  count = 0;
  async init(): Promise<void> {}
  async setLimit(_kph: number, frameCapturedAtNs?: bigint): Promise<void> {
    if (frameCapturedAtNs !== undefined && this.count < FRAMES) this.latenciesMs[this.count++] = Number(process.hrtime.bigint() - frameCapturedAtNs) / 1e6;
  }
  async safeState(): Promise<void> {}
  async close(): Promise<void> {}
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function main(): Promise<void> {
  await ensureModel();
  process.stderr.write(`(a) bare invoke, ${THREADS} thread(s)...\n`);
  const a = bareInvoke('xnnpack', 300);
  const plain = bareInvoke('none', 30);

  process.stderr.write(`(b) full path, ${FRAMES} frames...\n`);
  const tflite = await createTfliteClassifier(MODEL_DIR, { delegate: 'xnnpack', numThreads: THREADS });
  const classifier: FrameClassifier = {
    info: { name: tflite.manifest.name, version: tflite.manifest.version, location: 'bench', sha256: '', backend: tflite.backend },
    labels: tflite.manifest.labels,
    groups: tflite.manifest.groups,
    classify: (f) => tflite.classify(f),
    close: () => tflite.close(),
  };
  const camera = new CyclingCamera();
  await camera.start();
  const limiter = new LatencyLimiter();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let t500 = 0;
  let rss500 = 0;
  let inferenceMsSum = 0;
  let preprocessMsSum = 0;
  const pipeline = new Pipeline({
    source: camera,
    classifier,
    decision: new DecisionEngine(),
    limitRule: new Ramp(6),
    limiter,
    speedSource: null,
    metrics: createRuntimeMetrics({ defaultMetrics: false }),
    timebase: 'media',
    onDecision: (r) => {
      if (r.seq === WARMUP - 1) {
        t500 = performance.now();
        rss500 = process.memoryUsage().rss;
        eld.enable();
      } else if (r.seq >= WARMUP) {
        inferenceMsSum += r.inferenceMs;
        preprocessMsSum += r.preprocessMs;
      }
    },
  });
  await pipeline.run();
  const tEnd = performance.now();
  eld.disable();
  const rss5000 = process.memoryUsage().rss;
  await pipeline.stop();
  await tflite.close();

  const measured = FRAMES - WARMUP;
  const b = (tEnd - t500) / measured;
  const lat = limiter.latenciesMs.slice(WARMUP, limiter.count).sort();
  const mb = (x: number) => (x / 1048576).toFixed(1);
  const check = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const ratio = b / a.meanMs;
  const eldP99 = eld.percentile(99) / 1e6;
  const growth = (rss5000 - rss500) / rss500;
  const lines = [
    `model: MobileNetV2 224x224 float32, ${THREADS} TFLite thread(s); camera frames ${CAMERA.width}x${CAMERA.height} YUV420`,
    `(a) bare invoke, XNNPACK:           ${a.meanMs.toFixed(2)} ms (p50 ${a.p50Ms.toFixed(2)})`,
    `    bare invoke, default interpreter: ${plain.meanMs.toFixed(2)} ms -> XNNPACK speed-up ${(plain.meanMs / a.meanMs).toFixed(1)}x`,
    `(b) full path per frame:            ${b.toFixed(2)} ms (inside it: preprocess ${(preprocessMsSum / measured).toFixed(2)} ms, invoke ${(inferenceMsSum / measured).toFixed(2)} ms)`,
    `b/a ratio:                          ${ratio.toFixed(3)}  (target <= 1.15: ${check(ratio <= 1.15)})`,
    `frame-to-actuation:                 p50 ${percentile(lat, 0.5).toFixed(2)} ms, p99 ${percentile(lat, 0.99).toFixed(2)} ms`,
    `event-loop delay p99 while inferring: ${eldP99.toFixed(2)} ms  (target < 20: ${check(eldP99 < 20)})`,
    `RSS after ${WARMUP} frames ${mb(rss500)} MB, after ${FRAMES} ${mb(rss5000)} MB: growth ${(growth * 100).toFixed(2)}%  (target < 5%: ${check(growth < 0.05)})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:runtime failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
