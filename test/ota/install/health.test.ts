import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serveLocal } from '../../helpers/local-http.js';
import { configureLogging } from '../../../lib/log.js';
import { metricsProbe, parseRuntimeMetrics, runHealthWindow, statusFileProbe, type HealthClock, type HealthCriteria, type RuntimeProbe, type RuntimeStatus } from '../../../ota/install/health.js';
import { createRuntimeMetrics } from '../../../telemetry/runtime-metrics.js';
import { makeTempDirSync } from '../../helpers/temp.js';

configureLogging({ level: 'silent' });

const criteria: HealthCriteria = {
  readyTimeoutMs: 1000,
  windowMs: 1000,
  pollMs: 100,
  staleAfterMs: 500,
  maxRestarts: 0,
  maxUnreadable: 2,
  commands: [],
};

/** A clock that advances only when slept on. */
function fakeClock(): HealthClock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

const healthy = (over: Partial<RuntimeStatus> = {}): RuntimeStatus => ({
  ready: true,
  modelVersion: '2.0.0',
  appVersion: '1.0.0',
  lastDecisionAgeMs: 50,
  framesTotal: null,
  speedKph: 0,
  processStartS: 100,
  confidence: 0.9,
  inferenceMs: 20,
  ...over,
});

const scripted = (fn: (i: number) => RuntimeStatus | Error): RuntimeProbe => {
  let i = 0;
  return {
    description: 'scripted',
    read: async () => {
      const r = fn(i++);
      if (r instanceof Error) throw r;
      return r;
    },
  };
};

describe('health window', () => {
  test('passes a healthy runtime with the expected model', async () => {
    const r = await runHealthWindow(
      scripted(() => healthy()),
      { ...criteria, expectModelVersion: '2.0.0' },
      fakeClock(),
    );
    assert.deepEqual(r, { ok: true, polls: 10 });
  });

  test('fails when the runtime never reports the new model', async () => {
    const r = await runHealthWindow(
      scripted(() => healthy({ modelVersion: '1.0.0' })),
      { ...criteria, expectModelVersion: '2.0.0' },
      fakeClock(),
    );
    assert.deepEqual(r, { ok: false, reason: 'not ready within 1000 ms: runtime reports model 1.0.0, expected 2.0.0' });
  });

  test('an app update is healthy only when the runtime reports the new app version', async () => {
    const expect = { ...criteria, expectAppVersion: '2.0.0' };
    assert.equal(
      (
        await runHealthWindow(
          scripted(() => healthy({ appVersion: '2.0.0' })),
          expect,
          fakeClock(),
        )
      ).ok,
      true,
    );
    const silent = await runHealthWindow(
      scripted(() => healthy({ appVersion: null })),
      expect,
      fakeClock(),
    );
    assert.match(!silent.ok ? silent.reason : '', /runtime reports app \(none\), expected 2.0.0/);
    const old = await runHealthWindow(
      scripted(() => healthy({ appVersion: '1.0.0' })),
      expect,
      fakeClock(),
    );
    assert.match(!old.ok ? old.reason : '', /runtime reports app 1.0.0, expected 2.0.0/);
  });

  test('fails on a crash loop (process start changes) and on unreachable runtime', async () => {
    const loop = await runHealthWindow(
      scripted((i) => healthy({ processStartS: 100 + Math.floor(i / 3) })),
      criteria,
      fakeClock(),
    );
    assert.equal(loop.ok, false);
    assert.match(!loop.ok ? loop.reason : '', /restarted 1 times.*crash loop/);
    const gone = await runHealthWindow(
      scripted((i) => (i < 2 ? healthy() : new Error('connection refused'))),
      criteria,
      fakeClock(),
    );
    assert.match(!gone.ok ? gone.reason : '', /unreachable for 3 polls: connection refused/);
  });

  test('fails on stale decisions, low confidence and slow inference', async () => {
    const stale = await runHealthWindow(
      scripted((i) => healthy({ lastDecisionAgeMs: i > 4 ? 900 : 10 })),
      criteria,
      fakeClock(),
    );
    assert.match(!stale.ok ? stale.reason : '', /stale.*900 ms ago, limit 500/);
    const unsure = await runHealthWindow(
      scripted(() => healthy({ confidence: 0.4 })),
      { ...criteria, minConfidence: 0.6 },
      fakeClock(),
    );
    assert.match(!unsure.ok ? unsure.reason : '', /mean confidence 0.400 below 0.6/);
    const slow = await runHealthWindow(
      scripted(() => healthy({ inferenceMs: 120 })),
      { ...criteria, maxInferenceMs: 80 },
      fakeClock(),
    );
    assert.match(!slow.ok ? slow.reason : '', /mean inference 120.0 ms above 80 ms/);
  });

  test('runs the extra check commands', async () => {
    const ok = await runHealthWindow(
      scripted(() => healthy()),
      { ...criteria, commands: [['true']] },
      fakeClock(),
    );
    assert.equal(ok.ok, true);
    const bad = await runHealthWindow(
      scripted(() => healthy()),
      { ...criteria, commands: [['sh', '-c', 'echo camera missing >&2; exit 3']] },
      fakeClock(),
    );
    assert.deepEqual(bad, { ok: false, reason: 'check command sh -c echo camera missing >&2; exit 3 exited 3: camera missing' });
  });
});

describe('runtime status sources', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serveLocal>>;
  let url: string;
  let body = '';
  before(async () => {
    dir = makeTempDirSync('sidewalk-health-');
    server = await serveLocal((_req, res) => res.end(body));
    url = `${server.base}/metrics`;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  });

  test('reads the runtime status file', async () => {
    const path = join(dir, 'status.json');
    writeFileSync(path, JSON.stringify({ ready: true, model_version: '2.0.0', last_decision_unix_ms: 9_950, started_unix_ms: 5000, speed_kph: 12.5, confidence: 0.8 }));
    const s = await statusFileProbe(path, () => 10_000).read();
    assert.equal(s.ready, true);
    assert.equal(s.modelVersion, '2.0.0');
    assert.equal(s.lastDecisionAgeMs, 50);
    assert.equal(s.speedKph, 12.5);
    assert.equal(s.processStartS, 5);
    await assert.rejects(statusFileProbe(join(dir, 'none.json')).read(), /OTA_HEALTH_UNREADABLE|none.json/);
  });

  test('reads the metrics the real runtime registry serves', async () => {
    const m = createRuntimeMetrics();
    m.framesTotal.inc(42);
    m.modelInfo.set({ name: 'sidewalk', version: '2.0.0', location: 'denver', sha256: 'ab', backend: 'xnnpack' }, 1);
    m.speedKph.set(7);
    m.classConfidence.set({ class: 'side' }, 0.7);
    m.classConfidence.set({ class: 'street' }, 0.2);
    m.inferenceSeconds.observe(0.02);
    m.inferenceSeconds.observe(0.04);
    m.failSafeActive.set(0);
    body = await m.registry.metrics();
    const s = await metricsProbe(url).read();
    assert.equal(s.ready, true);
    assert.equal(s.modelVersion, '2.0.0');
    assert.equal(s.framesTotal, 42);
    assert.equal(s.speedKph, 7);
    assert.equal(s.confidence, 0.7);
    assert.ok(Math.abs(s.inferenceMs! - 30) < 1e-6);
    assert.ok(s.processStartS! > 0);
    m.failSafeActive.set(1);
    assert.equal(parseRuntimeMetrics(await m.registry.metrics()).ready, false);
  });
});
