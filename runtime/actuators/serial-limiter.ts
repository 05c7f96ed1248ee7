/**
 * Serial limiter: tells a motor controller its speed limit over a UART.
 *  - protocol "line" (our documented text protocol, grammar in docs/wiring.md):
 *      Pi -> controller   "LIMIT <kph>\n"   kph with exactly one decimal, e.g. "LIMIT 6.0\n"
 *      controller -> Pi   "OK\n" (optionally followed by " <anything>") or "ERR <reason>\n"
 *  - protocol "vesc": COMM_SET_MCCONF_TEMP_SETUP with max speed in m/s (RAM only), ack requested.
 * One command in flight; each must be acknowledged within replyTimeoutMs. The last limit is re-sent
 * every keepaliveMs so a controller with its own timeout can fall back to limited when the Pi dies.
 */
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { SpeedLimiter } from '../types.js';
import { checkLimitKph, closedError } from './limit-check.js';
import { LineSplitter, SerialPort } from './serial-port.js';
import { COMM_SET_MCCONF_TEMP_SETUP, decodeFrames, encodeFrame, setMcconfTempSetupPayload } from './vesc.js';

const log = createLogger('runtime:actuators:serial');

export interface VescLimitOptions {
  /** Reverse speed limit; null = same as the forward limit. Unit: km/h. Default null. */
  reverseLimitKph?: number | null;
  /** The other limits the command overwrites: set them to the controller's normal values. */
  currentMinScale?: number; // default 1
  currentMaxScale?: number; // default 1
  dutyMin?: number; // default 0.005
  dutyMax?: number; // default 0.95
  wattMin?: number; // default -1500000
  wattMax?: number; // default 1500000
  forwardCan?: boolean; // default false
}

export interface SerialLimiterConfig {
  kind: 'serial';
  device: string;
  /** Unit: baud. */
  baud: number;
  protocol: 'line' | 'vesc';
  /** How long the controller has to acknowledge a command. Unit: ms. */
  replyTimeoutMs: number;
  /** Re-send the current limit this often; 0 = never. Unit: ms. Default 500. */
  keepaliveMs?: number;
  /** Limit of the safe state. Unit: km/h. */
  safeLimitKph: number;
  sttyPath?: string;
  /** Retry opening a lost device (USB adapter unplugged) this often. Unit: ms. Default 1000; 0 = never. */
  reopenDelayMs?: number;
  vesc?: VescLimitOptions;
}

/** Formats a limit for the line protocol: one decimal, no sign, no exponent. */
export function formatLineCommand(limitKph: number): string {
  return `LIMIT ${(Math.round(limitKph * 10) / 10).toFixed(1)}\n`;
}

interface Pending {
  /** The value an echoing controller must answer with ("OK 6.0"); null for VESC. */
  echo: string | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SerialLimiter implements SpeedLimiter {
  readonly kind = 'serial';
  readonly #config: SerialLimiterConfig;
  readonly #port: SerialPort;
  readonly #lines = new LineSplitter();
  #bytes: Buffer = Buffer.alloc(0);
  #pending: Pending | null = null;
  #queue: Promise<void> = Promise.resolve();
  /** Last command asked for (what the keepalive repeats) and last one acknowledged (dedupe). */
  #lastWanted: string | null = null;
  #lastAcked: string | null = null;
  #lastSentAtMs = 0;
  #keepalive: NodeJS.Timeout | null = null;
  #open = false;
  /** Commands sent and acknowledged, oldest first (wire form; for tests and diagnostics, capped). */
  readonly acknowledged: string[] = [];

  constructor(config: SerialLimiterConfig) {
    checkLimitKph('serial', config.safeLimitKph);
    this.#config = config;
    this.#port = new SerialPort({ device: config.device, baud: config.baud, sttyPath: config.sttyPath, reopenDelayMs: config.reopenDelayMs ?? 1000 });
  }

  async init(): Promise<void> {
    await this.#port.open();
    this.#port.on('data', (chunk) => this.#onData(chunk));
    this.#port.on('error', (err) => {
      log.error(`serial ${this.#config.device}: ${err.message}`);
      this.#settle(err);
    });
    this.#port.on('lost', () => {
      log.error(`serial ${this.#config.device}: device lost; the controller must fall back to limited on its own`);
      this.#settle(new SidewalkError('LIMITER_SERIAL_LOST', `serial ${this.#config.device}: device lost`));
    });
    this.#port.on('reopen', () => {
      log.warn(`serial ${this.#config.device}: reopened; re-sending the current limit`);
      if (this.#lastWanted !== null) this.#enqueue(this.#lastWanted).catch((err: unknown) => log.warn(`re-send after reopen: ${(err as Error).message}`));
    });
    this.#open = true;
    try {
      await this.#send(this.#config.safeLimitKph, true);
    } catch (err) {
      this.#open = false;
      await this.#port.close();
      throw err;
    }
    const keepaliveMs = this.#config.keepaliveMs ?? 500;
    if (keepaliveMs > 0) {
      this.#keepalive = setInterval(() => {
        if (this.#lastWanted === null || performance.now() - this.#lastSentAtMs < keepaliveMs) return;
        this.#enqueue(this.#lastWanted).catch((err: unknown) => log.warn(`keepalive: ${(err as Error).message}`));
      }, keepaliveMs);
      this.#keepalive.unref();
    }
  }

  async setLimit(limitKph: number): Promise<void> {
    if (!this.#open) throw closedError(this.kind);
    checkLimitKph(this.kind, limitKph);
    await this.#send(limitKph, false);
  }

  async safeState(): Promise<void> {
    if (this.#open) await this.#send(this.#config.safeLimitKph, true);
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    try {
      await this.safeState();
    } finally {
      this.#open = false;
      if (this.#keepalive) clearInterval(this.#keepalive);
      this.#keepalive = null;
      await this.#port.close();
      this.#settle(new SidewalkError('LIMITER_CLOSED', `serial ${this.#config.device}: closed`));
    }
  }

  /** Wire form of a limit command (text for "line", hex for "vesc"; used as the dedupe key too). */
  encode(limitKph: number): Buffer {
    if (this.#config.protocol === 'line') return Buffer.from(formatLineCommand(limitKph), 'latin1');
    const v = this.#config.vesc ?? {};
    const mps = limitKph / 3.6;
    return encodeFrame(
      setMcconfTempSetupPayload({
        store: false,
        forwardCan: v.forwardCan ?? false,
        ack: true,
        divideByControllers: false,
        currentMinScale: v.currentMinScale ?? 1,
        currentMaxScale: v.currentMaxScale ?? 1,
        speedMinMps: -((v.reverseLimitKph ?? limitKph) / 3.6),
        speedMaxMps: mps,
        dutyMin: v.dutyMin ?? 0.005,
        dutyMax: v.dutyMax ?? 0.95,
        wattMin: v.wattMin ?? -1_500_000,
        wattMax: v.wattMax ?? 1_500_000,
      }),
    );
  }

  #send(limitKph: number, force: boolean): Promise<void> {
    const wire = this.encode(limitKph).toString('latin1');
    // Unchanged limits are not re-sent per frame; the keepalive refreshes them.
    if (!force && wire === this.#lastAcked && wire === this.#lastWanted) return Promise.resolve();
    this.#lastWanted = wire;
    return this.#enqueue(wire);
  }

  #enqueue(wire: string): Promise<void> {
    const run = this.#queue
      .then(() => this.#transact(wire))
      .then(
        () => {
          this.#lastAcked = wire;
        },
        (err: unknown) => {
          this.#lastAcked = null;
          throw err;
        },
      );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #transact(wire: string): Promise<void> {
    if (!this.#port.isOpen) {
      throw this.#open ? new SidewalkError('LIMITER_SERIAL_LOST', `serial ${this.#config.device}: device lost, waiting to reopen it`) : closedError(this.kind);
    }
    const timeoutMs = this.#config.replyTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let pending: Pending | undefined;
    const reply = new Promise<void>((resolve, reject) => {
      pending = {
        echo: wire.startsWith('LIMIT ') ? wire.slice(6).trim() : null,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      timer = setTimeout(() => {
        if (this.#pending === pending) this.#pending = null;
        reject(new SidewalkError('LIMITER_SERIAL_TIMEOUT', `serial ${this.#config.device}: no acknowledgement within ${timeoutMs} ms for ${describe(wire)}`));
      }, timeoutMs);
    });
    this.#pending = pending!;
    this.#lastSentAtMs = performance.now();
    try {
      await this.#port.write(Buffer.from(wire, 'latin1'));
    } catch (err) {
      clearTimeout(timer);
      if (this.#pending === pending) this.#pending = null;
      reply.catch(() => undefined); // never settled now; keep it from surfacing as unhandled
      throw err;
    }
    await reply;
    this.acknowledged.push(wire);
    if (this.acknowledged.length > 1000) this.acknowledged.splice(0, 500);
  }

  #settle(err?: Error): void {
    const pending = this.#pending;
    this.#pending = null;
    if (!pending) return;
    if (err) pending.reject(err);
    else pending.resolve();
  }

  #onData(chunk: Buffer): void {
    if (this.#config.protocol === 'line') {
      for (const line of this.#lines.push(chunk)) {
        const ok = /^OK(?:\s+(\S+))?/.exec(line);
        if (ok && ok[1] !== undefined && this.#pending?.echo != null && ok[1] !== this.#pending.echo) {
          // An echoed value that is not ours is a late reply to an earlier command.
          log.debug(() => `ignoring stale reply ${JSON.stringify(line)} (waiting for OK ${this.#pending?.echo})`);
        } else if (ok) this.#settle();
        else if (/^ERR(\s|$)/.test(line)) this.#settle(new SidewalkError('LIMITER_SERIAL_REJECTED', `serial ${this.#config.device}: controller replied "${line}"`));
        else log.debug(() => `ignoring line from controller: ${JSON.stringify(line)}`);
      }
      return;
    }
    const { payloads, rest } = decodeFrames(Buffer.concat([this.#bytes, chunk]));
    this.#bytes = Buffer.from(rest.subarray(-1024));
    for (const payload of payloads) {
      if (payload[0] === COMM_SET_MCCONF_TEMP_SETUP) this.#settle();
      else log.debug(() => `ignoring VESC packet id ${payload[0]}`);
    }
  }
}

function describe(wire: string): string {
  return wire.startsWith('LIMIT') ? JSON.stringify(wire) : `VESC frame ${Buffer.from(wire, 'latin1').toString('hex')}`;
}
