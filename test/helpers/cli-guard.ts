/**
 * The bad-input guard: runs one `sidewalk …` command that must fail and checks that it failed the way
 * every command should (non-zero exit within seconds, one coded line on stderr, no stack trace, nothing
 * written where the command would have put its output). Each area's guard table calls `expectCleanFailure`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CLI_HANG_TIMEOUT_MS, runCli } from './cli.js';

export interface BadInputCase {
  /** Shown in the test name, e.g. "replay: legacy run with short rows". */
  name: string;
  /** Arguments after `sidewalk`. */
  args: string[];
  /** The error code the one stderr line must start with (after `sidewalk: `); a RegExp for a family. */
  code: string | RegExp;
  /** Paths the command would have written; none may exist afterwards. */
  mustNotExist?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Wall-clock limit in ms for the whole command (default 15 s: start-up of the CLI is ~1 s). */
  timeoutMs?: number;
  stdin?: string;
}

export interface CliFailure {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Runs `node dist/bin/sidewalk.js ...args` (test/helpers/cli.ts), killing it (SIGKILL) at the timeout. */
export const runSidewalk = runCli;

const STACK_LINE = /^\s+at .+(\(|:\d+:\d+)/m;

/** Asserts the failure contract for one case; returns the run for further checks. */
export async function expectCleanFailure(c: BadInputCase): Promise<CliFailure> {
  const run = await runSidewalk(c.args, c);
  const shown = `sidewalk ${c.args.join(' ')}\n--- stderr ---\n${run.stderr}--- stdout ---\n${run.stdout}`;
  assert.ok(!run.timedOut, `did not finish within ${c.timeoutMs ?? CLI_HANG_TIMEOUT_MS} ms: ${shown}`);
  assert.notEqual(run.code, 0, `exit code 0 on bad input: ${shown}`);
  assert.equal(run.signal, null, `ended by ${run.signal}: ${shown}`);
  assert.doesNotMatch(run.stderr, STACK_LINE, `stack trace on stderr: ${shown}`);
  const errorLines = run.stderr.split('\n').filter((l) => l.startsWith('sidewalk: '));
  assert.equal(errorLines.length, 1, `expected exactly one "sidewalk: CODE: message" line: ${shown}`);
  const line = errorLines[0]!.slice('sidewalk: '.length);
  const code = /^([A-Z][A-Z0-9_]+): \S/.exec(line)?.[1];
  assert.ok(code, `error line has no code: ${shown}`);
  if (typeof c.code === 'string') assert.equal(code, c.code, shown);
  else assert.match(code, c.code, shown);
  for (const p of c.mustNotExist ?? []) assert.ok(!existsSync(p), `${p} was written although the command failed: ${shown}`);
  return run;
}
