/**
 * A minimal serial port on plain Node: `stty -F DEV BAUD raw -echo cs8 -parenb -cstopb -crtscts clocal`
 * sets the whole line (8N1, no hardware flow control, modem lines ignored: a 3-wire UART) — `raw`
 * alone keeps whatever parity, stop bits or flow control the tty inherited. Then the tty is opened
 * with fs and read through a tty.ReadStream (libuv's non-blocking TTY handle; a plain fs stream would
 * park a thread-pool thread in read() forever). One device serves one user in this process: a
 * second open of the same tty (e.g. /dev/serial0 and /dev/ttyAMA0, which can be the same UART) is
 * refused. Shared by the serial limiter and the NMEA GPS source. Tests use a socat pty pair.
 */
import { EventEmitter } from 'node:events';
import { constants, openSync, closeSync, realpathSync } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';
import { SidewalkError } from '../../lib/errors.js';
import { runProcess } from '../../lib/run-process.js';

/** The line settings after the baud rate (see the header). */
const STTY_LINE_SETTINGS = ['raw', '-echo', 'cs8', '-parenb', '-cstopb', '-crtscts', 'clocal'] as const;

/** Real paths of the ttys open in this process, and who has each. */
const openDevices = new Map<string, SerialPort>();
const realDevice = (device: string): string => {
  try {
    return realpathSync(device);
  } catch {
    return device;
  }
};

export interface SerialPortOptions {
  device: string;
  baud: number;
  /** Default "stty". */
  sttyPath?: string;
  /**
   * When the device goes away (USB adapter unplugged, hangup), retry opening it this often until
   * close() is called. Unit: ms. Default 0 = do not reopen.
   */
  reopenDelayMs?: number;
}

export interface SerialPortEvents {
  data: [Buffer];
  error: [Error];
  /** The device closed without close() being called (hangup, unplug). */
  lost: [];
  /** The device was opened again after being lost. */
  reopen: [];
}

export class SerialPort extends EventEmitter<SerialPortEvents> {
  readonly options: SerialPortOptions;
  #stream: ReadStream | null = null;
  #closing = false;
  #reopenTimer: NodeJS.Timeout | null = null;
  /** Real path of the open tty (the key in openDevices). */
  #real: string | null = null;
  /** Times the device was lost and opened again. */
  reopens = 0;

  constructor(options: SerialPortOptions) {
    super();
    this.options = options;
  }

  get isOpen(): boolean {
    return this.#stream !== null;
  }

  async open(): Promise<void> {
    this.#closing = false;
    await this.#openOnce();
  }

  #scheduleReopen(): void {
    const delayMs = this.options.reopenDelayMs ?? 0;
    if (delayMs <= 0 || this.#closing || this.#reopenTimer) return;
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = null;
      if (this.#closing || this.#stream) return;
      this.#openOnce().then(
        () => {
          this.reopens++;
          this.emit('reopen');
        },
        () => this.#scheduleReopen(),
      );
    }, delayMs);
    this.#reopenTimer.unref();
  }

  async #openOnce(): Promise<void> {
    const { device, baud } = this.options;
    const real = realDevice(device);
    const holder = openDevices.get(real);
    if (holder !== undefined && holder !== this) {
      throw new SidewalkError('SERIAL_PORT_IN_USE', `serial ${device}: ${real} is already open in this process (as ${holder.options.device}); give each device its own UART (docs/hardware.md)`, {
        details: { device, real },
      });
    }
    try {
      await runProcess(this.options.sttyPath ?? 'stty', ['-F', device, String(baud), ...STTY_LINE_SETTINGS], {
        timeoutMs: 5000,
        check: true,
        errorCode: 'SERIAL_OPEN_FAILED',
        installPackage: 'coreutils',
      });
    } catch (err) {
      throw new SidewalkError('SERIAL_OPEN_FAILED', `serial ${device}: stty ${baud} ${STTY_LINE_SETTINGS.join(' ')} failed (${(err as Error).message.trim()})`, {
        cause: err,
        details: { device },
      });
    }
    let fd: number;
    try {
      fd = openSync(device, constants.O_RDWR | constants.O_NOCTTY);
    } catch (err) {
      throw new SidewalkError('SERIAL_OPEN_FAILED', `serial ${device}: open failed (${(err as Error).message})`, { cause: err, details: { device } });
    }
    if (!isatty(fd)) {
      closeSync(fd);
      throw new SidewalkError('SERIAL_OPEN_FAILED', `serial ${device}: not a tty`, { details: { device } });
    }
    const stream = new ReadStream(fd, { writable: true } as ConstructorParameters<typeof ReadStream>[1]);
    // libuv reopens a tty under a new fd (so it can make it non-blocking) and closes only that one:
    // our original fd would leak and keep the device open after close().
    const handleFd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (handleFd !== undefined && handleFd >= 0 && handleFd !== fd) closeSync(fd);
    stream.on('data', (chunk: Buffer) => this.emit('data', chunk));
    stream.on('error', (err: Error) => this.emit('error', err));
    stream.on('close', () => {
      if (this.#stream !== stream) return; // closed by close()
      this.#stream = null;
      this.#release();
      this.emit('lost');
      this.#scheduleReopen();
    });
    this.#stream = stream;
    this.#real = real;
    openDevices.set(real, this);
  }

  #release(): void {
    if (this.#real !== null && openDevices.get(this.#real) === this) openDevices.delete(this.#real);
    this.#real = null;
  }

  write(data: Buffer | string): Promise<void> {
    const stream = this.#stream;
    if (!stream) return Promise.reject(new SidewalkError('SERIAL_CLOSED', `serial ${this.options.device}: write while closed`));
    return new Promise((resolve, reject) => {
      stream.write(data, (err) => (err ? reject(new SidewalkError('SERIAL_WRITE_FAILED', `serial ${this.options.device}: write failed (${err.message})`, { cause: err })) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#reopenTimer) clearTimeout(this.#reopenTimer);
    this.#reopenTimer = null;
    const stream = this.#stream;
    this.#stream = null;
    this.#release();
    if (!stream || stream.destroyed) return;
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.destroy();
    });
  }
}

/** Splits a byte stream into lines (LF, optional CR stripped); keeps partial lines between chunks. */
export class LineSplitter {
  #buffer = '';
  readonly #maxLength: number;

  constructor(maxLength = 4096) {
    this.#maxLength = maxLength;
  }

  push(chunk: Buffer | string): string[] {
    this.#buffer += chunk.toString('latin1');
    const parts = this.#buffer.split('\n');
    this.#buffer = parts.pop() ?? '';
    // A peer that never sends LF must not grow memory without bound.
    if (this.#buffer.length > this.#maxLength) this.#buffer = '';
    return parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }
}
