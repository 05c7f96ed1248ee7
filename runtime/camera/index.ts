/**
 * The camera room: FrameSources (runtime/types.ts) for the Pi camera, recordings and synthetic scenes.
 *
 * Buffer ownership: a Frame's `data` belongs to the source and stays valid until the consumer's next
 * call to next(); copy it to keep it longer (the sources reuse a small pool so each frame is copied
 * once, from the pipe into its buffer).
 */
export { createFrameSource, type CameraOptions } from './factory.js';
export { RpicamSource, type RpicamSourceOptions } from './rpicam-source.js';
export { ReplaySource, listJpegs, type ReplayInputKind, type ReplaySourceOptions } from './replay-source.js';
export { SyntheticSource, type SyntheticSourceOptions } from './synthetic-source.js';
export { probeVideo, type VideoProbe } from './ffmpeg-reader.js';
export {
  SCENE_KINDS,
  defaultStride,
  i420FrameBytes,
  isSceneKind,
  parseSceneScript,
  renderScene,
  rgbToI420,
  sceneAt,
  sceneScriptDurationS,
  segmentAt,
  type SceneKind,
  type SceneOptions,
  type SceneScript,
  type SceneSegment,
} from './scenes.js';
