/**
 * Preprocessing in 8-bit image stages, for manifests that resize as OpenCV does (`resize: "area"`)
 * or resize the whole frame before cropping (`pre_resize`, the legacy Pi's 640x480 frame):
 *   frame -> 8-bit RGB -> [pre-resize to pre_resize.width x pre_resize.height, rounded to 8 bits]
 *        -> crop (fractions of that image, whole pixels) -> resize to the model's size.
 * Every intermediate image is 8-bit, as the legacy cv2 code's were; with `area` the last resize is
 * rounded to 8 bits too (cv2.resize of a uint8 image returns uint8). A yuv420 frame is first made an
 * RGB frame (chroma interpolated 2x, full-range BT.601), as the legacy camera delivered RGB.
 * Buffers are allocated once per frame geometry; the per-frame path allocates nothing.
 */
import type { ModelInputSpec, FrameGeometry } from './preprocess.js';
import { clamp255 } from './preprocess-direct.js';
import { makeAreaPass, roundAreaValue, type AreaPass } from './resample-area.js';
import { makePass, runPass, type PlanePass } from './resample.js';

interface Stage {
  pass: PlanePass;
  /** Set for area stages (OpenCV rounding); bilinear stages keep float values. */
  area: AreaPass | undefined;
  outW: number;
  outH: number;
}

/** Integer crop of a width x height image from the manifest's fractions (rounded as everywhere else). */
export function cropRect(crop: ModelInputSpec['crop'], width: number, height: number): { x: number; y: number; width: number; height: number } {
  const x0 = Math.min(width - 1, Math.round(crop.x * width));
  const y0 = Math.min(height - 1, Math.round(crop.y * height));
  const x1 = Math.max(x0 + 1, Math.min(width, Math.round((crop.x + crop.width) * width)));
  const y1 = Math.max(y0 + 1, Math.min(height, Math.round((crop.y + crop.height) * height)));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function stage(area: boolean, x0: number, w: number, y0: number, h: number, outW: number, outH: number): Stage {
  if (area) {
    const a = makeAreaPass(x0, w, y0, h, outW, outH, 3);
    return { pass: a.pass, area: a, outW, outH };
  }
  return { pass: makePass(x0, w, y0, h, outW, outH, 3), area: undefined, outW, outH };
}

export class StagedPreprocess {
  /** Crop rectangle in pixels of the image it is taken from (the pre-resized one when there is one). */
  readonly crop: { x: number; y: number; width: number; height: number };
  /** Model-sized RGB values 0..255 (whole numbers for `area`), refilled by every run(). */
  readonly rgb: Float32Array;
  readonly #geometry: FrameGeometry;
  readonly #rgbFrame: Uint8Array | undefined;
  readonly #chroma: [PlanePass, PlanePass] | undefined;
  readonly #pre: Stage | undefined;
  readonly #preImage: Uint8Array | undefined;
  readonly #final: Stage;

  constructor(spec: ModelInputSpec, geometry: FrameGeometry) {
    this.#geometry = geometry;
    const { width, height } = geometry;
    const area = spec.resize === 'area';
    if (geometry.format === 'yuv420') {
      this.#rgbFrame = new Uint8Array(width * height * 3);
      this.#chroma = [makePass(0, width / 2, 0, height / 2, width, height, 1), makePass(0, width / 2, 0, height / 2, width, height, 1)];
    }
    let imageW = width;
    let imageH = height;
    if (spec.pre_resize !== undefined) {
      imageW = spec.pre_resize.width;
      imageH = spec.pre_resize.height;
    }
    // A frame already at the pre-resize size is used as it is (cv2.resize to the same size copies it).
    if (spec.pre_resize !== undefined && (spec.pre_resize.width !== width || spec.pre_resize.height !== height)) {
      this.#pre = stage(area, 0, width, 0, height, spec.pre_resize.width, spec.pre_resize.height);
      this.#preImage = new Uint8Array(spec.pre_resize.width * spec.pre_resize.height * 3);
    }
    this.crop = cropRect(spec.crop, imageW, imageH);
    const c = this.crop;
    this.#final = stage(area, c.x, c.width, c.y, c.height, spec.width, spec.height);
    this.rgb = this.#final.pass.out;
  }

  /** Runs every stage on one frame (size already checked by the caller); the result is in `rgb`. */
  run(data: Uint8Array): Float32Array {
    const { width, stride } = this.#geometry;
    let image = data;
    let imageStride = stride;
    if (this.#rgbFrame !== undefined) {
      this.#toRgb(data);
      image = this.#rgbFrame;
      imageStride = width * 3;
    }
    if (this.#pre !== undefined) {
      const pre = this.#pre;
      runPass(pre.pass, image, 0, imageStride, pre.outW, pre.outH);
      const img = this.#preImage!;
      const values = pre.pass.out;
      if (pre.area) for (let i = 0; i < img.length; i++) img[i] = roundAreaValue(values[i]!, pre.area);
      else for (let i = 0; i < img.length; i++) img[i] = Math.round(clamp255(values[i]!));
      image = img;
      imageStride = pre.outW * 3;
    }
    const f = this.#final;
    runPass(f.pass, image, 0, imageStride, f.outW, f.outH);
    if (f.area) {
      const out = f.pass.out;
      for (let i = 0; i < out.length; i++) out[i] = roundAreaValue(out[i]!, f.area);
    }
    return this.rgb;
  }

  /** yuv420 (I420) -> 8-bit RGB at full size: chroma resampled to luma size, then converted. */
  #toRgb(data: Uint8Array): void {
    const { width, height, stride } = this.#geometry;
    const chromaStride = stride / 2;
    const uBase = stride * height;
    const vBase = uBase + chromaStride * (height / 2);
    const [pu, pv] = this.#chroma!;
    runPass(pu, data, uBase, chromaStride, width, height);
    runPass(pv, data, vBase, chromaStride, width, height);
    const out = this.#rgbFrame!;
    const us = pu.out;
    const vs = pv.out;
    for (let y = 0, i = 0, o = 0; y < height; y++) {
      const row = y * stride;
      for (let x = 0; x < width; x++, i++, o += 3) {
        const yy = data[row + x]!;
        const u = us[i]! - 128;
        const v = vs[i]! - 128;
        out[o] = Math.round(clamp255(yy + 1.402 * v));
        out[o + 1] = Math.round(clamp255(yy - 0.344136 * u - 0.714136 * v));
        out[o + 2] = Math.round(clamp255(yy + 1.772 * u));
      }
    }
  }
}
