/**
 * Preprocessing against an independent reference: ffmpeg (swscale, bilinear with accurate rounding
 * and full chroma interpolation) crops and resizes the same real image to RGB.
 * Tolerance: mean |ours - ffmpeg| < 0.5 levels and max <= 2 levels (ffmpeg rounds to uint8, so a
 * mean of ~0.25 is the floor); int8 outputs whose steps fall between levels get half a step more.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { Preprocessor, type ModelInputSpec } from '../../../runtime/inference/preprocess.js';
import { DASHCAM_VIDEO } from '../../helpers/paths.js';
import { convertRawFrame, ffmpeg } from '../../helpers/ffmpeg.js';
import { makeTempDir } from '../../helpers/temp.js';

const W = 640;
const H = 360;
const VIDEO = DASHCAM_VIDEO;

let dir: string;
let rgb: Uint8Array;
let i420: Uint8Array;

before(async () => {
  dir = await makeTempDir('sidewalk-preprocess-');
  // One real frame as packed RGB, and the same picture as full-range I420 (what rpicam-vid emits).
  await ffmpeg(['-ss', '2', '-i', VIDEO, '-frames:v', '1', '-vf', `scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', join(dir, 'src.rgb')]);
  await convertRawFrame({ path: join(dir, 'src.rgb'), pixFmt: 'rgb24', width: W, height: H }, 'scale=out_range=full', 'yuvj420p', join(dir, 'src.yuv'));
  rgb = await readFile(join(dir, 'src.rgb'));
  i420 = await readFile(join(dir, 'src.yuv'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** ffmpeg's crop+resize of the source file to packed RGB. */
async function ffmpegReference(format: 'rgb24' | 'yuv420', crop: { x: number; y: number; width: number; height: number }, outW: number, outH: number): Promise<Uint8Array> {
  const out = join(dir, `ref-${format}-${outW}x${outH}-${crop.x}-${crop.y}.rgb`);
  await convertRawFrame(
    { path: join(dir, format === 'rgb24' ? 'src.rgb' : 'src.yuv'), pixFmt: format === 'rgb24' ? 'rgb24' : 'yuvj420p', width: W, height: H },
    `crop=${crop.width}:${crop.height}:${crop.x}:${crop.y},scale=${outW}:${outH}:flags=bilinear+accurate_rnd+full_chroma_int+full_chroma_inp`,
    'rgb24',
    out,
  );
  return readFile(out);
}

function spec(overrides: Partial<ModelInputSpec> = {}): ModelInputSpec {
  return {
    width: 64,
    height: 64,
    dtype: 'float32',
    color_order: 'rgb',
    normalization: { scale: 1, offset: 0 },
    crop: { x: 0, y: 0.25, width: 1, height: 0.75 },
    resize: 'bilinear',
    ...overrides,
  };
}

/** Copies rows into a buffer whose rows are `stride` bytes (padding filled with noise). */
function pad(src: Uint8Array, rowBytes: number, rows: number, stride: number): Uint8Array {
  const out = new Uint8Array(stride * rows).map((_, i) => (i * 37) & 0xff);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * rowBytes, (r + 1) * rowBytes), r * stride);
  return out;
}

/** Padded I420 with Y stride `stride` and chroma stride `stride / 2`, as the Pi's ISP lays it out. */
function padI420(src: Uint8Array, stride: number): Uint8Array {
  const y = pad(src.subarray(0, W * H), W, H, stride);
  const cw = W / 2;
  const ch = H / 2;
  const u = pad(src.subarray(W * H, W * H + cw * ch), cw, ch, stride / 2);
  const v = pad(src.subarray(W * H + cw * ch), cw, ch, stride / 2);
  const out = new Uint8Array(y.length + u.length + v.length);
  out.set(y, 0);
  out.set(u, y.length);
  out.set(v, y.length + u.length);
  return out;
}

function compare(ours: ArrayLike<number>, reference: ArrayLike<number>, toLevels: (v: number) => number = (v) => v): { mean: number; max: number } {
  assert.equal(ours.length, reference.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(toLevels(ours[i]!) - reference[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / reference.length, max };
}

function assertClose(result: { mean: number; max: number }, label: string, limits = { mean: 0.5, max: 2 }): void {
  assert.ok(result.mean < limits.mean, `${label}: mean abs error ${result.mean.toFixed(3)} >= ${limits.mean}`);
  assert.ok(result.max <= limits.max, `${label}: max abs error ${result.max.toFixed(2)} > ${limits.max}`);
}

const CASES = [
  { name: 'lower 3/4 to 64x64 (downscale 10x)', outW: 64, outH: 64, crop: { x: 0, y: 0.25, width: 1, height: 0.75 } },
  { name: 'centre half to 224x224 (upscale)', outW: 224, outH: 224, crop: { x: 0.25, y: 0.25, width: 0.5, height: 0.5 } },
  { name: 'whole frame to 96x54', outW: 96, outH: 54, crop: { x: 0, y: 0, width: 1, height: 1 } },
];

describe('Preprocessor vs ffmpeg', () => {
  for (const c of CASES) {
    test(`rgb24 with padded stride: ${c.name}`, async () => {
      const p = new Preprocessor(spec({ width: c.outW, height: c.outH, crop: c.crop }), { width: W, height: H, stride: W * 3 + 64, format: 'rgb24' });
      const out = p.run(pad(rgb, W * 3, H, W * 3 + 64));
      assertClose(compare(out, await ffmpegReference('rgb24', p.crop, c.outW, c.outH)), c.name);
    });

    test(`yuv420 with padded strides: ${c.name}`, async () => {
      const stride = 704; // next multiple of 64 above 640, as the Pi 4 ISP pads
      const p = new Preprocessor(spec({ width: c.outW, height: c.outH, crop: c.crop }), { width: W, height: H, stride, format: 'yuv420' });
      const out = p.run(padI420(i420, stride));
      assertClose(compare(out, await ffmpegReference('yuv420', p.crop, c.outW, c.outH)), c.name);
    });
  }

  test('odd crop offsets in rgb24 and unpadded frames', async () => {
    const crop = { x: 0.1, y: 0.05, width: 0.7, height: 0.9 };
    const p = new Preprocessor(spec({ width: 80, height: 60, crop }), { width: W, height: H, stride: W * 3, format: 'rgb24' });
    assert.deepEqual(p.crop, { x: 64, y: 18, width: 448, height: 324 });
    assertClose(compare(p.run(rgb), await ffmpegReference('rgb24', p.crop, 80, 60)), 'odd crop');
  });

  test('bgr colour order swaps R and B of the reference', async () => {
    const p = new Preprocessor(spec({ color_order: 'bgr' }), { width: W, height: H, stride: W, format: 'yuv420' });
    const out = p.run(i420);
    const ref = await ffmpegReference('yuv420', p.crop, 64, 64);
    const swapped = new Uint8Array(ref.length);
    for (let i = 0; i < ref.length; i += 3) swapped.set([ref[i + 2]!, ref[i + 1]!, ref[i]!], i);
    assertClose(compare(out, swapped), 'bgr');
    // And it really is swapped: comparing with unswapped RGB must fail on this colourful image.
    assert.ok(compare(out, ref).mean > 2);
  });

  test('float normalisation to [-1, 1]', async () => {
    const p = new Preprocessor(spec({ normalization: { scale: 1 / 127.5, offset: -1 } }), { width: W, height: H, stride: W * 3, format: 'rgb24' });
    const out = p.run(rgb);
    assert.ok(out instanceof Float32Array);
    assert.ok(out.every((v) => v >= -1 && v <= 1));
    assertClose(
      compare(out, await ffmpegReference('rgb24', p.crop, 64, 64), (v) => (v + 1) * 127.5),
      'normalised',
    );
  });

  test('int8 and uint8 quantisation', async () => {
    const ref = await ffmpegReference('yuv420', { x: 0, y: 90, width: 640, height: 270 }, 64, 64);
    const normalization = { scale: 1 / 127.5, offset: -1 };
    const int8 = new Preprocessor(spec({ dtype: 'int8', normalization, quantization: { scale: 2 / 255, zero_point: -1 } }), { width: W, height: H, stride: W, format: 'yuv420' });
    const q8 = int8.run(i420);
    assert.ok(q8 instanceof Int8Array);
    // real = level/127.5 - 1; q = real / (2/255) - 1 = level - 128.5 -> level = q + 128.5
    // q is an integer and level - 128.5 is not: half a step more than the float tolerance.
    assertClose(
      compare(q8, ref, (q) => q + 128.5),
      'int8',
      { mean: 1, max: 2.5 },
    );
    const uint8 = new Preprocessor(spec({ dtype: 'uint8', normalization: { scale: 1, offset: 0 }, quantization: { scale: 1, zero_point: 0 } }), { width: W, height: H, stride: W, format: 'yuv420' });
    const u8 = uint8.run(i420);
    assert.ok(u8 instanceof Uint8Array);
    assertClose(compare(u8, ref), 'uint8');
  });

  test('reuses its output array and tables across frames', () => {
    const p = new Preprocessor(spec(), { width: W, height: H, stride: W * 3, format: 'rgb24' });
    const first = p.run(rgb);
    const copy = Float32Array.from(first);
    const second = p.run(rgb);
    assert.equal(first, second);
    assert.deepEqual(second, copy);
    assert.ok(p.matches({ width: W, height: H, stride: W * 3, format: 'rgb24' }));
    assert.ok(!p.matches({ width: W, height: H, stride: W * 3 + 64, format: 'rgb24' }));
  });
});

describe('Preprocessor frame checks', () => {
  test('short buffers and bad geometry are MODEL_FRAME_INVALID', () => {
    const p = new Preprocessor(spec(), { width: W, height: H, stride: 704, format: 'yuv420' });
    assert.throws(
      () => p.run(i420),
      (err) => isSidewalkError(err, 'MODEL_FRAME_INVALID') && /expected at least 380160/.test(err.message),
    );
    assert.throws(
      () => new Preprocessor(spec(), { width: W, height: H, stride: W * 2, format: 'rgb24' }),
      (err) => isSidewalkError(err, 'MODEL_FRAME_INVALID') && /stride must be >= 1920/.test(err.message),
    );
    assert.throws(
      () => new Preprocessor(spec(), { width: 641, height: H, stride: 704, format: 'yuv420' }),
      (err) => isSidewalkError(err, 'MODEL_FRAME_INVALID') && /even/.test(err.message),
    );
  });
});
