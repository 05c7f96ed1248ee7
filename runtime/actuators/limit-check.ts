import { SidewalkError } from '../../lib/errors.js';

/** Rejects limits no backend can honour (NaN, negative, infinite): a bug upstream must not reach the motor. */
export function checkLimitKph(kind: string, limitKph: number): void {
  if (!Number.isFinite(limitKph) || limitKph < 0) {
    throw new SidewalkError('LIMITER_INVALID_LIMIT', `${kind} limiter: limit ${String(limitKph)} km/h is not a finite speed >= 0`, {
      details: { limitKph },
    });
  }
}

export function closedError(kind: string): SidewalkError {
  return new SidewalkError('LIMITER_CLOSED', `${kind} limiter: used after close() or before init()`);
}
