/**
 * The one way the project runs an external command to completion: spawn it (no shell), optionally feed
 * its stdin, collect stdout and stderr (each capped to its last `maxOutputChars`), optionally hand
 * them over line by line as they arrive, and kill it after a timeout. A command that cannot start
 * always rejects with a SidewalkError naming it (with an "install the Debian package" hint when the
 * caller names the package); a non-zero exit rejects only with `check`, else the caller reads `code`.
 * Long-lived streaming children (camera readers, decoders fed frame by frame) manage their own process.
 */
import { spawn } from 'node:child_process';
import { type ErrorCode, SidewalkError } from './errors.js';

export interface RunProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, which is then closed; stdin is /dev/null when absent. */
  input?: string | Uint8Array;
  /** SIGKILL the command after this long; the result then says `timedOut` (and `check` rejects). */
  timeoutMs?: number;
  /** Characters kept of each stream (the tail). Default 16 Mi. */
  maxOutputChars?: number;
  /** Code of the error when the command cannot start or (with `check`) fails. Default PROCESS_FAILED. */
  errorCode?: ErrorCode;
  /** Code when the command is not found (ENOENT); defaults to `errorCode`. */
  missingCode?: ErrorCode;
  /** The Debian package that provides the command, named in the not-found message. */
  installPackage?: string;
  /** Reject when the command exits non-zero, is killed or times out. */
  check?: boolean;
  /** Said after the exit status in a `check` failure, e.g. what the user can do. */
  failureHint?: string;
  /** Called with every complete line (without "\n"), and the unterminated rest at the end. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
}

export interface ProcessResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

const DEFAULT_MAX_OUTPUT_CHARS = 16 * 1024 * 1024;

/** `cmd a b c ...`: the command and its first arguments, to name it in messages. */
export function describeCommand(command: string, args: readonly string[], shownArgs = 3): string {
  return [command, ...args.slice(0, shownArgs), ...(args.length > shownArgs ? ['...'] : [])].join(' ');
}

/** How the command ended, for messages: "exit 2", "signal SIGKILL", "timed out after 5000 ms". */
export function describeExit(r: ProcessResult, timeoutMs?: number): string {
  if (r.timedOut) return `timed out after ${timeoutMs ?? '?'} ms`;
  return r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
}

/** The last non-empty lines of stderr (or of stdout when stderr is empty), joined with " | ". */
export function outputTail(r: Pick<ProcessResult, 'stdout' | 'stderr'>, lines = 5): string {
  const text = r.stderr.trim() || r.stdout.trim();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join(' | ');
}

/** Collects one stream into a capped string and, when asked, into lines. */
function collector(max: number, onLine?: (line: string) => void): { add(text: string): void; end(): void; text(): string } {
  let text = '';
  let pending = '';
  return {
    add(chunk) {
      text += chunk;
      if (text.length > max) text = text.slice(-max);
      if (!onLine) return;
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    },
    end() {
      if (onLine && pending !== '') onLine(pending);
      pending = '';
    },
    text: () => text,
  };
}

function startError(command: string, args: readonly string[], err: NodeJS.ErrnoException, o: RunProcessOptions): SidewalkError {
  const code = o.errorCode ?? 'PROCESS_FAILED';
  if (err.code === 'ENOENT') {
    const hint = o.installPackage ? `: install the Debian package ${o.installPackage} (apt-get install ${o.installPackage})` : '';
    return new SidewalkError(o.missingCode ?? code, `${command} not found${hint}`, { cause: err, details: { command } });
  }
  return new SidewalkError(code, `cannot run ${describeCommand(command, args)}: ${err.message}`, { cause: err, details: { command } });
}

/** Runs `command args` to its end; see the file comment for what rejects. */
export function runProcess(command: string, args: readonly string[], o: RunProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const max = o.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS;
    const out = collector(max, o.onStdoutLine);
    const err = collector(max, o.onStderrLine);
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let timedOut = false;
    const timer =
      o.timeoutMs === undefined
        ? null
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, o.timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (t: string) => out.add(t));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => err.add(t));
    if (o.input !== undefined && child.stdin) {
      // A command that exits without reading its input (EPIPE) is judged by its exit status.
      child.stdin.on('error', () => {});
      child.stdin.end(o.input);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(startError(command, args, e, o));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      out.end();
      err.end();
      const result: ProcessResult = { code, signal, timedOut, stdout: out.text(), stderr: err.text() };
      if (o.check && (code !== 0 || timedOut)) {
        const hint = o.failureHint ? ` (${o.failureHint})` : '';
        const tail = outputTail(result);
        reject(
          new SidewalkError(o.errorCode ?? 'PROCESS_FAILED', `${describeCommand(command, args)} failed (${describeExit(result, o.timeoutMs)})${hint}${tail ? `: ${tail}` : ''}`, {
            details: { command, code, signal },
          }),
        );
        return;
      }
      resolvePromise(result);
    });
  });
}
