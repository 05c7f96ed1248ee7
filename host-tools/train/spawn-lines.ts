import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LineRunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last stderr lines, kept to explain a failure. */
  stderrTail: string[];
}

export interface LineRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  tailLines?: number;
}

/**
 * Runs a command and hands its output to the callbacks line by line as it arrives (progress must be
 * visible while pip or TensorFlow work for minutes). Rejects only when the command cannot start.
 */
export function runLines(command: string, args: string[], options: LineRunOptions = {}): Promise<LineRunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const tailLines = options.tailLines ?? 40;
    let pending = 2;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const finish = (): void => {
      if (pending === 0 && exit) resolvePromise({ exitCode: exit.code, signal: exit.signal, stderrTail: tail });
    };
    const out = createInterface({ input: child.stdout });
    out.on('line', (line) => options.onStdoutLine?.(line));
    out.on('close', () => { pending -= 1; finish(); });
    const err = createInterface({ input: child.stderr });
    err.on('line', (line) => {
      tail.push(line);
      if (tail.length > tailLines) tail.shift();
      options.onStderrLine?.(line);
    });
    err.on('close', () => { pending -= 1; finish(); });
    child.on('error', reject);
    child.on('close', (code, signal) => { exit = { code, signal }; finish(); });
  });
}
