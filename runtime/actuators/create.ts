/** Builds the configured SpeedLimiter. The caller (service) maps its config file onto these shapes. */
import type { SpeedLimiter } from '../types.js';
import { DeadlineLimiter, DEFAULT_LIMITER_DEADLINES } from './deadline-limiter.js';
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

/**
 * The limiter the service drives: every call bounded in time (deadline-limiter.ts). A serial
 * controller may take a few reply timeouts for one command (one in flight, the newest waiting).
 */
export function createServiceLimiter(config: SpeedLimiterConfig): SpeedLimiter {
  const replyMs = config.kind === 'serial' ? config.replyTimeoutMs : 0;
  return new DeadlineLimiter(createSpeedLimiter(config), {
    openMs: Math.max(DEFAULT_LIMITER_DEADLINES.openMs, 4 * replyMs),
    commandMs: Math.max(DEFAULT_LIMITER_DEADLINES.commandMs, 4 * replyMs),
  });
}
