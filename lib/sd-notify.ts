/**
 * sd_notify(3) from a systemd service's own process (the runtime and the OTA daemon): READY=1,
 * STATUS=, WATCHDOG=1, STOPPING=1.
 * Node's dgram has no AF_UNIX datagrams, so this uses the unix-dgram addon; messages come from
 * the main pid, which is what Type=notify with WatchdogSec (NotifyAccess=main) requires.
 */
import { createRequire } from 'node:module';
import { createLogger } from './log.js';

const log = createLogger('sd-notify');
const require = createRequire(import.meta.url);

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}

export interface Notifier {
  /** True when a notify socket is configured (running under systemd). */
  readonly enabled: boolean;
  /** Watchdog interval requested by systemd (WATCHDOG_USEC for our pid), or 0 when none. */
  readonly watchdogIntervalMs: number;
  notify(fields: Record<string, string | number>): Promise<void>;
  close(): void;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  const watchdogUsec = Number(env.WATCHDOG_USEC ?? 0);
  const watchdogPid = env.WATCHDOG_PID === undefined ? pid : Number(env.WATCHDOG_PID);
  const watchdogIntervalMs = watchdogUsec > 0 && watchdogPid === pid ? watchdogUsec / 1000 : 0;

  if (!socketPath) {
    return { enabled: false, watchdogIntervalMs, notify: async () => {}, close: () => {} };
  }
  if (socketPath.startsWith('@')) {
    log.warn(`NOTIFY_SOCKET ${socketPath} is in the abstract namespace, which unix-dgram cannot address; not notifying systemd`);
    return { enabled: false, watchdogIntervalMs: 0, notify: async () => {}, close: () => {} };
  }

  const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramSocket };
  const socket = unix.createSocket('unix_dgram');
  socket.on('error', (err) => log.warn(`notify socket error: ${err.message}`));

  return {
    enabled: true,
    watchdogIntervalMs,
    notify(fields) {
      const text = Object.entries(fields)
        .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
        .join('\n');
      const buf = Buffer.from(text);
      return new Promise((resolve) => {
        socket.send(buf, 0, buf.length, socketPath, (err) => {
          if (err) log.warn(`sd_notify ${text.split('\n')[0]} failed: ${err.message}`);
          resolve();
        });
      });
    },
    close: () => socket.close(),
  };
}
