/**
 * Separable resampling of one image plane: per-axis tap tables (the triangle filter with half-pixel
 * centres, widened when shrinking, as in preprocess.ts's header) built once per geometry, then a
 * horizontal and a vertical pass into float scratch rows.
 */
export interface Axis {
  start: Int32Array;
  weights: Float32Array;
  taps: number;
  /** First and one-past-last source index any output reads. */
  first: number;
  end: number;
}

/** Source region [offset, offset+length) of a plane of `size` pixels resampled to `outSize` samples. */
export function makeAxis(offset: number, length: number, outSize: number): Axis {
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
export interface PlanePass {
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
export function isIdentity(a: Axis, outSize: number): boolean {
  if (a.taps !== 1 || a.end - a.first !== outSize) return false;
  for (let i = 0; i < outSize; i++) if (a.start[i] !== a.first + i || a.weights[i] !== 1) return false;
  return true;
}

export function makePass(x0: number, w: number, y0: number, h: number, outW: number, outH: number, channels: number): PlanePass {
  return passOf(makeAxis(x0, w, outW), makeAxis(y0, h, outH), outW, outH, channels);
}

/** A pass over ready-made axes (resample-area.ts builds OpenCV's). */
export function passOf(x: Axis, y: Axis, outW: number, outH: number, channels: number): PlanePass {
  const rows = new Float32Array((y.end - y.first) * outW * channels);
  const verticalIdentity = isIdentity(y, outH);
  return { x, y, channels, rows, out: verticalIdentity ? rows : new Float32Array(outW * outH * channels), verticalIdentity };
}

export function runPass(p: PlanePass, data: Uint8Array, base: number, stride: number, outW: number, outH: number): void {
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
