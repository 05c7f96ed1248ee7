import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
interface Listener {
  bind(path: string): void;
  on(event: 'message', cb: (buf: Buffer) => void): void;
  close(): void;
}

/** A real AF_UNIX datagram socket standing in for systemd's notify socket. */
export async function listenNotifySocket(): Promise<{ path: string; messages: string[]; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'notify-'));
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

