import { createRequire } from 'node:module';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from './temp.js';

const require = createRequire(import.meta.url);
interface Listener {
  bind(path: string): void;
  on(event: 'message', cb: (buf: Buffer) => void): void;
  close(): void;
}

/** A real AF_UNIX datagram socket standing in for systemd's notify socket. */
export async function listenNotifySocket(): Promise<{ path: string; messages: string[]; close(): Promise<void> }> {
  const dir = await makeTempDir('notify-');
  const path = join(dir, 'notify.sock');
  const unix = require('unix-dgram') as { createSocket(t: 'unix_dgram'): Listener };
  const socket = unix.createSocket('unix_dgram');
  const messages: string[] = [];
  socket.on('message', (buf) => messages.push(buf.toString()));
  socket.bind(path);
  return {
    path,
    messages,
    close: async () => {
      socket.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
