/**
 * Baseline for bench:runtime: the bare TFLite invoke on ready-made input, nothing else. Runs in
 * its own process because tfjs-tflite-node must not be loaded by two threads of one process.
 * Usage: node dist/bench/bare-invoke.js BUNDLE/model.tflite xnnpack|none THREADS RUNS  -> one JSON line
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { XNNPACK_LIBRARY } from '../runtime/inference/classifier.js';

interface Tensor {
  data(): Float32Array | Int8Array | Uint8Array;
}
interface Runner {
  getInputs(): Tensor[];
  infer(): boolean;
}
type RunnerClass = new (model: ArrayBuffer, options: { threads: number; delegate?: { path: string; options: [string, string][] } }) => Runner;

const [modelPath, delegate, threadsArg, runsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const runs = Number(runsArg);
const { TFLiteNodeModelRunner } = createRequire(import.meta.url)('tfjs-tflite-node') as { TFLiteNodeModelRunner: RunnerClass };
const model = new Uint8Array(readFileSync(modelPath!)).buffer;
// The XNNPACK flags the runtime's classifier sets for the bundle's input type (QS8 for int8 models).
const manifest = JSON.parse(readFileSync(join(dirname(modelPath!), 'manifest.json'), 'utf8')) as { input: { dtype: 'float32' | 'int8' | 'uint8' } };
const flags = { float32: 0, int8: 1, uint8: 2 }[manifest.input.dtype];
const runner = new TFLiteNodeModelRunner(model, {
  threads,
  ...(delegate === 'xnnpack'
    ? {
        delegate: {
          path: XNNPACK_LIBRARY,
          options: [
            ['num_threads', String(threads)],
            ['flags', String(flags)],
          ],
        },
      }
    : {}),
});
const input = runner.getInputs()[0]!.data();
// Float input in the model's normalised range; an int8 model takes raw quantised bytes.
const random = input instanceof Float32Array ? () => Math.random() * 2 - 1 : input instanceof Int8Array ? () => Math.floor(Math.random() * 256) - 128 : () => Math.floor(Math.random() * 256);
for (let i = 0; i < input.length; i++) input[i] = random();
for (let i = 0; i < Math.min(20, runs); i++) runner.infer();
const times = new Float64Array(runs);
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  runner.infer();
  times[i] = performance.now() - t0;
}
times.sort();
const mean = times.reduce((a, b) => a + b, 0) / runs;
process.stdout.write(`${JSON.stringify({ delegate, threads, runs, meanMs: mean, p50Ms: times[Math.floor(runs / 2)] })}\n`);
