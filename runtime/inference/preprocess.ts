/**
 * Frame -> model input, driven only by the manifest's `input` spec (the one definition training,
 * evaluation and the device share): crop (fractions of the frame, rounded to whole pixels) ->
 * bilinear resize -> colour order -> normalisation (real = pixel * scale + offset) -> quantisation
 * for int8/uint8 inputs (q = round(real / scale) + zero_point, clamped).
 *
 * "bilinear" is the triangle filter with half-pixel centres, widened by the scale factor when
 * shrinking (as ffmpeg's swscale, PIL and tf.image.resize(antialias=True) do), so large
 * downscales average instead of aliasing; at or above 1:1 it is plain bilinear interpolation.
 * yuv420 is I420, full-range BT.601 (what rpicam-vid emits), chroma centre-sited; Y, U and V are
 * each resampled on their own plane, then converted (the conversion is affine, so this equals
 * converting first). Index/weight tables and scratch rows are built once per frame geometry; the
 * per-frame path allocates nothing.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { FrameFormat } from '../types.js';
import { InferenceErrorCode } from './errors.js';
import type { ModelManifest } from './manifest-types.js';

export type ModelInputSpec = ModelManifest['input'];
export type ModelInputArray = Float32Array | Int8Array | Uint8Array;

export interface FrameGeometry {
  width: number;
  height: number;
  /** Bytes per row of the (Y) plane. */
  stride: number;
  format: FrameFormat;
}

/** Resampling taps of one axis: output i reads `taps` source indices from start[i] with weights[i*taps..]. */
interface Axis {
  start: Int32Array;
  weights: Float32Array;
  taps: number;
  /** First and one-past-last source index any output reads. */
  first: number;
  end: number;
}

/** Source region [offset, offset+length) of a plane of `size` pixels resampled to `outSize` samples. */
function makeAxis(offset: number, length: number, outSize: number): Axis {
  const scale = length / outSize;
  const support = Math.max(1, scale);
  const lo = Math.floor(offset);
  const hi = Math.ceil(offset + length) - 1;
  // Pixel j covers [j, j+1), centre j + 0.5; it has weight while |j + 0.5 - centre| < support.
  const jMins = new Int32Array(outSize);
  const jMaxs = new Int32Array(outSize);
  let widest = 1;
  for (let i = 0; i < outSize; i++) {
    const centre = offset + (i + 0.5) * scale;
    jMins[i] = Math.floor(centre - support - 0.5) + 1;
    jMaxs[i] = Math.ceil(centre + support - 0.5) - 1;
    widest = Math.max(widest, Math.min(jMaxs[i]!, hi) - Math.max(jMins[i]!, lo) + 1);
  }
  // As few taps as any output needs (1 at 1:1, 2 when enlarging): the per-frame loops are this long.
  // Never more taps than the crop is wide, so every read stays inside the crop (and the frame).
  const taps = Math.min(widest, hi - lo + 1);
  const start = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  let first = hi;
  let end = lo;
  for (let i = 0; i < outSize; i++) {
    const centre = offset + (i + 0.5) * scale;
    const jMin = jMins[i]!;
    const s = Math.min(Math.max(jMin, lo), hi - taps + 1);
    start[i] = s;
    let sum = 0;
    for (let j = jMin; j <= jMaxs[i]!; j++) {
      const w = 1 - Math.abs(j + 0.5 - centre) / support;
      if (w <= 0) continue;
      // Taps outside the crop repeat its edge pixel (as cropping first, then scaling, does).
      weights[i * taps + Math.min(Math.max(j, lo), hi) - s]! += w;
      sum += w;
    }
    for (let k = 0; k < taps; k++) weights[i * taps + k]! /= sum;
    first = Math.min(first, s);
    end = Math.max(end, s + taps);
  }
  return { start, weights, taps, first, end };
}

/** One plane (Y, U, V, or interleaved RGB) resampled into `channels` output values per pixel. */
interface PlanePass {
  x: Axis;
  y: Axis;
  channels: number;
  /** Horizontal pass results: (y.end - y.first) rows of outWidth*channels values. */
  rows: Float32Array;
  /** Vertical pass results: outHeight*outWidth*channels values (the same array as `rows` when the vertical axis is 1:1). */
  out: Float32Array;
  verticalIdentity: boolean;
}

/** 1:1 axis: output i reads exactly source first + i with weight 1 (a crop at model size). */
function isIdentity(a: Axis, outSize: number): boolean {
  if (a.taps !== 1 || a.end - a.first !== outSize) return false;
  for (let i = 0; i < outSize; i++) if (a.start[i] !== a.first + i || a.weights[i] !== 1) return false;
  return true;
}

function makePass(x0: number, w: number, y0: number, h: number, outW: number, outH: number, channels: number): PlanePass {
  const x = makeAxis(x0, w, outW);
  const y = makeAxis(y0, h, outH);
  const rows = new Float32Array((y.end - y.first) * outW * channels);
  const verticalIdentity = isIdentity(y, outH);
  return { x, y, channels, rows, out: verticalIdentity ? rows : new Float32Array(outW * outH * channels), verticalIdentity };
}

function runPass(p: PlanePass, data: Uint8Array, base: number, stride: number, outW: number, outH: number): void {
  const { x, y, channels: ch, rows, out } = p;
  const rowLength = outW * ch;
  const xTaps = x.taps;
  const xStart = x.start;
  const xWeights = x.weights;
  // Horizontal: the single-channel planes (Y, U, V) at 1 or 2 taps are the camera's common cases
  // (model-sized frames, 2x chroma), so they get loops the JIT can keep tight.
  for (let sy = y.first; sy < y.end; sy++) {
    const src = base + sy * stride;
    let d = (sy - y.first) * rowLength;
    if (ch === 1 && xTaps === 1) {
      for (let dx = 0; dx < outW; dx++) rows[d++] = data[src + xStart[dx]!]! * xWeights[dx]!;
    } else if (ch === 1 && xTaps === 2) {
      for (let dx = 0; dx < outW; dx++) {
        const s0 = src + xStart[dx]!;
        rows[d++] = data[s0]! * xWeights[2 * dx]! + data[s0 + 1]! * xWeights[2 * dx + 1]!;
      }
    } else {
      for (let dx = 0; dx < outW; dx++) {
        const s0 = src + xStart[dx]! * ch;
        const w0 = dx * xTaps;
        for (let c = 0; c < ch; c++) {
          let acc = 0;
          for (let k = 0; k < xTaps; k++) acc += data[s0 + k * ch + c]! * xWeights[w0 + k]!;
          rows[d++] = acc;
        }
      }
    }
  }
  if (p.verticalIdentity) return; // `out` is `rows`
  // Vertical: whole rows at a time, one tap after another (sequential memory access).
  for (let dy = 0; dy < outH; dy++) {
    const r0 = (y.start[dy]! - y.first) * rowLength;
    const w0 = dy * y.taps;
    const dst = dy * rowLength;
    const first = y.weights[w0]!;
    for (let i = 0; i < rowLength; i++) out[dst + i] = rows[r0 + i]! * first;
    for (let k = 1; k < y.taps; k++) {
      const w = y.weights[w0 + k]!;
      const rk = r0 + k * rowLength;
      for (let i = 0; i < rowLength; i++) out[dst + i] += rows[rk + i]! * w;
    }
  }
}

export function allocateInput(spec: ModelInputSpec): ModelInputArray {
  const n = spec.width * spec.height * 3;
  return spec.dtype === 'float32' ? new Float32Array(n) : spec.dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
}

export class Preprocessor {
  readonly geometry: Readonly<FrameGeometry>;
  readonly output: ModelInputArray;
  /** Integer crop rectangle in frame pixels. */
  readonly crop: { x: number; y: number; width: number; height: number };
  readonly #spec: ModelInputSpec;
  readonly #passes: PlanePass[];
  readonly #bytesNeeded: number;

  constructor(spec: ModelInputSpec, geometry: FrameGeometry) {
    const { width, height, stride, format } = geometry;
    const invalid = (why: string): SidewalkError => new SidewalkError(InferenceErrorCode.MODEL_FRAME_INVALID,
      `frame ${width}x${height} stride ${stride} ${format}: ${why}`, { details: { ...geometry } });
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw invalid('bad size');
    const bytesPerPixel = format === 'rgb24' ? 3 : 1;
    if (!Number.isInteger(stride) || stride < width * bytesPerPixel) throw invalid(`stride must be >= ${width * bytesPerPixel}`);
    if (format === 'yuv420' && (width % 2 !== 0 || height % 2 !== 0 || stride % 2 !== 0)) throw invalid('yuv420 needs even width, height and stride');

    this.geometry = { ...geometry };
    this.#spec = spec;
    this.output = allocateInput(spec);
    const x0 = Math.min(width - 1, Math.round(spec.crop.x * width));
    const y0 = Math.min(height - 1, Math.round(spec.crop.y * height));
    const x1 = Math.max(x0 + 1, Math.min(width, Math.round((spec.crop.x + spec.crop.width) * width)));
    const y1 = Math.max(y0 + 1, Math.min(height, Math.round((spec.crop.y + spec.crop.height) * height)));
    this.crop = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    const { width: outW, height: outH } = spec;
    if (format === 'rgb24') {
      this.#passes = [makePass(x0, x1 - x0, y0, y1 - y0, outW, outH, 3)];
      this.#bytesNeeded = (height - 1) * stride + width * 3;
    } else {
      const luma = makePass(x0, x1 - x0, y0, y1 - y0, outW, outH, 1);
      this.#passes = [luma, makePass(x0 / 2, (x1 - x0) / 2, y0 / 2, (y1 - y0) / 2, outW, outH, 1)];
      this.#passes.push(makePass(x0 / 2, (x1 - x0) / 2, y0 / 2, (y1 - y0) / 2, outW, outH, 1));
      this.#bytesNeeded = stride * height + 2 * (stride / 2) * (height / 2);
    }
  }

  matches(g: FrameGeometry): boolean {
    const own = this.geometry;
    return g.width === own.width && g.height === own.height && g.stride === own.stride && g.format === own.format;
  }

  /** Fills `out` (default: this.output) from one frame's bytes and returns it. */
  run(data: Uint8Array, out: ModelInputArray = this.output): ModelInputArray {
    const { width, height, stride, format } = this.geometry;
    if (data.length < this.#bytesNeeded) {
      throw new SidewalkError(InferenceErrorCode.MODEL_FRAME_INVALID,
        `frame ${width}x${height} stride ${stride} ${format}: ${data.length} bytes, expected at least ${this.#bytesNeeded}`);
    }
    if (out.length !== this.output.length) throw new SidewalkError(InferenceErrorCode.MODEL_FRAME_INVALID, `output has ${out.length} values, expected ${this.output.length}`);
    const { width: outW, height: outH } = this.#spec;
    const passes = this.#passes;
    if (format === 'rgb24') {
      runPass(passes[0]!, data, 0, stride, outW, outH);
    } else {
      const chromaStride = stride / 2;
      runPass(passes[0]!, data, 0, stride, outW, outH);
      runPass(passes[1]!, data, stride * height, chromaStride, outW, outH);
      runPass(passes[2]!, data, stride * height + chromaStride * (height / 2), chromaStride, outW, outH);
    }
    this.#finish(out);
    return out;
  }

  /** Colour conversion, colour order, normalisation and quantisation into `out`. */
  #finish(out: ModelInputArray): void {
    const spec = this.#spec;
    const n = spec.width * spec.height;
    const { scale, offset } = spec.normalization;
    const bgr = spec.color_order === 'bgr';
    const rIndex = bgr ? 2 : 0;
    const bIndex = bgr ? 0 : 2;
    const p0 = this.#passes[0]!.out;
    if (this.geometry.format === 'yuv420' && spec.dtype === 'float32') {
      // The hot case (camera frames, float model) in one branch-free loop.
      const pu = this.#passes[1]!.out;
      const pv = this.#passes[2]!.out;
      for (let i = 0, o = 0; i < n; i++, o += 3) {
        const yy = p0[i]!;
        const u = pu[i]! - 128;
        const v = pv[i]! - 128;
        out[o + rIndex] = clamp255(yy + 1.402 * v) * scale + offset;
        out[o + 1] = clamp255(yy - 0.344136 * u - 0.714136 * v) * scale + offset;
        out[o + bIndex] = clamp255(yy + 1.772 * u) * scale + offset;
      }
      return;
    }
    const quantised = spec.dtype !== 'float32';
    const qScale = quantised ? 1 / spec.quantization!.scale : 1;
    const qZero = quantised ? spec.quantization!.zero_point : 0;
    const [qMin, qMax] = spec.dtype === 'int8' ? [-128, 127] : [0, 255];
    const yuv = this.geometry.format === 'yuv420';
    const pu = yuv ? this.#passes[1]!.out : p0;
    const pv = yuv ? this.#passes[2]!.out : p0;
    for (let i = 0; i < n; i++) {
      let r: number;
      let g: number;
      let b: number;
      if (yuv) {
        const yy = p0[i]!;
        const u = pu[i]! - 128;
        const v = pv[i]! - 128;
        r = yy + 1.402 * v;
        g = yy - 0.344136 * u - 0.714136 * v;
        b = yy + 1.772 * u;
      } else {
        r = p0[i * 3]!;
        g = p0[i * 3 + 1]!;
        b = p0[i * 3 + 2]!;
      }
      r = clamp255(r);
      g = clamp255(g);
      b = clamp255(b);
      const o = i * 3;
      if (!quantised) {
        out[o + rIndex] = r * scale + offset;
        out[o + 1] = g * scale + offset;
        out[o + bIndex] = b * scale + offset;
      } else {
        out[o + rIndex] = clampRound((r * scale + offset) * qScale + qZero, qMin, qMax);
        out[o + 1] = clampRound((g * scale + offset) * qScale + qZero, qMin, qMax);
        out[o + bIndex] = clampRound((b * scale + offset) * qScale + qZero, qMin, qMax);
      }
    }
  }
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function clampRound(v: number, lo: number, hi: number): number {
  const q = Math.round(v);
  return q < lo ? lo : q > hi ? hi : q;
}
