/**
 * Helpers for the trainer tests: a tiny four-class image dataset written as PNG by ffmpeg, and a
 * runner that pushes frames through the device's own preprocessing and its bundled TFLite 2.9.
 */
import { createRequire } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePngSequence } from '../../../host-tools/train/png-frames.js';
import { createPrng } from '../../../runtime/camera/scenes.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import { Preprocessor } from '../../../runtime/inference/preprocess.js';

export const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'] as const;

/** Distinguishable by colour and pattern: green lane, white-striped grey, beige tiles, dark grey. */
export function renderSample(label: (typeof LABELS)[number], size: number, seed: number): Uint8Array {
  const rand = createPrng(seed);
  const out = new Uint8Array(size * size * 3);
  const base: Record<string, [number, number, number]> = {
    bike_lane: [40, 150, 70],
    crosswalk: [90, 90, 95],
    side: [190, 170, 140],
    street: [45, 45, 55],
  };
  const [r, g, b] = base[label]!;
  const phase = Math.floor(rand() * 8);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let c: [number, number, number] = [r, g, b];
      if (label === 'crosswalk' && (x + phase) % 8 < 4) c = [235, 235, 235];
      if (label === 'side' && ((x + phase) % 10 === 0 || (y + phase) % 10 === 0)) c = [120, 110, 100];
      const n = (rand() - 0.5) * 30;
      const o = (y * size + x) * 3;
      out[o] = Math.max(0, Math.min(255, Math.round(c[0] + n)));
      out[o + 1] = Math.max(0, Math.min(255, Math.round(c[1] + n)));
      out[o + 2] = Math.max(0, Math.min(255, Math.round(c[2] + n)));
    }
  }
  return out;
}

export const SPLIT_SIZES = { train: 16, val: 4, test: 6 } as const;

/** DIR/{train,val,test}/<label>/NNNNN.png plus dataset.json; returns the test split's frames. */
export async function writeColourDataset(dir: string, size: number, contentHash: string): Promise<Array<{ label: number; rgb: Uint8Array }>> {
  const test: Array<{ label: number; rgb: Uint8Array }> = [];
  let seed = 1;
  for (const [split, count] of Object.entries(SPLIT_SIZES)) {
    for (const [index, label] of LABELS.entries()) {
      const frames = Array.from({ length: count }, () => renderSample(label, size, seed++));
      await writePngSequence(join(dir, split, label), frames, { width: size, height: size });
      if (split === 'test') for (const rgb of frames) test.push({ label: index, rgb });
    }
  }
  await writeFile(join(dir, 'dataset.json'), JSON.stringify({ content_hash: contentHash }));
  return test;
}

interface NativeTensor {
  dataType: string;
  shape: number[] | string;
  data(): Float32Array | Int8Array | Uint8Array;
}
interface NativeRunner {
  getInputs(): NativeTensor[];
  getOutputs(): NativeTensor[];
  infer(): boolean;
}
type NativeRunnerClass = new (model: ArrayBuffer, options: { threads: number }) => NativeRunner;

/** Classifies rgb24 frames with a bundle's model.tflite exactly as the device would prepare them. */
export async function classifyWithDeviceRuntime(bundleDir: string, frames: Uint8Array[], frameSize: number): Promise<{ probabilities: number[][]; inputType: string }> {
  const manifest = JSON.parse(await readFile(join(bundleDir, 'manifest.json'), 'utf8')) as ModelManifest;
  const bytes = await readFile(join(bundleDir, 'model.tflite'));
  const { TFLiteNodeModelRunner } = createRequire(import.meta.url)('tfjs-tflite-node') as { TFLiteNodeModelRunner: NativeRunnerClass };
  const runner = new TFLiteNodeModelRunner(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), { threads: 1 });
  const pre = new Preprocessor(manifest.input, { width: frameSize, height: frameSize, stride: frameSize * 3, format: 'rgb24' });
  const input = runner.getInputs()[0]!;
  const probabilities: number[][] = [];
  for (const frame of frames) {
    input.data().set(pre.run(frame));
    runner.infer();
    const raw = Array.from(runner.getOutputs()[0]!.data());
    const q = manifest.output?.quantization;
    probabilities.push(q ? raw.map((v) => (v - q.zero_point) * q.scale) : raw);
  }
  return { probabilities, inputType: input.dataType };
}

export function argmax(values: number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}
