/**
 * The SpeedLimiter contract, written once and run against every backend (MQTT.js abstract-store style).
 * A harness says what the (fake) hardware reads now and what it should read for a given limit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SpeedLimiter } from '../../../runtime/types.js';
import { isSidewalkError } from '../../../lib/errors.js';

export interface LimiterHarness {
  limiter: SpeedLimiter;
  safeLimitKph: number;
  fullSpeedKph: number;
  /** What the hardware reads now (waits for in-flight effects where the fake needs it). */
  observe(): Promise<unknown>;
  /** What the hardware must read after setLimit(limitKph). */
  expectedFor(limitKph: number): unknown;
  /** After close(): the device is released and was left in the safe state. */
  assertReleased(): Promise<void>;
  cleanup(): Promise<void>;
}

export function describeSpeedLimiterContract(name: string, build: () => Promise<LimiterHarness>): void {
  describe(`SpeedLimiter contract: ${name}`, () => {
    const withHarness = async (fn: (h: LimiterHarness) => Promise<void>): Promise<void> => {
      const h = await build();
      try {
        await fn(h);
      } finally {
        await h.limiter.close().catch(() => undefined);
        await h.cleanup();
      }
    };

    test('init() leaves the limiter in its safe state', () =>
      withHarness(async (h) => {
        await h.limiter.init();
        assert.deepEqual(await h.observe(), h.expectedFor(h.safeLimitKph));
      }));

    test('setLimit() converts km/h into the backend unit', () =>
      withHarness(async (h) => {
        await h.limiter.init();
        for (const kph of [h.fullSpeedKph, h.safeLimitKph, 12.34, h.fullSpeedKph - 0.5, 0, h.safeLimitKph + 0.01]) {
          await h.limiter.setLimit(kph, 123_456_789n);
          assert.deepEqual(await h.observe(), h.expectedFor(kph), `after setLimit(${kph})`);
        }
        // The full and safe limits must be distinguishable on the wire.
        assert.notDeepEqual(h.expectedFor(h.fullSpeedKph), h.expectedFor(h.safeLimitKph));
      }));

    test('safeState() returns to the safe state', () =>
      withHarness(async (h) => {
        await h.limiter.init();
        await h.limiter.setLimit(h.fullSpeedKph);
        assert.deepEqual(await h.observe(), h.expectedFor(h.fullSpeedKph));
        await h.limiter.safeState();
        assert.deepEqual(await h.observe(), h.expectedFor(h.safeLimitKph));
      }));

    test('rejects a non-finite or negative limit without moving', () =>
      withHarness(async (h) => {
        await h.limiter.init();
        await h.limiter.setLimit(h.fullSpeedKph);
        for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
          await assert.rejects(h.limiter.setLimit(bad), (e: unknown) => isSidewalkError(e, 'LIMITER_INVALID_LIMIT'));
        }
        assert.deepEqual(await h.observe(), h.expectedFor(h.fullSpeedKph));
      }));

    test('close() goes safe and releases the device; later commands are refused', () =>
      withHarness(async (h) => {
        await h.limiter.init();
        await h.limiter.setLimit(h.fullSpeedKph);
        await h.limiter.close();
        await h.assertReleased();
        await assert.rejects(h.limiter.setLimit(h.fullSpeedKph), (e: unknown) => isSidewalkError(e, 'LIMITER_CLOSED'));
        await h.limiter.close(); // idempotent
      }));
  });
}

/** Polls `read` until `done(value)` holds or timeoutMs passes (fakes react asynchronously); returns the last value. */
export async function settle<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    value = await read();
  }
  return value;
}
