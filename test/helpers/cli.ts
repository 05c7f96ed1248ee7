/**
 * The CLI entry for tests: `node dist/bin/sidewalk.js ...args` as a child process, the way a user runs
 * it, with SIDEWALK_LOG=warn unless the test's env says otherwise.
 *   runCli      waits without blocking this process (the test's own servers keep answering)
 *   runCliSync  blocks; for commands that need nothing from this process
 *   spawnCli    starts it and hands back the child (services, daemons)
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export const SIDEWALK_BIN = join(REPO_ROOT, 'dist/bin/sidewalk.js');

export interface CliOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  stdin?: string;
  /** Killed with SIGKILL after this long (default CLI_HANG_TIMEOUT_MS for runCli, none for runCliSync). */
  timeoutMs?: number;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/**
 * How long runCli lets a command run before calling it hung. A hang detector, not a speed check: it is
 * generous because test machines are shared and coverage collection slows every process start.
 */
export const CLI_HANG_TIMEOUT_MS = 60_000;

const cliEnv = (env: Record<string, string> | undefined): NodeJS.ProcessEnv => ({ ...process.env, SIDEWALK_LOG: 'warn', ...env });

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [SIDEWALK_BIN, ...args], { cwd: opts.cwd, env: cliEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(opts.stdin ?? '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? CLI_HANG_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

export function runCliSync(args: string[], opts: CliOptions = {}): CliRun {
  const started = Date.now();
  const r = spawnSync(process.execPath, [SIDEWALK_BIN, ...args], {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    input: opts.stdin ?? '',
    encoding: 'utf8',
    killSignal: 'SIGKILL',
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (r.error && !timedOut) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started, timedOut };
}

export function spawnCli(args: string[], opts: Omit<SpawnOptions, 'env'> & { env?: Record<string, string> } = {}): ChildProcess {
  return spawn(process.execPath, [SIDEWALK_BIN, ...args], { ...opts, env: cliEnv(opts.env) });
}
