import type { ErrorCode } from './error-codes.js';

export type { ErrorCode };

/** What the catalogues say about one code: what happened, and what the user can do about it. */
export interface ErrorEntry {
  readonly summary: string;
  readonly action: string;
}

/** One area's codes (e.g. ota/errors.ts); keys are SCREAMING_SNAKE_CASE with the area prefix. */
export type ErrorCatalogue = Readonly<Record<string, ErrorEntry>>;

/**
 * One error type for the whole project: a stable `code` that tools, tests and OTA reports key on,
 * a human message that names the file, field or byte at fault, and optional structured details.
 * Each area keeps a catalogue of its codes (lib/error-codes.ts lists them); the constructor takes
 * only catalogued codes, so the compiler checks every code written at a throw site. docs/errors.md
 * is generated from the catalogues (`sidewalk errors --update-docs`).
 */
export class SidewalkError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidewalkError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isSidewalkError(err: unknown, code?: ErrorCode): err is SidewalkError {
  return err instanceof SidewalkError && (code === undefined || err.code === code);
}

/**
 * Errors only a bug raises (a wrong type, an index or size out of range, an unknown name). Code that
 * turns a source's failure into a coded refusal lets these through as themselves: reported as bad
 * input, a parser bug would hide behind a plausible code (the artifact fuzz test relies on this).
 */
export function isInternalError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError;
}

const CODE_SHAPE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;

/**
 * A code reported by another process or thread of ours (the inference worker, the trainer, an image
 * build stage, the updater's outcome text), to be thrown again here. Those producers use catalogued
 * codes (test/lib/error-catalogue.test.ts scans them); text that is not code-shaped gets `fallback`.
 */
export function relayedCode(text: string, fallback: ErrorCode): ErrorCode {
  return CODE_SHAPE.test(text) ? (text as ErrorCode) : fallback;
}

/** `message` of any thrown value, for logs and CLI output. */
export function errorMessage(err: unknown): string {
  if (err instanceof SidewalkError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The one line every failed command ends with on stderr: `sidewalk: CODE: message`. Errors that reach
 * the CLI without a code of ours still get one: CLI_USAGE (commander's argument errors), IO_<ERRNO>
 * (a Node system error nobody wrapped) and INTERNAL_ERROR (anything else, a bug); the guard tests
 * (test/guard/) keep commands off the last two.
 */
export function cliErrorLine(err: unknown): string {
  return `sidewalk: ${codedMessage(err)}`;
}

function codedMessage(err: unknown): string {
  if (err instanceof SidewalkError) return `${err.code}: ${err.message}`;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  // commander.help: a command that needs a subcommand was given none (its help is already printed).
  if (code === 'commander.help') return 'CLI_USAGE: choose one of the commands listed above';
  if (typeof code === 'string' && code.startsWith('commander.')) return `CLI_USAGE: ${message.replace(/^error: /, '').replace(/\.?$/, '')} (see --help)`;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return `IO_${code}: ${message}`;
  return `INTERNAL_ERROR: ${message}`;
}

/**
 * Ends the process if it is still alive `afterMs` from now (an unref'd timer: a process that ends by
 * itself is not held). A command that has finished or failed must not hang on a leaked handle; the
 * warning names the leak so tests can tell it happened.
 */
export function exitIfStillRunning(afterMs: number, exitCode: number, why: string): void {
  setTimeout(() => {
    process.stderr.write(`WARN  still running ${afterMs} ms after ${why}: something was not released; exiting\n`);
    process.exit(exitCode);
  }, afterMs).unref();
}
