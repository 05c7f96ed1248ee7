/**
 * `resize: area` against OpenCV itself (opencv-python-headless in the trainer's venv, from
 * host-tools/train/requirements-eval.txt) on real dashcam frames, and the legacy Pi's preprocessing
 * (LEGACY_INPUT) against a transcription of the legacy cv2 code (test/helpers/opencv_reference.py),
 * up to a stand-in for the legacy mobileV2_*.tflite run by the device's classifier.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureEvalVenv } from '../../../host-tools/python/venv.js';
import { createTfliteClassifier } from '../../../runtime/inference/classifier.js';
import { LEGACY_INPUT, legacyManifest } from '../../../runtime/inference/legacy.js';
import { Preprocessor, type ModelInputSpec } from '../../../runtime/inference/preprocess.js';
import { DASHCAM_VIDEO, FIXTURES, REPO_ROOT } from '../../helpers/paths.js';
import { convertRawFrame, ffmpeg } from '../../helpers/ffmpeg.js';
import { makeTempDir } from '../../helpers/temp.js';

const REFERENCE = join(REPO_ROOT, 'test', 'helpers', 'opencv_reference.py');
const STANDIN = join(FIXTURES, 'models', 'legacy', 'mobileV2_standin.tflite');
interface Runner {
  getInputs(): { data(): Float32Array }[];
  getOutputs(): { data(): Float32Array }[];
  infer(): boolean;
}
const { TFLiteNodeModelRunner } = createRequire(import.meta.url)('tfjs-tflite-node') as { TFLiteNodeModelRunner: new (model: ArrayBuffer, o: { threads: number }) => Runner };
/** Interpreters are never finalized while the process runs (as in classifier-worker.ts). */
const keepAlive: Runner[] = [];

interface RawFrame {
  path: string;
  width: number;
  height: number;
  rgb: Uint8Array;
}
let dir: string;
let python: string;
/** Native 960x540 frames at three moments of the clip. */
const frames: RawFrame[] = [];

async function extract(name: string, second: number, size?: [number, number]): Promise<RawFrame> {
  const path = join(dir, `${name}.rgb`);
  await ffmpeg(['-ss', String(second), '-i', DASHCAM_VIDEO, '-frames:v', '1', ...(size ? ['-vf', `scale=${size[0]}:${size[1]}:flags=bicubic`] : []), '-f', 'rawvideo', '-pix_fmt', 'rgb24', path]);
  const rgb = await readFile(path);
  return { path, width: size?.[0] ?? 960, height: size?.[1] ?? 540, rgb };
}

/** Runs the OpenCV reference on one job (see opencv_reference.py). */
function reference(job: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, [REFERENCE], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' }, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`opencv_reference.py exited ${code}: ${err}`))));
    p.stdin.end(JSON.stringify(job));
  });
}

function areaSpec(width: number, height: number, crop = { x: 0, y: 0, width: 1, height: 1 }): ModelInputSpec {
  return { width, height, dtype: 'float32', color_order: 'rgb', normalization: { scale: 1, offset: 0 }, crop, resize: 'area' };
}

before(async () => {
  dir = await makeTempDir('sidewalk-area-');
  python = (await ensureEvalVenv()).python;
  for (const second of [1, 4, 7]) frames.push(await extract(`f${second}`, second));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resize: area matches cv2.resize(INTER_AREA)', () => {
  // [name, crop rectangle in pixels or null, output size, shrinks on both axes]
  const cases: [string, [number, number, number, number] | null, number, number, boolean][] = [
    ['whole factor 2 (2x2 blocks)', null, 480, 270, true],
    ['whole factor 3', null, 320, 180, true],
    ['whole factor 4', null, 240, 135, true],
    ['1:1', null, 960, 540, true],
    ['non-integer 1.5 x 1.125 (a 16:9 frame to 640x480)', null, 640, 480, true],
    ['non-integer, extreme (960x540 to 7x5)', null, 7, 5, true],
    ['crop 480x480 to 224x224 (factor 2.14)', [240, 30, 480, 480], 224, 224, true],
    ['crop enlarged on one axis, shrunk on the other', [300, 100, 300, 200], 224, 224, false],
    ['crop enlarged on both axes', [500, 300, 100, 80], 224, 224, false],
  ];

  test('shrinking is identical to OpenCV byte for byte; enlarging within 1 level', async () => {
    const job = { cases: [] as object[] };
    const expected: { frame: RawFrame; name: string; crop: [number, number, number, number] | null; w: number; h: number; shrink: boolean; out: string }[] = [];
    for (const frame of frames) {
      for (const [name, crop, w, h, shrink] of cases) {
        const out = join(dir, `ref-${expected.length}.rgb`);
        job.cases.push({
          src: frame.path,
          width: frame.width,
          height: frame.height,
          out,
          ops: crop
            ? [
                ['crop', ...crop],
                ['resize', w, h],
              ]
            : [['resize', w, h]],
        });
        expected.push({ frame, name, crop, w, h, shrink, out });
      }
    }
    await reference(job);
    for (const e of expected) {
      const { frame } = e;
      const crop = e.crop ? { x: e.crop[0] / frame.width, y: e.crop[1] / frame.height, width: e.crop[2] / frame.width, height: e.crop[3] / frame.height } : undefined;
      const p = new Preprocessor(areaSpec(e.w, e.h, crop), { width: frame.width, height: frame.height, stride: frame.width * 3, format: 'rgb24' });
      if (e.crop) assert.deepEqual(p.crop, { x: e.crop[0], y: e.crop[1], width: e.crop[2], height: e.crop[3] });
      const ours = p.run(frame.rgb);
      const cv = await readFile(e.out);
      assert.equal(ours.length, cv.length, e.name);
      let max = 0;
      let differ = 0;
      for (let i = 0; i < cv.length; i++) {
        const d = Math.abs(ours[i]! - cv[i]!);
        if (d > max) max = d;
        if (d !== 0) differ++;
      }
      const where = `${e.name}, ${frame.path}: ${differ} of ${cv.length} values differ, max ${max}`;
      if (e.shrink) assert.equal(differ, 0, where);
      else {
        // OpenCV enlarges 8-bit images in 11-bit fixed point; this is the exact-weight result of the same coefficients.
        assert.ok(max <= 1, where);
        assert.ok(differ / cv.length < 0.1, where);
      }
    }
  });
});

describe('resize: area on yuv420 camera frames', () => {
  test("the frame is made RGB first, then resized as OpenCV does: on average within a quarter level of cv2 on ffmpeg's RGB", async () => {
    // The camera's I420 of a real frame, and ffmpeg's full-chroma RGB of that I420 as OpenCV's input.
    const yuvPath = join(dir, 'f4.yuv');
    const rgbPath = join(dir, 'f4-from-yuv.rgb');
    await convertRawFrame({ path: frames[1]!.path, pixFmt: 'rgb24', width: 960, height: 540 }, 'scale=out_range=full', 'yuvj420p', yuvPath);
    await convertRawFrame({ path: yuvPath, pixFmt: 'yuvj420p', width: 960, height: 540 }, 'scale=flags=bilinear+accurate_rnd+full_chroma_int+full_chroma_inp', 'rgb24', rgbPath);
    const out = join(dir, 'yuv-640.rgb');
    await reference({ cases: [{ src: rgbPath, width: 960, height: 540, ops: [['resize', 640, 480]], out }] });
    const ours = new Preprocessor(areaSpec(640, 480), { width: 960, height: 540, stride: 960, format: 'yuv420' }).run(await readFile(yuvPath));
    const cv = await readFile(out);
    let sum = 0;
    let far = 0;
    for (let i = 0; i < cv.length; i++) {
      const d = Math.abs(ours[i]! - cv[i]!);
      sum += d;
      if (d > 2) far++;
    }
    // Chroma interpolation differs from ffmpeg's only at sharp colour edges (a few values in a thousand).
    assert.ok(sum / cv.length < 0.25, `mean |ours - cv2| = ${sum / cv.length}`);
    assert.ok(far / cv.length < 0.005, `${far} of ${cv.length} values more than 2 levels apart`);
  });
});

describe('the legacy Pi preprocessing (LEGACY_INPUT)', () => {
  test('the runtime feeds a legacy mobileV2 model the tensor the legacy cv2 code made, and gets its scores', async () => {
    // The legacy camera sizes: 640x480 (plain) and 1648x1232 (with licence-plate capture, resized
    // to 640x480 first); and our dashcam's 960x540.
    const inputs = [frames[0]!, await extract('cam640', 4, [640, 480]), await extract('cam1648', 7, [1648, 1232])];
    const job = { legacy: inputs.map((f, i) => ({ src: f.path, width: f.width, height: f.height, out: join(dir, `legacy-${i}.f32`) })) };
    await reference(job);
    // The legacy scores: the model on the legacy tensor, through TFLite directly (no preprocessing of ours).
    const model = await readFile(STANDIN);
    const runner = new TFLiteNodeModelRunner(new Uint8Array(model).buffer, { threads: 1 });
    keepAlive.push(runner);
    const legacyTensors: Float32Array[] = [];
    const legacyScores: number[][] = [];
    for (const l of job.legacy) {
      const tensor = new Float32Array(new Uint8Array(await readFile(l.out)).buffer);
      runner.getInputs()[0]!.data().set(tensor);
      assert.ok(runner.infer());
      legacyTensors.push(tensor);
      legacyScores.push(Array.from(runner.getOutputs()[0]!.data()));
    }

    // The legacy model file, unchanged, as model.tflite of a bundle with the legacy manifest.
    const bundle = join(dir, 'legacy-bundle');
    await mkdir(bundle);
    await copyFile(STANDIN, join(bundle, 'model.tflite'));
    const manifest = legacyManifest(model, { name: 'legacy-standin', version: '1.0.0', location: 'LA' });
    await writeFile(join(bundle, 'manifest.json'), JSON.stringify(manifest, null, 2));
    const rgbBundle = join(dir, 'legacy-bundle-rgb');
    await mkdir(rgbBundle);
    await copyFile(STANDIN, join(rgbBundle, 'model.tflite'));
    await writeFile(join(rgbBundle, 'manifest.json'), JSON.stringify({ ...manifest, input: { ...manifest.input, color_order: 'rgb' } }));

    const classifier = await createTfliteClassifier(bundle, { delegate: 'cpu', numThreads: 1 });
    const wrongOrder = await createTfliteClassifier(rgbBundle, { delegate: 'cpu', numThreads: 1 });
    try {
      for (const [i, f] of inputs.entries()) {
        const geometry = { width: f.width, height: f.height, stride: f.width * 3, format: 'rgb24' as const };
        const tensor = new Preprocessor(LEGACY_INPUT, geometry).run(f.rgb) as Float32Array;
        const legacy = legacyTensors[i]!;
        assert.equal(tensor.length, legacy.length);
        let max = 0;
        for (let k = 0; k < legacy.length; k++) max = Math.max(max, Math.abs(tensor[k]! - legacy[k]!));
        // Same 8-bit levels; only float32 rounding of (x - 127.5) / 127.5 vs x / 127.5 - 1 may differ.
        assert.ok(max < 1e-6, `${f.width}x${f.height}: max |runtime - legacy| = ${max}`);

        const frame = { seq: i, capturedAtNs: 0n, ...geometry, data: new Uint8Array(f.rgb) };
        const scores = Array.from((await classifier.classify(frame)).probabilities);
        const gap = Math.max(...scores.map((s, k) => Math.abs(s - legacyScores[i]![k]!)));
        assert.ok(gap < 1e-5, `${f.width}x${f.height}: runtime ${scores} vs legacy ${legacyScores[i]}`);
        // The comparison can fail: the same frame in RGB order scores measurably differently.
        const rgbScores = Array.from((await wrongOrder.classify({ ...frame, data: new Uint8Array(f.rgb) })).probabilities);
        assert.ok(Math.max(...rgbScores.map((s, k) => Math.abs(s - legacyScores[i]![k]!))) > 1e-3, `RGB order: ${rgbScores}`);
      }
    } finally {
      await classifier.close();
      await wrongOrder.close();
    }
  });
});
