/**
 * The camera's usual case: a yuv420 crop already at model size. Luma bytes and 2x-interpolated chroma
 * go straight into the colour-conversion loop instead of through float planes (same values as the
 * general path, about 3x faster).
 */
import type { ModelInputArray, ModelInputSpec } from './preprocess.js';
import type { Axis } from './resample.js';

/** A 1- or 2-tap axis as parallel arrays (a 1-tap output reads its pixel twice, the second with weight 0). */
export interface TwoTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
  w1: Float64Array;
  /** First source index any output reads (i0/i1 of the horizontal axis are relative to it). */
  first: number;
  end: number;
}

export function twoTaps(a: Axis, relative = false): TwoTaps {
  const n = a.start.length;
  const t: TwoTaps = { i0: new Int32Array(n), i1: new Int32Array(n), w0: new Float64Array(n), w1: new Float64Array(n), first: a.first, end: a.end };
  const base = relative ? a.first : 0;
  for (let i = 0; i < n; i++) {
    t.i0[i] = a.start[i]! - base;
    t.i1[i] = a.start[i]! - base + (a.taps === 2 ? 1 : 0);
    t.w0[i] = a.weights[i * a.taps]!;
    t.w1[i] = a.taps === 2 ? a.weights[i * a.taps + 1]! : 0;
  }
  return t;
}

/** yuv420 at model size: luma 1:1 from the frame, chroma (1 or 2 taps per axis) interpolated per output row. */
export interface DirectYuv {
  /** Byte offset of the crop's first luma pixel. */
  lumaOffset: number;
  /** Horizontal chroma taps, indices relative to chromaX.first (into rowU/rowV). */
  chromaX: TwoTaps;
  /** Vertical chroma taps, absolute chroma rows. */
  chromaY: TwoTaps;
  /** The current output row's vertically interpolated chroma, minus 128, over [chromaX.first, chromaX.end). */
  rowU: Float64Array;
  rowV: Float64Array;
  /** chromaX is an exact centred 2x upsampling of the whole chroma row (see isDoubling). */
  doublingX: boolean;
}

/**
 * True when output dx of `t` (outSize = 2 * chroma samples) reads chroma 0 alone (dx 0), k-1 and k
 * at 3/4, 1/4 (dx 2k-1) and 1/4, 3/4 (dx 2k), and the last chroma sample alone (last dx).
 */
export function isDoubling(t: TwoTaps, outSize: number): boolean {
  const n = outSize / 2;
  if (!Number.isInteger(n) || n < 2 || t.end - t.first !== n) return false;
  const coefficient = (dx: number, c: number): number => (t.i0[dx] === c ? t.w0[dx]! : 0) + (t.i1[dx] === c ? t.w1[dx]! : 0);
  if (coefficient(0, 0) !== 1 || coefficient(outSize - 1, n - 1) !== 1) return false;
  for (let k = 1; k < n; k++) {
    if (coefficient(2 * k - 1, k - 1) !== 0.75 || coefficient(2 * k - 1, k) !== 0.25) return false;
    if (coefficient(2 * k, k - 1) !== 0.25 || coefficient(2 * k, k) !== 0.75) return false;
  }
  return true;
}

/** Fills rowU/rowV for output row dy: the two source chroma rows blended, centred on 0. */
export function blendChromaRow(d: DirectYuv, dy: number, data: Uint8Array, uBase: number, vBase: number, chromaStride: number): void {
  const { chromaY: cy, rowU, rowV } = d;
  const w0 = cy.w0[dy]!;
  const w1 = cy.w1[dy]!;
  const off0 = cy.i0[dy]! * chromaStride + d.chromaX.first;
  const off1 = cy.i1[dy]! * chromaStride + d.chromaX.first;
  const u0 = uBase + off0;
  const u1 = uBase + off1;
  const v0 = vBase + off0;
  const v1 = vBase + off1;
  for (let j = 0; j < rowU.length; j++) {
    rowU[j] = data[u0 + j]! * w0 + data[u1 + j]! * w1 - 128;
    rowV[j] = data[v0 + j]! * w0 + data[v1 + j]! * w1 - 128;
  }
}

/** Writes one pixel's normalised R, G, B (or B, G, R) at out[o..o+2]; u and v are centred on 0. */
export function putFloat(out: Float32Array, o: number, yy: number, u: number, v: number, scale: number, offset: number, bgr: boolean): void {
  const r = clamp255(yy + 1.402 * v) * scale + offset;
  const g = clamp255(yy - 0.344136 * u - 0.714136 * v) * scale + offset;
  const b = clamp255(yy + 1.772 * u) * scale + offset;
  out[o] = bgr ? b : r;
  out[o + 1] = g;
  out[o + 2] = bgr ? r : b;
}

/**
 * The hot case (camera frame at model size, float model): one pass, output written in order.
 * Exact 2x chroma (the usual case) walks chroma pairs with the fixed 3/4, 1/4 weights instead of
 * the tables: fewer arrays per pixel is what the JIT rewards (about 30% faster).
 */
export function runDirectFloat(d: DirectYuv, spec: ModelInputSpec, data: Uint8Array, stride: number, uBase: number, vBase: number, chromaStride: number, out: Float32Array): void {
  const { width: outW, height: outH } = spec;
  const { scale, offset } = spec.normalization;
  const bgr = spec.color_order === 'bgr';
  const { i0, i1, w0, w1 } = d.chromaX;
  const { rowU, rowV, lumaOffset, doublingX } = d;
  const pairs = outW / 2;
  let o = 0;
  const cy = d.chromaY;
  const cFirst = d.chromaX.first;
  for (let dy = 0; dy < outH; dy++) {
    const src = lumaOffset + dy * stride;
    if (doublingX) {
      // Output 0 and the last read chroma 0 and pairs-1 alone; 2k-1 and 2k read k-1 and k. Each
      // chroma sample is blended from its two rows as the walk reaches it (no row buffer).
      const ya = cy.w0[dy]!;
      const yb = cy.w1[dy]!;
      const rowA = cy.i0[dy]! * chromaStride + cFirst;
      const rowB = cy.i1[dy]! * chromaStride + cFirst;
      const ua = uBase + rowA;
      const ub = uBase + rowB;
      const va = vBase + rowA;
      const vb = vBase + rowB;
      let u0 = data[ua]! * ya + data[ub]! * yb - 128;
      let v0 = data[va]! * ya + data[vb]! * yb - 128;
      putFloat(out, o, data[src]!, u0, v0, scale, offset, bgr);
      o += 3;
      for (let k = 1; k < pairs; k++) {
        const u1 = data[ua + k]! * ya + data[ub + k]! * yb - 128;
        const v1 = data[va + k]! * ya + data[vb + k]! * yb - 128;
        const p = src + 2 * k;
        putFloat(out, o, data[p - 1]!, 0.75 * u0 + 0.25 * u1, 0.75 * v0 + 0.25 * v1, scale, offset, bgr);
        putFloat(out, o + 3, data[p]!, 0.25 * u0 + 0.75 * u1, 0.25 * v0 + 0.75 * v1, scale, offset, bgr);
        o += 6;
        u0 = u1;
        v0 = v1;
      }
      putFloat(out, o, data[src + outW - 1]!, u0, v0, scale, offset, bgr);
      o += 3;
      continue;
    }
    blendChromaRow(d, dy, data, uBase, vBase, chromaStride);
    for (let dx = 0; dx < outW; dx++) {
      const j0 = i0[dx]!;
      const j1 = i1[dx]!;
      const a = w0[dx]!;
      const b = w1[dx]!;
      putFloat(out, o, data[src + dx]!, rowU[j0]! * a + rowU[j1]! * b, rowV[j0]! * a + rowV[j1]! * b, scale, offset, bgr);
      o += 3;
    }
  }
}

/** As runDirectFloat, for int8/uint8 model inputs. */
export function runDirectQuantised(d: DirectYuv, spec: ModelInputSpec, data: Uint8Array, stride: number, uBase: number, vBase: number, chromaStride: number, out: ModelInputArray): void {
  const { width: outW, height: outH } = spec;
  const { scale, offset } = spec.normalization;
  const bgr = spec.color_order === 'bgr';
  const rIndex = bgr ? 2 : 0;
  const bIndex = bgr ? 0 : 2;
  const qScale = 1 / spec.quantization!.scale;
  const qZero = spec.quantization!.zero_point;
  const [qMin, qMax] = spec.dtype === 'int8' ? [-128, 127] : [0, 255];
  const { i0, i1, w0, w1 } = d.chromaX;
  const { rowU, rowV } = d;
  let o = 0;
  for (let dy = 0; dy < outH; dy++) {
    blendChromaRow(d, dy, data, uBase, vBase, chromaStride);
    const src = d.lumaOffset + dy * stride;
    for (let dx = 0; dx < outW; dx++, o += 3) {
      const j0 = i0[dx]!;
      const j1 = i1[dx]!;
      const a = w0[dx]!;
      const b = w1[dx]!;
      const u = rowU[j0]! * a + rowU[j1]! * b;
      const v = rowV[j0]! * a + rowV[j1]! * b;
      const yy = data[src + dx]!;
      out[o + rIndex] = clampRound((clamp255(yy + 1.402 * v) * scale + offset) * qScale + qZero, qMin, qMax);
      out[o + 1] = clampRound((clamp255(yy - 0.344136 * u - 0.714136 * v) * scale + offset) * qScale + qZero, qMin, qMax);
      out[o + bIndex] = clampRound((clamp255(yy + 1.772 * u) * scale + offset) * qScale + qZero, qMin, qMax);
    }
  }
}

export function clamp255(v: number): number {
  return v < 0 ? 0 : Math.min(v, 255);
}

export function clampRound(v: number, lo: number, hi: number): number {
  const q = Math.round(v);
  return q < lo ? lo : Math.min(q, hi);
}
