/**
 * I420 (planar YUV 4:2:0) layout and conversion as rpicam-vid emits it: full-range BT.601, Y rows padded
 * to the ISP's stride, chroma stride = stride/2, planes back-to-back (runtime/camera/README.md).
 */
import { SidewalkError } from '../../lib/errors.js';

function clamp(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

/** The ISP's default Y row stride for a width (Pi 4 VC4: rows padded to 64 bytes). */
export function defaultStride(width: number): number {
  return Math.ceil(width / 64) * 64;
}

/** Bytes in one I420 frame with Y stride `stride` (chroma stride stride/2, chroma rows ceil(height/2)). */
export function i420FrameBytes(stride: number, height: number): number {
  return stride * height + 2 * (stride / 2) * Math.ceil(height / 2);
}

/**
 * RGB24 (rows of width*3 bytes) -> I420 with full-range BT.601, as rpicam-vid emits it: Y plane of
 * stride*height bytes, then U and V planes of (stride/2)*ceil(height/2); chroma is the mean of each
 * 2x2 block. Padding bytes are left as they are in `out` (the ISP leaves them undefined too).
 */
export function rgbToI420(rgb: Uint8Array, width: number, height: number, stride: number, out: Uint8Array): void {
  if (stride < width || stride % 2 !== 0) {
    throw new SidewalkError('CAMERA_STRIDE_INVALID', `stride ${stride} must be even and >= width ${width}`);
  }
  const need = i420FrameBytes(stride, height);
  if (out.length < need) throw new SidewalkError('CAMERA_BUFFER_TOO_SMALL', `output buffer has ${out.length} bytes, I420 ${width}x${height} stride ${stride} needs ${need}`);
  if (rgb.length < width * height * 3) throw new SidewalkError('CAMERA_BUFFER_TOO_SMALL', `RGB buffer has ${rgb.length} bytes, ${width}x${height} needs ${width * height * 3}`);
  for (let row = 0; row < height; row++) {
    let i = row * width * 3;
    const o = row * stride;
    for (let col = 0; col < width; col++, i += 3) {
      out[o + col] = clamp(0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!);
    }
  }
  const cStride = stride / 2;
  const uBase = stride * height;
  const vBase = uBase + cStride * Math.ceil(height / 2);
  for (let cy = 0; cy < Math.ceil(height / 2); cy++) {
    for (let cx = 0; cx < Math.ceil(width / 2); cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let n = 0;
      for (let dy = 0; dy < 2; dy++) {
        const y = cy * 2 + dy;
        if (y >= height) continue;
        for (let dx = 0; dx < 2; dx++) {
          const x = cx * 2 + dx;
          if (x >= width) continue;
          const i = (y * width + x) * 3;
          r += rgb[i]!;
          g += rgb[i + 1]!;
          b += rgb[i + 2]!;
          n++;
        }
      }
      r /= n;
      g /= n;
      b /= n;
      out[uBase + cy * cStride + cx] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
      out[vBase + cy * cStride + cx] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
    }
  }
}
