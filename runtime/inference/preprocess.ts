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
 * per-frame path allocates nothing. A yuv420 crop already at model size (the camera's usual case)
 * skips the float planes: luma bytes and 2x-interpolated chroma go straight into the conversion
 * loop (same values, about 3x faster).
 * `resize: "area"` (OpenCV's INTER_AREA) and `pre_resize` (the whole frame resized before the crop)
 * take the 8-bit staged path of preprocess-staged.ts instead: the legacy Pi's preprocessing.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { FrameFormat } from '../types.js';
import { InferenceErrorCode } from './errors.js';
import type { ModelManifest } from './manifest-types.js';
import { isIdentity, makeAxis, makePass, runPass, type PlanePass } from './resample.js';
import { clamp255, clampRound, isDoubling, runDirectFloat, runDirectQuantised, twoTaps, type DirectYuv } from './preprocess-direct.js';
import { cropRect, StagedPreprocess } from './preprocess-staged.js';

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
export function allocateInput(spec: ModelInputSpec): ModelInputArray {
  const n = spec.width * spec.height * 3;
  return spec.dtype === 'float32' ? new Float32Array(n) : spec.dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
}

export class Preprocessor {
  readonly geometry: Readonly<FrameGeometry>;
  readonly output: ModelInputArray;
  /** Integer crop rectangle in frame pixels (in the pre-resized frame's pixels when the manifest has pre_resize). */
  readonly crop: { x: number; y: number; width: number; height: number };
  readonly #spec: ModelInputSpec;
  readonly #passes: PlanePass[];
  readonly #bytesNeeded: number;
  /** Set for yuv420 crops at model size (the camera's usual case); #passes is then empty. */
  readonly #direct: DirectYuv | undefined;
  /** Set for `resize: area` or `pre_resize` (8-bit stages, preprocess-staged.ts); #passes is then empty. */
  readonly #staged: StagedPreprocess | undefined;

  constructor(spec: ModelInputSpec, geometry: FrameGeometry) {
    const { width, height, stride, format } = geometry;
    const invalid = (why: string): SidewalkError =>
      new SidewalkError(InferenceErrorCode.MODEL_FRAME_INVALID, `frame ${width}x${height} stride ${stride} ${format}: ${why}`, { details: { ...geometry } });
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw invalid('bad size');
    const bytesPerPixel = format === 'rgb24' ? 3 : 1;
    if (!Number.isInteger(stride) || stride < width * bytesPerPixel) throw invalid(`stride must be >= ${width * bytesPerPixel}`);
    if (format === 'yuv420' && (width % 2 !== 0 || height % 2 !== 0 || stride % 2 !== 0)) throw invalid('yuv420 needs even width, height and stride');

    this.geometry = { ...geometry };
    this.#spec = spec;
    this.output = allocateInput(spec);
    if (spec.resize === 'area' || spec.pre_resize !== undefined) {
      this.#staged = new StagedPreprocess(spec, geometry);
      this.#passes = [];
      this.#bytesNeeded = format === 'rgb24' ? (height - 1) * stride + width * 3 : stride * height + 2 * (stride / 2) * (height / 2);
      this.crop = this.#staged.crop;
      return;
    }
    this.crop = cropRect(spec.crop, width, height);
    const { x: x0, y: y0 } = this.crop;
    const x1 = x0 + this.crop.width;
    const y1 = y0 + this.crop.height;
    const { width: outW, height: outH } = spec;
    if (format === 'rgb24') {
      this.#passes = [makePass(x0, x1 - x0, y0, y1 - y0, outW, outH, 3)];
      this.#bytesNeeded = (height - 1) * stride + width * 3;
    } else {
      this.#bytesNeeded = stride * height + 2 * (stride / 2) * (height / 2);
      const lumaX = makeAxis(x0, x1 - x0, outW);
      const lumaY = makeAxis(y0, y1 - y0, outH);
      if (isIdentity(lumaX, outW) && isIdentity(lumaY, outH)) {
        // A crop at model size: luma is read straight from the frame and chroma (2x) is
        // interpolated row by row inside the conversion loop, with no full-size float planes.
        const chromaX = makeAxis(x0 / 2, (x1 - x0) / 2, outW);
        const chromaY = makeAxis(y0 / 2, (y1 - y0) / 2, outH);
        if (chromaX.taps <= 2 && chromaY.taps <= 2) {
          this.#passes = [];
          const taps = twoTaps(chromaX, true);
          this.#direct = {
            lumaOffset: lumaY.first * stride + lumaX.first,
            chromaX: taps,
            chromaY: twoTaps(chromaY),
            rowU: new Float64Array(chromaX.end - chromaX.first),
            rowV: new Float64Array(chromaX.end - chromaX.first),
            doublingX: isDoubling(taps, outW),
          };
          return;
        }
      }
      const luma = makePass(x0, x1 - x0, y0, y1 - y0, outW, outH, 1);
      this.#passes = [luma, makePass(x0 / 2, (x1 - x0) / 2, y0 / 2, (y1 - y0) / 2, outW, outH, 1)];
      this.#passes.push(makePass(x0 / 2, (x1 - x0) / 2, y0 / 2, (y1 - y0) / 2, outW, outH, 1));
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
      throw new SidewalkError(InferenceErrorCode.MODEL_FRAME_INVALID, `frame ${width}x${height} stride ${stride} ${format}: ${data.length} bytes, expected at least ${this.#bytesNeeded}`);
    }
    if (out.length !== this.output.length) throw new SidewalkError(InferenceErrorCode.MODEL_FRAME_INVALID, `output has ${out.length} values, expected ${this.output.length}`);
    const { width: outW, height: outH } = this.#spec;
    const passes = this.#passes;
    if (this.#staged !== undefined) {
      this.#finish(out, this.#staged.run(data), false);
      return out;
    }
    if (this.#direct !== undefined) {
      const chromaStride = stride / 2;
      const uBase = stride * height;
      const vBase = uBase + chromaStride * (height / 2);
      const spec = this.#spec;
      if (spec.dtype === 'float32') runDirectFloat(this.#direct, spec, data, stride, uBase, vBase, chromaStride, out as Float32Array);
      else runDirectQuantised(this.#direct, spec, data, stride, uBase, vBase, chromaStride, out);
      return out;
    }
    if (format === 'rgb24') {
      runPass(passes[0]!, data, 0, stride, outW, outH);
    } else {
      const chromaStride = stride / 2;
      runPass(passes[0]!, data, 0, stride, outW, outH);
      runPass(passes[1]!, data, stride * height, chromaStride, outW, outH);
      runPass(passes[2]!, data, stride * height + chromaStride * (height / 2), chromaStride, outW, outH);
    }
    this.#finish(out, passes[0]!.out, format === 'yuv420');
    return out;
  }

  /** Colour conversion (from Y, U, V planes when `yuv`), colour order, normalisation and quantisation into `out`. */
  #finish(out: ModelInputArray, p0: Float32Array, yuv: boolean): void {
    const spec = this.#spec;
    const n = spec.width * spec.height;
    const { scale, offset } = spec.normalization;
    const bgr = spec.color_order === 'bgr';
    const rIndex = bgr ? 2 : 0;
    const bIndex = bgr ? 0 : 2;
    if (yuv && spec.dtype === 'float32') {
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
