/** Small helpers shared by the camera tests (not a test file itself). */
import type { Frame } from '../../../runtime/types.js';

/** Mean of the Y plane (yuv420) or of the luma of RGB pixels (rgb24), ignoring row padding. */
export function meanLuma(frame: Frame): number {
  let sum = 0;
  for (let row = 0; row < frame.height; row++) {
    const base = row * frame.stride;
    if (frame.format === 'yuv420') {
      for (let x = 0; x < frame.width; x++) sum += frame.data[base + x]!;
    } else {
      for (let x = 0; x < frame.width * 3; x += 3) sum += 0.299 * frame.data[base + x]! + 0.587 * frame.data[base + x + 1]! + 0.114 * frame.data[base + x + 2]!;
    }
  }
  return sum / (frame.width * frame.height);
}

/** True when the two I420 buffers have identical visible pixels (padding bytes ignored). */
export function sameI420Pixels(a: Uint8Array, b: Uint8Array, width: number, height: number, stride: number): boolean {
  const planes = [
    { offset: 0, rows: height, cols: width, rowBytes: stride },
    { offset: stride * height, rows: Math.ceil(height / 2), cols: Math.ceil(width / 2), rowBytes: stride / 2 },
    { offset: stride * height + (stride / 2) * Math.ceil(height / 2), rows: Math.ceil(height / 2), cols: Math.ceil(width / 2), rowBytes: stride / 2 },
  ];
  for (const p of planes) {
    for (let r = 0; r < p.rows; r++) {
      for (let c = 0; c < p.cols; c++) {
        const i = p.offset + r * p.rowBytes + c;
        if (a[i] !== b[i]) return false;
      }
    }
  }
  return true;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
