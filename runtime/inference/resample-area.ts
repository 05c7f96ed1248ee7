/**
 * OpenCV's cv2.resize(..., interpolation=cv2.INTER_AREA) on 8-bit images, as tap tables for the
 * separable passes of resample.ts (area resampling is separable: each output pixel is the product of
 * one horizontal and one vertical weight per source pixel). OpenCV has three cases, all here:
 *   - shrinking by a whole factor on both axes ("fast" area): the plain mean of each block; the sum is
 *     exact here and divided once, 2x2 blocks round half up (OpenCV's SIMD path), others half to even;
 *   - shrinking otherwise: each output covers [i*scale, (i+1)*scale) of the source, partial pixels
 *     weighted by their covered fraction, weights in float32 as OpenCV keeps them, result rounded
 *     half to even (cvRound);
 *   - enlarging on either axis: bilinear interpolation with OpenCV's INTER_AREA coefficients (a step
 *     with linear edges of one source pixel), on both axes.
 * Each axis works inside its own region (a crop is resized as an image of its own: no reads outside).
 */
import { passOf, type Axis, type PlanePass } from './resample.js';

export type AreaRounding = 'half-up' | 'half-even';

export interface AreaPass {
  pass: PlanePass;
  /** Multiplies the pass's weighted sums before rounding (1 / block area for the fast case, else 1). */
  norm: number;
  rounding: AreaRounding;
}

type Taps = { j: number; w: number }[];

/** Region [x0, x0+w) x [y0, y0+h) of an image with `channels` interleaved values per pixel, to outW x outH. */
export function makeAreaPass(x0: number, w: number, y0: number, h: number, outW: number, outH: number, channels: number): AreaPass {
  // OpenCV derives the scale from the inverse ratio; kept so tables match to the last bit.
  const scaleX = 1 / (outW / w);
  const scaleY = 1 / (outH / h);
  if (scaleX >= 1 && scaleY >= 1) {
    const ix = Math.round(scaleX);
    const iy = Math.round(scaleY);
    if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
      const x = pack(x0, w, blockTaps(ix, outW));
      const y = pack(y0, h, blockTaps(iy, outH));
      return { pass: passOf(x, y, outW, outH, channels), norm: 1 / (ix * iy), rounding: ix === 2 && iy === 2 ? 'half-up' : 'half-even' };
    }
    const x = pack(x0, w, coverageTaps(w, outW, scaleX));
    const y = pack(y0, h, coverageTaps(h, outH, scaleY));
    return { pass: passOf(x, y, outW, outH, channels), norm: 1, rounding: 'half-even' };
  }
  const x = pack(x0, w, enlargingTaps(w, outW, scaleX));
  const y = pack(y0, h, enlargingTaps(h, outH, scaleY));
  return { pass: passOf(x, y, outW, outH, channels), norm: 1, rounding: 'half-even' };
}

/** The pass's result as 8-bit values, rounded and saturated as OpenCV writes a uint8 image. */
export function roundAreaValue(v: number, a: AreaPass): number {
  const x = v * a.norm;
  let r = Math.round(x); // half up
  if (a.rounding === 'half-even' && r - x === 0.5 && (r & 1) === 1) r -= 1;
  return r < 0 ? 0 : Math.min(r, 255);
}

function blockTaps(factor: number, outSize: number): Taps[] {
  const lists: Taps[] = [];
  for (let i = 0; i < outSize; i++) {
    const taps: Taps = [];
    for (let k = 0; k < factor; k++) taps.push({ j: i * factor + k, w: 1 });
    lists.push(taps);
  }
  return lists;
}

/** Coverage weights of a non-integer shrink, computed as OpenCV's area table does. */
function coverageTaps(size: number, outSize: number, scale: number): Taps[] {
  const lists: Taps[] = [];
  for (let i = 0; i < outSize; i++) {
    const f1 = i * scale;
    const f2 = f1 + scale;
    const cell = Math.min(scale, size - f1);
    let s2 = Math.floor(f2);
    s2 = Math.min(s2, size - 1);
    const s1 = Math.min(Math.ceil(f1), s2);
    const taps: Taps = [];
    if (s1 - f1 > 1e-3) taps.push({ j: s1 - 1, w: Math.fround((s1 - f1) / cell) });
    for (let j = s1; j < s2; j++) taps.push({ j, w: Math.fround(1 / cell) });
    if (f2 - s2 > 1e-3) taps.push({ j: s2, w: Math.fround(Math.min(Math.min(f2 - s2, 1), cell) / cell) });
    lists.push(taps);
  }
  return lists;
}

/** INTER_AREA when enlarging: two taps, the fraction clipped to the part past the source pixel's cell. */
function enlargingTaps(size: number, outSize: number, scale: number): Taps[] {
  const inverse = outSize / size;
  const lists: Taps[] = [];
  for (let i = 0; i < outSize; i++) {
    let s = Math.floor(i * scale);
    let f = i + 1 - (s + 1) * inverse;
    f = f <= 0 ? 0 : f - Math.floor(f);
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= size - 1) {
      s = size - 1;
      f = 0;
    }
    lists.push([
      { j: s, w: 1 - f },
      { j: Math.min(s + 1, size - 1), w: f },
    ]);
  }
  return lists;
}

/** Packs per-output tap lists (indices relative to the region) into an Axis with absolute indices. */
function pack(offset: number, length: number, lists: Taps[]): Axis {
  const outSize = lists.length;
  let widest = 1;
  for (const taps of lists) {
    const js = taps.filter((t) => t.w !== 0).map((t) => t.j);
    if (js.length > 0) widest = Math.max(widest, Math.max(...js) - Math.min(...js) + 1);
  }
  const taps = Math.min(widest, length);
  const start = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  let first = offset + length;
  let end = offset;
  lists.forEach((list, i) => {
    const used = list.filter((t) => t.w !== 0);
    const lowest = used.length > 0 ? Math.min(...used.map((t) => t.j)) : list[0]!.j;
    const s = Math.min(Math.max(lowest, 0), length - taps);
    start[i] = offset + s;
    for (const t of used) weights[i * taps + t.j - s]! += t.w;
    first = Math.min(first, offset + s);
    end = Math.max(end, offset + s + taps);
  });
  return { start, weights, taps, first, end };
}
