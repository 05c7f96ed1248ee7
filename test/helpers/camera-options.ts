/**
 * Camera options as a config with only the given fields set would produce them: the schema's defaults
 * (RUNTIME_DEFAULTS) mapped by the runtime's own mapping, with each section's overrides on top.
 */
import { RUNTIME_DEFAULTS } from '../../runtime/config/schema.js';
import { cameraOptionsFrom } from '../../runtime/service/components.js';
import type { CameraOptions } from '../../runtime/camera/index.js';

export const DEFAULT_CAMERA_OPTIONS: CameraOptions = cameraOptionsFrom(RUNTIME_DEFAULTS.camera);

type Overrides = Partial<Omit<CameraOptions, 'rpicam' | 'replay' | 'synthetic'>> & {
  rpicam?: Partial<CameraOptions['rpicam']>;
  replay?: Partial<CameraOptions['replay']>;
  synthetic?: Partial<CameraOptions['synthetic']>;
};

export function cameraOptions(overrides: Overrides): CameraOptions {
  const d = DEFAULT_CAMERA_OPTIONS;
  return {
    ...d,
    ...overrides,
    rpicam: { ...d.rpicam, ...overrides.rpicam },
    replay: { ...d.replay, ...overrides.replay },
    synthetic: { ...d.synthetic, ...overrides.synthetic },
  };
}
