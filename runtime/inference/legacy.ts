/**
 * The legacy Pi's preprocessing as a manifest `input` (README.md in this folder): its camera frame
 * resized to 640x480 with cv2.INTER_AREA, cropped to x 80..560 (all rows), resized to 224x224 with
 * INTER_AREA, in BGR order, (x - 127.5) / 127.5. A legacy mobileV2_*.tflite runs unchanged as the
 * model.tflite of a bundle whose manifest has this input.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_GROUPS, DEFAULT_LABELS, type ModelManifest } from './manifest-types.js';

export const LEGACY_INPUT: ModelManifest['input'] = {
  width: 224,
  height: 224,
  dtype: 'float32',
  color_order: 'bgr',
  normalization: { scale: 1 / 127.5, offset: -1 },
  pre_resize: { width: 640, height: 480 },
  crop: { x: 80 / 640, y: 0, width: 480 / 640, height: 1 },
  resize: 'area',
};

/** A manifest for a legacy model file as it is (legacy class order and groups). */
export function legacyManifest(model: Uint8Array, meta: { name: string; version: string; location: string }): ModelManifest {
  return {
    format: 'sidewalk-model/1',
    ...meta,
    labels: [...DEFAULT_LABELS],
    groups: { sidewalk: [...DEFAULT_GROUPS.sidewalk], road: [...DEFAULT_GROUPS.road] },
    input: structuredClone(LEGACY_INPUT),
    files: { 'model.tflite': { sha256: createHash('sha256').update(model).digest('hex'), bytes: model.length } },
  };
}
