/**
 * Chooses and builds the FrameSource named by the camera configuration. The runtime's config schema
 * (camera.*) maps onto these fields one to one (snake_case there, camelCase here).
 */
import { SidewalkError } from '../../lib/errors.js';
import type { FrameSource } from '../types.js';
import { ReplaySource } from './replay-source.js';
import { RpicamSource, type RpicamSourceOptions } from './rpicam-source.js';
import { SyntheticSource, type SyntheticSourceOptions } from './synthetic-source.js';

export interface CameraOptions {
  source: 'rpicam' | 'replay' | 'synthetic';
  /** Requested frame size; ask for the model's aspect ratio (the inference room crops/resizes). */
  width: number;
  height: number;
  /** Camera frame rate (rpicam, synthetic). Replay videos use their own rate. */
  fps: number;
  /** Options of the Pi camera (see RpicamSourceOptions for each field's meaning). */
  rpicam: Omit<RpicamSourceOptions, 'width' | 'height' | 'fps'>;
  replay: {
    /** Video file, folder of JPEGs or legacy run folder (required for source 'replay'). */
    input: string | null;
    /** Pace by media time, or deliver every frame as fast as possible. */
    realtime: boolean;
    /** Frame rate of image folders (null: DEFAULT_IMAGE_FPS). */
    fps: number | null;
    /** Decode errors end the replay (CAMERA_DECODE_ERRORS) instead of a warning. */
    strict: boolean;
  };
  /** Generated scenes (see SyntheticSourceOptions). */
  synthetic: Omit<SyntheticSourceOptions, 'width' | 'height' | 'fps'>;
}

export function createFrameSource(options: CameraOptions): FrameSource {
  const { width, height, fps } = options;
  switch (options.source) {
    case 'rpicam':
      return new RpicamSource({ width, height, fps, ...options.rpicam });
    case 'replay': {
      const { input, realtime, fps: imageFps, strict } = options.replay;
      if (!input) throw new SidewalkError('CAMERA_OPTIONS_INVALID', 'camera.replay.input is required when camera.source is replay');
      return new ReplaySource({ input, width, height, realtime, fps: imageFps, strict });
    }
    case 'synthetic':
      return new SyntheticSource({ width, height, fps, ...options.synthetic });
    default:
      throw new SidewalkError('CAMERA_OPTIONS_INVALID', `camera.source "${String((options as { source: unknown }).source)}" is not one of rpicam, replay, synthetic`);
  }
}
