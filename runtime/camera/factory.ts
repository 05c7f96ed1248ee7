/**
 * Chooses and builds the FrameSource named by the camera configuration. The runtime's config schema
 * (camera.*) maps onto these fields one to one (snake_case there, camelCase here).
 */
import { SidewalkError } from '../../lib/errors.js';
import type { FrameFormat, FrameSource } from '../types.js';
import { ReplaySource } from './replay-source.js';
import { RpicamSource } from './rpicam-source.js';
import type { SceneScript } from './scenes.js';
import { SyntheticSource } from './synthetic-source.js';

export interface CameraOptions {
  source: 'rpicam' | 'replay' | 'synthetic';
  /** Requested frame size; ask for the model's aspect ratio (the inference room crops/resizes). */
  width: number;
  height: number;
  /** Camera frame rate (rpicam, synthetic). Replay videos use their own rate. */
  fps: number;
  rpicam?: {
    /** `rpicam-vid` (default; `libcamera-vid` is tried when only that exists) or a path. */
    binary?: string;
    /** `--mode W:H:bit-depth:packing`. */
    sensorMode?: string | null;
    bufferCount?: number | null;
    /** Y row stride bytes; null = width rounded up to 64; 'probe' = measure at start. */
    stride?: number | 'probe' | null;
    frameTimeoutMs?: number;
    restartMinMs?: number;
    restartMaxMs?: number;
    env?: NodeJS.ProcessEnv;
  };
  replay?: {
    /** Video file, folder of JPEGs or legacy run folder (required for source 'replay'). */
    input: string | null;
    /** Pace by media time (default true) or deliver every frame as fast as possible. */
    realtime?: boolean;
    /** Frame rate of image folders (default 10). */
    fps?: number | null;
  };
  synthetic?: {
    /** "street:5,side:5" or segments. */
    script: string | SceneScript;
    seed?: number;
    /** Output format; yuv420 is laid out like rpicam-vid's (padded stride). Default rgb24. */
    format?: FrameFormat;
    realtime?: boolean;
    /** Repeat the script forever (default false: the source ends after it). */
    loop?: boolean;
    speedKph?: number;
  };
}

export function createFrameSource(options: CameraOptions): FrameSource {
  const { width, height, fps } = options;
  switch (options.source) {
    case 'rpicam': {
      const r = options.rpicam ?? {};
      return new RpicamSource({ width, height, fps, ...r });
    }
    case 'replay': {
      const input = options.replay?.input;
      if (!input) throw new SidewalkError('CAMERA_OPTIONS_INVALID', 'camera.replay.input is required when camera.source is replay');
      return new ReplaySource({ input, width, height, realtime: options.replay?.realtime ?? true, fps: options.replay?.fps ?? null });
    }
    case 'synthetic': {
      const s = options.synthetic ?? { script: 'street:5,side:5,street:5' };
      return new SyntheticSource({ width, height, fps, ...s });
    }
    default:
      throw new SidewalkError('CAMERA_OPTIONS_INVALID', `camera.source "${String((options as { source: unknown }).source)}" is not one of rpicam, replay, synthetic`);
  }
}
