/** A socat pty pair: two linked pseudo-terminals, the stand-in for a UART and its peer. */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../../helpers/temp.js';

export interface PtyPair {
  /** Device the code under test opens. */
  device: string;
  /** Device the test's peer (responder / GPS simulator) opens. */
  peer: string;
  /** Ends socat: both ptys hang up and their links disappear (an unplugged adapter). */
  unplug(): Promise<void>;
  /** Starts a new socat pair under the same link names (the adapter plugged back in). */
  plug(): Promise<void>;
  close(): Promise<void>;
}

async function startSocat(device: string, peer: string): Promise<ChildProcess> {
  const child = spawn('socat', [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  const ready = async () =>
    (await access(device).then(
      () => true,
      () => false,
    )) &&
    (await access(peer).then(
      () => true,
      () => false,
    ));
  while (!(await ready())) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`socat did not create ${device} and ${peer}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return child;
}

async function stopSocat(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function socatPair(): Promise<PtyPair> {
  const dir = await makeTempDir('sidewalk-pty-');
  const device = join(dir, 'dev');
  const peer = join(dir, 'peer');
  let child: ChildProcess | null = await startSocat(device, peer);
  return {
    device,
    peer,
    async unplug() {
      await stopSocat(child);
      child = null;
    },
    async plug() {
      child = await startSocat(device, peer);
    },
    async close() {
      await stopSocat(child);
      child = null;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The far end of a pty, read and written directly (independently of runtime/actuators/serial-port.ts). */
export interface PtyPeer {
  received: Buffer[];
  onData(handler: (chunk: Buffer) => void): void;
  write(data: Buffer | string): void;
  close(): Promise<void>;
}

export async function openPeer(path: string): Promise<PtyPeer> {
  const { openSync, closeSync, constants } = await import('node:fs');
  const { ReadStream } = await import('node:tty');
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  const stream = new ReadStream(fd, { writable: true } as ConstructorParameters<typeof ReadStream>[1]);
  // libuv reopens ttys under a new fd; close ours so a hangup or close() leaves nothing open.
  const handleFd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (handleFd !== undefined && handleFd >= 0 && handleFd !== fd) closeSync(fd);
  const received: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => received.push(chunk));
  stream.on('error', () => undefined); // a hangup (unplug) is expected in some tests
  return {
    received,
    onData: (handler) => stream.on('data', handler),
    write: (data) => {
      if (!stream.destroyed) stream.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (stream.closed) return resolve();
        stream.once('close', () => resolve());
        stream.destroy();
      }),
  };
}
