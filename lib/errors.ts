/**
 * One error type for the whole project: a stable `code` that tools, tests and OTA reports key on,
 * a human message that names the file, field or byte at fault, and optional structured details.
 * Each area keeps its own list of codes (e.g. runtime/inference/errors.ts); codes are
 * SCREAMING_SNAKE_CASE with an area prefix (MODEL_, CONFIG_, CAMERA_, ARTIFACT_, DATA_, ...).
 */
export class SidewalkError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidewalkError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isSidewalkError(err: unknown, code?: string): err is SidewalkError {
  return err instanceof SidewalkError && (code === undefined || err.code === code);
}

/** `message` of any thrown value, for logs and CLI output. */
export function errorMessage(err: unknown): string {
  if (err instanceof SidewalkError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
