export { createSpeedSource, type SpeedSourceConfig } from './create.js';
export { SimulatedSpeedSource, type SimulatedSourceConfig } from './simulated-source.js';
export { NmeaSpeedSource, type NmeaSourceConfig, type NmeaStats } from './nmea-source.js';
export { ReplayLogSpeedSource, type ReplayLogSourceConfig } from './replay-log-source.js';
export { parseNmea, nmeaChecksum, KPH_PER_KNOT, type NmeaFix, type NmeaResult } from './nmea.js';
