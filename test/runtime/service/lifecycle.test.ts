/**
 * The pieces that make the runtime's start-up and stop bounded: everything acquired is released in
 * reverse order even when one release fails or hangs, a stop during start-up releases what arrives
 * late, and a limiter that stops answering (simulated hardware behind the SpeedLimiter interface)
 * gives a coded error instead of a wait.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acquired, RELEASE_STEP_MS, withDeadline } from '../../../runtime/service/lifecycle.js';
import { DeadlineLimiter } from '../../../runtime/actuators/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import type { SpeedLimiter } from '../../../runtime/types.js';

const never = () => new Promise<void>(() => {});

test('releases newest first; a failing release does not stop the others and is reported', async () => {
  const order: string[] = [];
  const held = new Acquired();
  await held.hold('limiter', async () => void order.push('limiter'));
  await held.hold('model', async () => {
    order.push('model');
    throw new Error('worker already gone');
  });
  await held.hold('camera', async () => void order.push('camera'));
  assert.deepEqual(held.names, ['limiter', 'model', 'camera']);
  assert.deepEqual(await held.releaseAll(), ['model']);
  assert.deepEqual(order, ['camera', 'model', 'limiter']);
  assert.deepEqual(held.names, []);
});

test('a release that never finishes is abandoned after RELEASE_STEP_MS and the rest still run', async () => {
  const order: string[] = [];
  const held = new Acquired();
  await held.hold('limiter', async () => void order.push('limiter'));
  await held.hold('stuck camera', never);
  assert.deepEqual(await held.releaseAll(), ['stuck camera']);
  assert.deepEqual(order, ['limiter']);
  assert.ok(RELEASE_STEP_MS < 15_000 / 3, "three stuck steps still fit in the unit's TimeoutStopSec");
});

test('something acquired after the stop began is released at once and start-up ends with RUNTIME_STOPPING', async () => {
  const held = new Acquired();
  await held.releaseAll();
  let released = false;
  await assert.rejects(
    held.hold('model', async () => {
      released = true;
    }),
    (err: unknown) => isSidewalkError(err, 'RUNTIME_STOPPING'),
  );
  assert.ok(released);
});

test("withDeadline: the work's own result, or RUNTIME_STOP_TIMEOUT naming what hung", async () => {
  assert.equal(await withDeadline(Promise.resolve(7), 1000, 'quick'), 7);
  await assert.rejects(withDeadline(never(), 20, 'draining the pipeline'), (err: unknown) => isSidewalkError(err, 'RUNTIME_STOP_TIMEOUT') && /draining the pipeline/.test(err.message));
});

/** A limiter device that accepted init and then never answers again. */
function silentLimiter(): SpeedLimiter {
  return { kind: 'serial', init: async () => {}, setLimit: never, safeState: never, close: never };
}

test('DeadlineLimiter: a command the device never answers is LIMITER_TIMEOUT, not a wait', async () => {
  const limiter = new DeadlineLimiter(silentLimiter(), { openMs: 50, commandMs: 30 });
  await limiter.init();
  await assert.rejects(limiter.setLimit(6), (err: unknown) => isSidewalkError(err, 'LIMITER_TIMEOUT') && /set the limit to 6\.0 km\/h within 30 ms/.test(err.message));
  await assert.rejects(limiter.safeState(), (err: unknown) => isSidewalkError(err, 'LIMITER_TIMEOUT'));
  await assert.rejects(limiter.close(), (err: unknown) => isSidewalkError(err, 'LIMITER_TIMEOUT'));
});

test('DeadlineLimiter: an open that hangs is LIMITER_TIMEOUT; an uncoded open error becomes LIMITER_OPEN_FAILED', async () => {
  const hanging = new DeadlineLimiter({ ...silentLimiter(), init: never }, { openMs: 30, commandMs: 30 });
  await assert.rejects(hanging.init(), (err: unknown) => isSidewalkError(err, 'LIMITER_TIMEOUT') && /could not open/.test(err.message));
  const failing = new DeadlineLimiter({
    ...silentLimiter(),
    init: async () => {
      throw new Error('EACCES: permission denied');
    },
  });
  await assert.rejects(failing.init(), (err: unknown) => isSidewalkError(err, 'LIMITER_OPEN_FAILED') && /EACCES/.test(err.message));
});
