/**
 * I420 (planar YUV 4:2:0) layout and conversion as rpicam-vid emits it: full-range BT.601, Y rows padded
 * to the ISP's stride, chroma stride = stride/2, planes back-to-back (runtime/camera/README.md).
 * The stride differs by board: Pi 4 (VC4) pads to 64 bytes, Pi 5 (PiSP) to 128 (docs/hardware.md).
 */
import { SidewalkError } from '../../lib/errors.js';

function clamp(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** Pi 4 (VC4 ISP): Y rows padded to 64 bytes, chroma rows half of that. */
export function defaultStride(width: number): number {
  return align64(width);
}

/**
 * Pi 5 (PiSP back end): the chroma rows are aligned to 64 bytes and the Y stride is twice the
 * chroma stride (libpisp compute_optimal_stride with the 4:2:0 ratio kept), so a multiple of 128.
 */
export function pispStride(width: number): number {
  return 2 * align64(Math.ceil(width / 2));
}

export type IspKind = 'vc4' | 'pisp';

/** The Y stride the board's ISP gives a width. */
export function strideForIsp(isp: IspKind, width: number): number {
  return isp === 'pisp' ? pispStride(width) : defaultStride(width);
}

/** Every Y stride a Raspberry Pi ISP is known to produce for a width (unpadded, VC4, PiSP). */
export function knownStrides(width: number): number[] {
  return [...new Set([width % 2 === 0 ? width : null, defaultStride(width), pispStride(width)].filter((s): s is number => s !== null))].sort((a, b) => a - b);
}

/** Refuses a measured stride no ISP produces: cutting frames with it would silently mis-cut every frame. */
export function checkKnownStride(stride: number, width: number, height: number, source: string): number {
  const known = knownStrides(width);
  if (!known.includes(stride)) {
    throw new SidewalkError(
      'CAMERA_STRIDE_UNKNOWN',
      `${source}: frames of ${i420FrameBytes(stride, height)} bytes for ${width}x${height} mean a Y stride of ${stride}, which no Raspberry Pi ISP produces (expected one of ${known.join(', ')}); set camera.rpicam.stride only if you know better`,
      { details: { stride, width, height, known } },
    );
  }
  return stride;
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
