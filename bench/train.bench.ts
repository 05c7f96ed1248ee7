/**
 * npm run bench:train — training and evaluation throughput on one machine, one run:
 *   (a) training images/s from the trainer's own epoch events (train images / epoch seconds; the
 *       first epoch, which pays graph tracing and the image cache, is left out), for the tiny CNN and
 *       MobileNetV2 alpha 0.35 (random init), both at 96 px, on a small rendered dataset;
 *   (b) `sidewalk eval` throughput (test images / wall time: ffmpeg decode, device preprocessing,
 *       worker round trip, invoke) against the bare TFLite invoke of the same model.tflite on
 *       ready-made input, measured in a child process (tfjs-tflite-node must not be loaded by two
 *       threads of one process), same delegate and threads, in interleaved rounds; the eval/bare
 *       ratio is the median of same-round ratios, printed with its spread. No targets here.
 * Env: BENCH_PER_CLASS (default 200 train images per class), BENCH_EPOCHS (default 3), BENCH_THREADS (default 2),
 *      BENCH_ROUNDS (default 3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_ROOT } from '../lib/paths.js';
import { evaluateBundle } from '../host-tools/eval/evaluate.js';
import { writeDemoDataset } from '../host-tools/train/demo-dataset.js';
import { runTrainer, type TrainEvent, type TrainOptions } from '../host-tools/train/trainer.js';
import { formatRatios, interleavedRounds, median, sameRoundRatios } from './report.js';

const PER_CLASS = Number(process.env.BENCH_PER_CLASS ?? 200);
const EPOCHS = Math.max(2, Number(process.env.BENCH_EPOCHS ?? 3));
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SIZE = 96;

function bareInvoke(model: string, runs: number): { meanMs: number; p50Ms: number } {
  const r = spawnSync(process.execPath, [join(DIST_ROOT, 'bench', 'bare-invoke.js'), model, 'xnnpack', String(THREADS), String(runs)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bare invoke failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { meanMs: number; p50Ms: number };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'sidewalk-bench-train-'));
  try {
    const data = join(root, 'data');
    const { counts } = await writeDemoDataset(data, { perClass: PER_CLASS, seed: 11 });
    process.stderr.write(`dataset: ${JSON.stringify(counts)} images (mixed frame sizes, resized to ${SIZE} px)\n`);
    const trainImages = counts.train!;
    const archs: Array<{ name: string; options: Partial<TrainOptions> }> = [
      { name: 'tiny', options: { arch: 'tiny' } },
      { name: 'mobilenetv2-0.35', options: { arch: 'mobilenetv2', weights: 'none', alpha: 0.35, fineTuneEpochs: 0 } },
    ];
    const rows: string[] = [];
    for (const { name, options } of archs) {
      process.stderr.write(`training ${name} (${EPOCHS} epochs)...\n`);
      const epochs: TrainEvent[] = [];
      const out = join(root, name);
      const started = performance.now();
      await runTrainer({
        data,
        out,
        inputSize: SIZE,
        epochs: EPOCHS,
        batchSize: 32,
        patience: 50,
        seed: 1,
        variants: ['float32'],
        ...options,
        onEvent: (e) => {
          if (e.event === 'epoch') epochs.push(e);
        },
      });
      const totalS = (performance.now() - started) / 1000;
      const steady = epochs.slice(1).map((e) => e.seconds as number);
      const epochS = steady.reduce((a, b) => a + b, 0) / steady.length;
      const trainRate = trainImages / epochS;

      const bundle = join(out, 'float32');
      const timeEval = async (): Promise<{ seconds: number; report: Awaited<ReturnType<typeof evaluateBundle>> }> => {
        const t0 = performance.now();
        const report = await evaluateBundle({ model: bundle, data, delegate: 'xnnpack', numThreads: THREADS, onProgress: () => undefined });
        return { seconds: (performance.now() - t0) / 1000, report };
      };
      // The first run pays the worker start and bundle load (reported, not counted); then rounds of
      // (eval, bare invoke), the order alternating, in images/s.
      const cold = await timeEval();
      const { report } = cold;
      const bareRuns = Math.max(200, report.dataset.count);
      let bare = { meanMs: 0, p50Ms: 0 };
      const rates = await interleavedRounds(ROUNDS, {
        a: async () => report.dataset.count / (await timeEval()).seconds,
        b: async () => {
          bare = bareInvoke(join(bundle, 'model.tflite'), bareRuns);
          return 1000 / bare.meanMs;
        },
      });
      const evalRate = median(rates.a);
      const bareRate = median(rates.b);
      const evalS = report.dataset.count / evalRate;
      rows.push(
        [
          `${name} @${SIZE}px:`,
          `  training: ${trainRate.toFixed(1)} images/s (${trainImages} train images, steady epoch ${epochS.toFixed(1)} s; whole run incl. TF start and export ${totalS.toFixed(1)} s)`,
          `  eval: ${evalRate.toFixed(1)} images/s, median of ${ROUNDS} (${report.dataset.count} images in ${evalS.toFixed(2)} s; first run ${cold.seconds.toFixed(2)} s; accuracy ${(report.accuracy * 100).toFixed(1)}%, ` +
            `invoke mean ${report.latency_ms.mean.toFixed(3)} ms in the worker)`,
          `  bare TFLite invoke (xnnpack, ${THREADS} threads, child process): ${bareRate.toFixed(1)} images/s (mean ${bare.meanMs.toFixed(3)} ms, p50 ${bare.p50Ms.toFixed(3)} ms)`,
          `  ratio eval/bare throughput: ${formatRatios(sameRoundRatios(rates.a, rates.b), 3)}; eval invoke / bare invoke time: ${(report.latency_ms.mean / bare.meanMs).toFixed(2)}`,
        ].join('\n'),
      );
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:train failed: ${String(err instanceof Error ? err.stack : err)}\n`);
  process.exitCode = 1;
});
