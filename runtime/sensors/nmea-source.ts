/**
 * GPS speed source: NMEA sentences from a serial GPS (RMC speed over ground and position, VTG speed).
 * The newest valid sentence wins; a reading older than staleAfterMs, or a receiver reporting no fix,
 * gives null (unknown speed), which the decision treats as "do not freeze the state".
 */
import { createLogger } from '../../lib/log.js';
import type { SpeedReading, SpeedSource } from '../types.js';
import { LineSplitter, SerialPort } from '../actuators/serial-port.js';
import { parseNmea } from './nmea.js';

const log = createLogger('runtime:sensors:nmea');

export interface NmeaSourceConfig {
  kind: 'nmea';
  device: string;
  /** Unit: baud. */
  baud: number;
  /** A reading older than this is no reading. Unit: ms. */
  staleAfterMs: number;
  sttyPath?: string;
  /** Retry opening a lost device (USB GPS unplugged) this often. Unit: ms. Default 1000; 0 = never. */
  reopenDelayMs?: number;
  /** Monotonic clock (ms); default performance.now(). */
  nowMs?: () => number;
}

export interface NmeaStats {
  sentences: number;
  badChecksum: number;
  malformed: number;
  noFix: number;
}

export class NmeaSpeedSource implements SpeedSource {
  readonly #config: NmeaSourceConfig;
  readonly #port: SerialPort;
  readonly #lines = new LineSplitter();
  readonly #now: () => number;
  #latest: SpeedReading | null = null;
  #position: SpeedReading['position'] | undefined;
  readonly stats: NmeaStats = { sentences: 0, badChecksum: 0, malformed: 0, noFix: 0 };

  /** Times the serial device was lost and reopened. */
  get reopens(): number {
    return this.#port.reopens;
  }

  constructor(config: NmeaSourceConfig) {
    this.#config = config;
    this.#now = config.nowMs ?? (() => performance.now());
    this.#port = new SerialPort({ device: config.device, baud: config.baud, sttyPath: config.sttyPath, reopenDelayMs: config.reopenDelayMs ?? 1000 });
  }

  get description(): string {
    return `nmea ${this.#config.device}@${this.#config.baud}`;
  }

  async start(): Promise<void> {
    await this.#port.open();
    this.#port.on('data', (chunk) => {
      for (const line of this.#lines.push(chunk)) this.handleLine(line);
    });
    this.#port.on('error', (err) => log.warn(`${this.#config.device}: ${err.message}`));
    this.#port.on('lost', () => log.warn(`${this.#config.device}: GPS device lost; speed becomes unknown once stale, reopening`));
    this.#port.on('reopen', () => log.info(`${this.#config.device}: GPS device reopened`));
  }

  /** Feeds one received line (public so recorded NMEA logs can be replayed through the same path). */
  handleLine(line: string): void {
    if (line.trim() === '') return;
    const result = parseNmea(line);
    if (!result.ok) {
      if (result.reason === 'checksum') this.stats.badChecksum++;
      else if (result.reason === 'format') this.stats.malformed++;
      if (result.reason !== 'unsupported') log.debug(() => `ignoring NMEA sentence (${result.reason}): ${JSON.stringify(line)}`);
      return;
    }
    this.stats.sentences++;
    const { fix } = result;
    if (!fix.valid || fix.speedKph === null) {
      this.stats.noFix++;
      this.#latest = null;
      return;
    }
    const atMs = this.#now();
    if (fix.kind === 'rmc' && fix.lat !== null && fix.lon !== null) this.#position = { lat: fix.lat, lon: fix.lon };
    this.#latest = { speedKph: fix.speedKph, atMs, ...(this.#position ? { position: this.#position } : {}) };
  }

  current(): SpeedReading | null {
    const latest = this.#latest;
    if (!latest || this.#now() - latest.atMs > this.#config.staleAfterMs) return null;
    return latest;
  }

  async stop(): Promise<void> {
    await this.#port.close();
  }
}
