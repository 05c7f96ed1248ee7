/** Builds the configured SpeedLimiter. The caller (service) maps its config file onto these shapes. */
import type { SpeedLimiter } from '../types.js';
import { GpioLimiter, type GpioLimiterConfig } from './gpio-limiter.js';
import { PwmLimiter, type PwmLimiterConfig } from './pwm-limiter.js';
import { SerialLimiter, type SerialLimiterConfig } from './serial-limiter.js';
import { SimulatedLimiter, type SimulatedLimiterConfig } from './simulated-limiter.js';

export type SpeedLimiterConfig = SimulatedLimiterConfig | GpioLimiterConfig | PwmLimiterConfig | SerialLimiterConfig;

export function createSpeedLimiter(config: SpeedLimiterConfig): SpeedLimiter {
  switch (config.kind) {
    case 'simulated':
      return new SimulatedLimiter(config);
    case 'gpio':
      return new GpioLimiter(config);
    case 'pwm':
      return new PwmLimiter(config);
    case 'serial':
      return new SerialLimiter(config);
  }
}
