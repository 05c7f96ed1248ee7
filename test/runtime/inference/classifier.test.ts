/**
 * The classifier on the real TFLite 2.9.0 runtime (tfjs-tflite-node) with the fixture models:
 * XNNPACK (the native shim built by scripts/build-native.mjs) and the plain interpreter must agree.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { loadModelBundle } from '../../../runtime/inference/bundle.js';
import { createTfliteClassifier, type TfliteClassifier } from '../../../runtime/inference/classifier.js';
import type { Frame } from '../../../runtime/types.js';
import { REPO_ROOT, DASHCAM_VIDEO } from '../../helpers/paths.js';
import { makeTempDir } from '../../helpers/temp.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'models');
const W = 320;
const H = 240;
const LABELS = ['bike_lane', 'crosswalk', 'side', 'street'];

/** Synthetic ground like the fixtures were trained on (see test/fixtures/models/README.md). */
function groundRgb(label: string): Uint8Array {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const noise = ((x * 7 + y * 13) % 11) - 5;
      let c: [number, number, number];
      if (label === 'bike_lane') c = [60, 150, 80];
      else if (label === 'side') c = [175, 175, 165];
      else if (label === 'street') c = [45, 45, 45];
      else c = x % 70 < 35 ? [225, 225, 225] : [50, 50, 50];
      data.set(
        c.map((v) => v + noise),
        (y * W + x) * 3,
      );
    }
  }
  return data;
}

function rgbFrame(data: Uint8Array, seq: number): Frame {
  return { seq, capturedAtNs: process.hrtime.bigint(), width: W, height: H, stride: W * 3, format: 'rgb24', data };
}

/** The same picture as padded full-range BT.601 I420 (stride 384, as the Pi 4 ISP pads 320). */
function yuvFrame(rgb: Uint8Array, seq: number): Frame {
  const stride = 384;
  const cs = stride / 2;
  const data = new Uint8Array(stride * H + 2 * cs * (H / 2));
  const uBase = stride * H;
  const vBase = uBase + cs * (H / 2);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [r, g, b] = [rgb[(y * W + x) * 3]!, rgb[(y * W + x) * 3 + 1]!, rgb[(y * W + x) * 3 + 2]!];
      data[y * stride + x] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      if (x % 2 === 0 && y % 2 === 0) {
        data[uBase + (y / 2) * cs + x / 2] = Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
        data[vBase + (y / 2) * cs + x / 2] = Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
      }
    }
  }
  return { seq, capturedAtNs: process.hrtime.bigint(), width: W, height: H, stride, format: 'yuv420', data };
}

const top1 = (p: Float32Array): string => LABELS[p.indexOf(Math.max(...p))]!;
const sum = (p: Float32Array): number => p.reduce((a, b) => a + b, 0);

let dashcam: Uint8Array;
let tmp: string;
before(async () => {
  tmp = await makeTempDir('sidewalk-classifier-');
  const out = join(tmp, 'frame.rgb');
  await promisify(execFile)('ffmpeg', ['-v', 'error', '-y', '-ss', '3', '-i', DASHCAM_VIDEO, '-frames:v', '1', '-vf', `scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', out]);
  dashcam = await readFile(out);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('TFLite classifier, XNNPACK vs plain interpreter', () => {
  const classifiers: TfliteClassifier[] = [];
  after(async () => {
    await Promise.all(classifiers.map((c) => c.close()));
  });

  for (const fixture of ['float', 'int8']) {
    test(`${fixture}: both backends find the trained class on rgb24 and padded yuv420 frames`, async () => {
      const xnnpack = await createTfliteClassifier(join(FIXTURES, fixture), { delegate: 'xnnpack', numThreads: 1 });
      classifiers.push(xnnpack);
      const cpu = await createTfliteClassifier(join(FIXTURES, fixture), { delegate: 'cpu', numThreads: 1 });
      classifiers.push(cpu);
      assert.equal(xnnpack.info.backend, 'xnnpack');
      assert.equal(cpu.info.backend, 'cpu');
      assert.deepEqual(xnnpack.manifest.labels, LABELS);
      let seq = 0;
      for (const label of LABELS) {
        const rgb = groundRgb(label);
        for (const frame of [rgbFrame(rgb, seq++), yuvFrame(rgb, seq++)]) {
          const a = await xnnpack.classify(frame);
          const b = await cpu.classify(frame);
          assert.equal(top1(a.probabilities), label, `${fixture} xnnpack ${frame.format} ${label}: ${a.probabilities}`);
          assert.equal(top1(b.probabilities), label, `${fixture} cpu ${frame.format} ${label}: ${b.probabilities}`);
          for (const r of [a, b]) {
            assert.equal(r.probabilities.length, 4);
            assert.ok(Math.abs(sum(r.probabilities) - 1) < 0.02, `probabilities sum to ${sum(r.probabilities)}`);
            assert.ok(r.preprocessMs >= 0 && r.inferenceMs >= 0);
          }
        }
      }
      // A real road frame: whatever the tiny model says, both backends must say the same.
      const a = await xnnpack.classify(rgbFrame(new Uint8Array(dashcam), 100));
      const b = await cpu.classify(rgbFrame(new Uint8Array(dashcam), 101));
      assert.equal(top1(a.probabilities), top1(b.probabilities));
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(a.probabilities[i]! - b.probabilities[i]!) < (fixture === 'int8' ? 0.02 : 1e-4));
    });
  }

  test('the frame buffer comes back to the caller after classify', async () => {
    const c = await createTfliteClassifier(join(FIXTURES, 'float'), { delegate: 'cpu', numThreads: 1 });
    classifiers.push(c);
    const original = groundRgb('side');
    const frame = rgbFrame(new Uint8Array(original), 1);
    const pending = c.classify(frame);
    assert.equal(frame.data.byteLength, 0, 'transferred to the worker, not copied');
    await pending;
    assert.deepEqual(frame.data, original);
    // A view into a larger buffer is copied instead and left untouched.
    const big = new Uint8Array(original.length + 16);
    big.set(original, 16);
    const view = rgbFrame(big.subarray(16), 2);
    assert.equal(top1((await c.classify(view)).probabilities), 'side');
    assert.equal(view.data.byteLength, original.length);
  });

  test('a second frame while one is in flight is MODEL_CLASSIFIER_BUSY; after close MODEL_CLASSIFIER_CLOSED', async () => {
    const c = await createTfliteClassifier(join(FIXTURES, 'float'), { delegate: 'xnnpack', numThreads: 1 });
    classifiers.push(c);
    const first = c.classify(rgbFrame(groundRgb('street'), 1));
    await assert.rejects(c.classify(rgbFrame(groundRgb('street'), 2)), (err) => isSidewalkError(err, 'MODEL_CLASSIFIER_BUSY'));
    assert.equal(top1((await first).probabilities), 'street');
    await c.close();
    await assert.rejects(c.classify(rgbFrame(groundRgb('street'), 3)), (err) => isSidewalkError(err, 'MODEL_CLASSIFIER_CLOSED'));
  });

  test('two models share the worker: parallel frames, then a swap (close + load) like an OTA model update', async () => {
    const float = await createTfliteClassifier(join(FIXTURES, 'float'), { delegate: 'xnnpack', numThreads: 1 });
    classifiers.push(float);
    const int8 = await createTfliteClassifier(join(FIXTURES, 'int8'), { delegate: 'xnnpack', numThreads: 1 });
    classifiers.push(int8);
    for (const label of LABELS) {
      const [a, b] = await Promise.all([float.classify(rgbFrame(groundRgb(label), 1)), int8.classify(yuvFrame(groundRgb(label), 2))]);
      assert.equal(top1(a.probabilities), label);
      assert.equal(top1(b.probabilities), label);
    }
    await float.close();
    await assert.rejects(float.classify(rgbFrame(groundRgb('side'), 3)), (err) => isSidewalkError(err, 'MODEL_CLASSIFIER_CLOSED'));
    const next = await createTfliteClassifier(join(FIXTURES, 'float'), { delegate: 'cpu', numThreads: 1 });
    classifiers.push(next);
    assert.equal(top1((await next.classify(rgbFrame(groundRgb('bike_lane'), 4))).probabilities), 'bike_lane');
    assert.equal(top1((await int8.classify(rgbFrame(groundRgb('crosswalk'), 5))).probabilities), 'crosswalk');
  });

  test('a frame with a wrong byte count is rejected and the classifier keeps working', async () => {
    const c = await createTfliteClassifier(join(FIXTURES, 'float'), { delegate: 'cpu', numThreads: 1 });
    classifiers.push(c);
    const short = rgbFrame(groundRgb('street').subarray(0, 1000), 1);
    await assert.rejects(c.classify(short), (err) => isSidewalkError(err, 'MODEL_FRAME_INVALID') && /1000 bytes/.test(err.message));
    assert.equal(top1((await c.classify(rgbFrame(groundRgb('street'), 2))).probabilities), 'street');
  });
});

describe('TFLite classifier failures', () => {
  test('the worker checks the real input tensor against the manifest (MODEL_INPUT_MISMATCH)', async () => {
    const bundle = await loadModelBundle(join(FIXTURES, 'float'));
    const lying = { ...bundle, manifest: { ...bundle.manifest, input: { ...bundle.manifest.input, width: 32 } } };
    await assert.rejects(
      createTfliteClassifier(lying, { delegate: 'cpu' }),
      (err) => isSidewalkError(err, 'MODEL_INPUT_MISMATCH') && /shape \[1,64,64,3\], manifest\.json input says \[1,64,32,3\]/.test(err.message),
    );
  });

  test('a worker that dies rejects the pending classify with MODEL_WORKER_CRASHED instead of hanging', async () => {
    const c = await createTfliteClassifier(join(FIXTURES, 'float'), {
      delegate: 'cpu',
      workerUrl: new URL('./crashing-worker.js', import.meta.url),
    });
    await assert.rejects(c.classify(rgbFrame(groundRgb('side'), 1)), (err) => isSidewalkError(err, 'MODEL_WORKER_CRASHED') && /simulated native failure/.test(err.message));
    await assert.rejects(c.classify(rgbFrame(groundRgb('side'), 2)), (err) => isSidewalkError(err, 'MODEL_WORKER_CRASHED'));
    await c.close();
  });

  test('a classify that never returns is MODEL_INFERENCE_TIMEOUT and the worker is stopped', async () => {
    const c = await createTfliteClassifier(join(FIXTURES, 'float'), {
      delegate: 'cpu',
      timeoutMs: 300,
      workerUrl: new URL('./silent-worker.js', import.meta.url),
    });
    await assert.rejects(c.classify(rgbFrame(groundRgb('side'), 7)), (err) => isSidewalkError(err, 'MODEL_INFERENCE_TIMEOUT') && /frame 7 took longer than 300 ms/.test(err.message));
    await assert.rejects(c.classify(rgbFrame(groundRgb('side'), 8)), (err) => isSidewalkError(err, 'MODEL_INFERENCE_TIMEOUT'));
    await c.close();
  });

  test('a missing XNNPACK shim is MODEL_DELEGATE_UNAVAILABLE', async () => {
    await assert.rejects(
      createTfliteClassifier(join(FIXTURES, 'float'), { delegate: 'xnnpack', xnnpackLibrary: join(tmp, 'nope.so') }),
      (err) => isSidewalkError(err, 'MODEL_DELEGATE_UNAVAILABLE') && /nope\.so/.test(err.message),
    );
  });

  test('a bundle the loader refuses never reaches a worker', async () => {
    await assert.rejects(createTfliteClassifier(join(FIXTURES, 'too-new'), { delegate: 'xnnpack' }), (err) => isSidewalkError(err, 'MODEL_RUNTIME_TOO_OLD'));
  });
});
