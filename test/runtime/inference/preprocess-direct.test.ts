/**
 * The direct path: a yuv420 frame whose crop is already at model size (the camera is asked for the
 * model's resolution), so luma is read 1:1 and chroma is upsampled 2x inside the conversion loop.
 * Checked against ffmpeg on a real frame, and exactly on synthetic planes (luma bytes, linear
 * chroma ramps) for crops at odd offsets, where chroma sits half a sample off the 2x grid.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Preprocessor, type ModelInputSpec } from '../../../runtime/inference/preprocess.js';
import { DASHCAM_VIDEO } from '../../helpers/paths.js';
import { convertRawFrame, ffmpeg } from '../../helpers/ffmpeg.js';
import { makeTempDir } from '../../helpers/temp.js';

const W = 320;
const H = 180;
const STRIDE = 384; // padded to 64 bytes, as the Pi 4 ISP does
const VIDEO = DASHCAM_VIDEO;

let dir: string;
let i420: Uint8Array;
let reference: Uint8Array;

before(async () => {
  dir = await makeTempDir('sidewalk-preprocess-direct-');
  const yuv = join(dir, 'frame.yuv');
  await ffmpeg(['-ss', '3', '-i', VIDEO, '-frames:v', '1', '-vf', `scale=${W}:${H},scale=out_range=full`, '-pix_fmt', 'yuvj420p', '-f', 'rawvideo', yuv]);
  i420 = await readFile(yuv);
  // ffmpeg's own conversion of the same I420 bytes to RGB at the same size (chroma upsampled bilinearly).
  const rgb = join(dir, 'frame.rgb');
  // At 1:1 swscale's direct yuv420->rgb converter repeats chroma samples, so chroma is first
  // upsampled on its own (bilinear, centre-sited) to 4:4:4, which then converts pixel by pixel.
  await convertRawFrame(
    { path: yuv, pixFmt: 'yuvj420p', width: W, height: H },
    `scale=${W}:${H}:flags=bilinear+accurate_rnd+full_chroma_inp:in_h_chr_pos=128:in_v_chr_pos=128,format=yuvj444p,` + `scale=${W}:${H}:flags=bilinear+accurate_rnd+full_chroma_int`,
    'rgb24',
    rgb,
  );
  reference = await readFile(rgb);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function spec(overrides: Partial<ModelInputSpec> = {}): ModelInputSpec {
  return {
    width: W,
    height: H,
    dtype: 'float32',
    color_order: 'rgb',
    normalization: { scale: 1, offset: 0 },
    crop: { x: 0, y: 0, width: 1, height: 1 },
    resize: 'bilinear',
    ...overrides,
  };
}

/** I420 with luma stride `stride` and chroma stride `stride / 2`, padding filled with noise. */
function layout(y: (x: number, row: number) => number, u: (x: number, row: number) => number, v: (x: number, row: number) => number, width: number, height: number, stride: number): Uint8Array {
  const cs = stride / 2;
  const out = new Uint8Array(stride * height + cs * height).map((_, i) => (i * 37) & 0xff);
  for (let r = 0; r < height; r++) for (let x = 0; x < width; x++) out[r * stride + x] = y(x, r);
  for (let r = 0; r < height / 2; r++) {
    for (let x = 0; x < width / 2; x++) {
      out[stride * height + r * cs + x] = u(x, r);
      out[stride * height + cs * (height / 2) + r * cs + x] = v(x, r);
    }
  }
  return out;
}

function padded(src: Uint8Array): Uint8Array {
  const at = (plane: number, w: number) => (x: number, r: number) => src[plane + r * w + x]!;
  return layout(at(0, W), at(W * H, W / 2), at(W * H + (W / 2) * (H / 2), W / 2), W, H, STRIDE);
}

function meanMax(ours: ArrayLike<number>, ref: ArrayLike<number>, toLevels: (v: number) => number): { mean: number; max: number } {
  assert.equal(ours.length, ref.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(toLevels(ours[i]!) - ref[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / ref.length, max };
}

describe('Preprocessor direct path (frame at model size)', () => {
  test('float, normalised to [-1, 1], padded stride: matches ffmpeg', () => {
    const p = new Preprocessor(spec({ normalization: { scale: 1 / 127.5, offset: -1 } }), { width: W, height: H, stride: STRIDE, format: 'yuv420' });
    const out = p.run(padded(i420));
    const { mean, max } = meanMax(out, reference, (v) => (v + 1) * 127.5);
    assert.ok(mean < 0.5 && max <= 2, `mean ${mean.toFixed(3)}, max ${max.toFixed(2)}`);
  });

  test('bgr and uint8 variants match ffmpeg', () => {
    const geometry = { width: W, height: H, stride: STRIDE, format: 'yuv420' as const };
    const bgr = new Preprocessor(spec({ color_order: 'bgr' }), geometry).run(padded(i420));
    const swapped = new Uint8Array(reference.length);
    for (let i = 0; i < reference.length; i += 3) swapped.set([reference[i + 2]!, reference[i + 1]!, reference[i]!], i);
    const b = meanMax(bgr, swapped, (v) => v);
    assert.ok(b.mean < 0.5 && b.max <= 2, `bgr: mean ${b.mean.toFixed(3)}, max ${b.max.toFixed(2)}`);
    const u8 = new Preprocessor(spec({ dtype: 'uint8', quantization: { scale: 1, zero_point: 0 } }), geometry).run(padded(i420));
    assert.ok(u8 instanceof Uint8Array);
    const q = meanMax(u8, reference, (v) => v);
    assert.ok(q.mean < 0.5 && q.max <= 2, `uint8: mean ${q.mean.toFixed(3)}, max ${q.max.toFixed(2)}`);
  });

  for (const [name, x0, y0] of [
    ['even', 64, 32],
    ['odd', 65, 33],
  ] as const) {
    test(`${name} crop offsets: luma 1:1, chroma ramps interpolated at the right positions`, () => {
      // Frame 448x256 (stride 512); model 224x128 cropped at (x0, y0). Luma is a hash of its position,
      // kept in [100, 150] so nothing clamps; U ramps along x, V along y (both linear, so bilinear is exact).
      const fw = 448;
      const fh = 256;
      const luma = (x: number, r: number): number => 100 + ((x * 7 + r * 13) % 51);
      const frame = layout(
        luma,
        (x) => 20 + x,
        (_x, r) => 40 + r,
        fw,
        fh,
        512,
      );
      const outW = 224;
      const outH = 128;
      const p = new Preprocessor(spec({ width: outW, height: outH, crop: { x: x0 / fw, y: y0 / fh, width: outW / fw, height: outH / fh } }), { width: fw, height: fh, stride: 512, format: 'yuv420' });
      assert.deepEqual(p.crop, { x: x0, y: y0, width: outW, height: outH });
      const out = p.run(frame);
      for (let dy = 1; dy < outH - 1; dy++) {
        for (let dx = 1; dx < outW - 1; dx++) {
          const o = (dy * outW + dx) * 3;
          const yy = luma(x0 + dx, y0 + dy);
          // Centre-sited chroma: frame pixel X sits at chroma coordinate (X + 0.5) / 2 - 0.5.
          const u = 20 + (x0 + dx + 0.5) / 2 - 0.5;
          const v = 40 + (y0 + dy + 0.5) / 2 - 0.5;
          const expect = [yy + 1.402 * (v - 128), yy - 0.344136 * (u - 128) - 0.714136 * (v - 128), yy + 1.772 * (u - 128)].map((c) => Math.min(255, Math.max(0, c)));
          for (let c = 0; c < 3; c++) {
            assert.ok(Math.abs(out[o + c]! - expect[c]!) < 1e-3, `(${dx}, ${dy}) channel ${c}: ${out[o + c]} != ${expect[c]}`);
          }
        }
      }
    });
  }
});
