/**
 * A labelled synthetic dataset for the DEMO model, rendered with the same scene renderer the synthetic
 * camera uses: DIR/{train,val,test}/{bike_lane,crosswalk,side,street}/NNNNN.png + dataset.json.
 * Splits use disjoint seed ranges, so validation and test scenes have looks the model never saw.
 *
 * Each class folder mixes frame sizes and aspect ratios (the device asks the camera for frames near the
 * model's input size, which need not be the training images' shape), all resized by the same preprocessing.
 *
 *   node dist/host-tools/train/demo-dataset.js --out DIR [--per-class 300] [--seed 1]
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '../../lib/errors.js';
import { SCENE_KINDS, createPrng, renderScene, type SceneKind } from '../../runtime/camera/scenes.js';
import { writePngSequence } from './png-frames.js';

export interface DemoDatasetOptions {
  /** Training images per class; val gets a fifth of it and test a third. */
  perClass: number;
  seed: number;
  /** Frame sizes, used in turn; default FRAME_SIZES. */
  sizes?: ReadonlyArray<readonly [number, number]>;
}

/** 4:3, square, 16:9 and model-sized frames. */
export const FRAME_SIZES: ReadonlyArray<readonly [number, number]> = [
  [160, 120],
  [96, 96],
  [192, 108],
  [64, 64],
];

/** Disjoint seed bases per split (scene seeds select lighting, colours, geometry and markings). */
const SPLIT_SEED_BASE = { train: 1_000_000, val: 2_000_000, test: 3_000_000 } as const;

function* sceneFrames(kind: SceneKind, count: number, seedBase: number, seed: number, width: number, height: number): Generator<Uint8Array> {
  const rand = createPrng(seedBase ^ seed ^ (width * 1000 + height) ^ (SCENE_KINDS.indexOf(kind) * 7919));
  for (let i = 0; i < count; i++) {
    const out = new Uint8Array(width * height * 3);
    renderScene(
      kind,
      {
        width,
        height,
        offsetM: rand() * 200,
        seed: seedBase + seed * 10_000 + width * 10 + i * 1000,
        // Mostly full variation, some near-canonical looks.
        variation: rand() < 0.2 ? rand() * 0.5 : 0.5 + rand() * 0.5,
      },
      out,
    );
    yield out;
  }
}

export async function writeDemoDataset(
  dir: string,
  options: DemoDatasetOptions,
  onProgress: (message: string) => void = () => undefined,
): Promise<{ contentHash: string; counts: Record<string, number> }> {
  const counts: Record<string, number> = {};
  const sizes = { train: options.perClass, val: Math.max(4, Math.round(options.perClass / 5)), test: Math.max(4, Math.round(options.perClass / 3)) };
  for (const [split, count] of Object.entries(sizes) as Array<[keyof typeof sizes, number]>) {
    const frameSizes = options.sizes ?? FRAME_SIZES;
    for (const kind of SCENE_KINDS) {
      for (const [i, [width, height]] of frameSizes.entries()) {
        const n = Math.floor(count / frameSizes.length) + (i < count % frameSizes.length ? 1 : 0);
        await writePngSequence(join(dir, split, kind), sceneFrames(kind, n, SPLIT_SEED_BASE[split], options.seed, width, height), { width, height, pattern: `${width}x${height}_%05d.png` });
      }
      counts[split] = (counts[split] ?? 0) + count;
    }
    onProgress(`${split}: ${counts[split]} images`);
  }
  // The renderer is deterministic, so the recipe identifies the content.
  const recipe = JSON.stringify({ renderer: 'runtime/camera/scenes.ts', ...options, sizes });
  const contentHash = `sha256:${createHash('sha256').update(recipe).digest('hex')}`;
  await writeFile(join(dir, 'dataset.json'), `${JSON.stringify({ content_hash: contentHash, synthetic: true, recipe: JSON.parse(recipe) }, null, 2)}\n`);
  return { contentHash, counts };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'per-class': { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const options = { perClass: Number(values['per-class']), seed: Number(values.seed) };
  for (const [k, v] of Object.entries(options)) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k}: expected a positive integer`);
  const result = await writeDemoDataset(values.out, options, (m) => process.stderr.write(`[demo-dataset] ${m}\n`));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`demo-dataset: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  });
}
