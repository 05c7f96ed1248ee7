/**
 * Starts `sidewalk run` as a child process the way systemd would (NOTIFY_SOCKET, WATCHDOG_USEC),
 * with a config written by the test, and gives the test handles on its notify messages, metrics,
 * limiter log and exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from './paths.js';
import { listenNotifySocket } from './notify-socket.js';
import { SIDEWALK_BIN } from './cli.js';
import { makeTempDir } from './temp.js';

export { SIDEWALK_BIN };
export const FAKE_RPICAM = join(REPO_ROOT, 'test/fixtures/fake-rpicam-vid');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface ServiceProcess {
  dir: string;
  child: ChildProcess;
  notify: { messages: string[] };
  metricsUrl: string;
  limiterLog: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  metric(name: string): Promise<number | null>;
  limiterCommands(): Promise<{ monoMs: number; limitKph: number; safe?: true }[]>;
  waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startService(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const dir = await makeTempDir('svc-');
  const port = await freePort();
  const limiterLog = join(dir, 'limiter.jsonl');
  const full = {
    ...config,
    limiter: { kind: 'simulated', simulated: { log_file: limiterLog } },
    metrics: { enabled: true, host: '127.0.0.1', port },
  };
  await writeFile(join(dir, 'runtime.yaml'), stringify(full));
  const sock = await listenNotifySocket();
  let stderr = '';
  const child = spawn(process.execPath, [SIDEWALK_BIN, 'run', '--config', join(dir, 'runtime.yaml')], {
    env: { ...process.env, NOTIFY_SOCKET: sock.path, FAKE_RPICAM_PIDFILE: join(dir, 'camera.pid'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const svc: ServiceProcess = {
    dir,
    child,
    notify: sock,
    metricsUrl,
    limiterLog,
    stderr: () => stderr,
    exited,
    async metric(name) {
      try {
        const text = await (await fetch(metricsUrl)).text();
        const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm'));
        return m ? Number(m[1]) : null;
      } catch {
        return null;
      }
    },
    async limiterCommands() {
      const text = await readFile(limiterLog, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { monoMs: number; limitKph: number; safe?: true });
    },
    async waitFor(predicate, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await predicate()) return;
        if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}) while waiting for ${what}:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; service log:\n${stderr.slice(-3000)}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await sock.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return svc;
}
