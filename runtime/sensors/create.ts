/** Builds the configured SpeedSource. The caller (service) maps its config file onto these shapes. */
import type { SpeedSource } from '../types.js';
import { NmeaSpeedSource, type NmeaSourceConfig } from './nmea-source.js';
import { ReplayLogSpeedSource, type ReplayLogSourceConfig } from './replay-log-source.js';
import { SimulatedSpeedSource, type SimulatedSourceConfig } from './simulated-source.js';

export type SpeedSourceConfig = SimulatedSourceConfig | NmeaSourceConfig | ReplayLogSourceConfig;

export function createSpeedSource(config: SpeedSourceConfig): SpeedSource {
  switch (config.kind) {
    case 'simulated':
      return new SimulatedSpeedSource(config);
    case 'nmea':
      return new NmeaSpeedSource(config);
    case 'replay-log':
      return new ReplayLogSpeedSource(config);
  }
}
