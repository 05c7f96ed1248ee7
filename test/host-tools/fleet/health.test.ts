/**
 * The health comparison (cohort vs rest) as pure functions, the Prometheus client's coded errors for
 * every way an answer can be wrong, and the policy's place in fleet.yaml. The end-to-end abort with a
 * real fleet Prometheus is test/telemetry/fleet/rollout-health.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadFleetConfig } from '../../../host-tools/fleet/config.js';
import { DEFAULT_HEALTH_POLICY, HEALTH_CHECKS, compareBeforeStep, compareCheck, evaluateHealth, verdictOf, type HealthGroups } from '../../../host-tools/fleet/health.js';
import { decide } from '../../../host-tools/fleet/policy.js';
import { PrometheusClient } from '../../../host-tools/fleet/prometheus.js';
import type { Rollout } from '../../../host-tools/fleet/store.js';
import { type ErrorCode, isSidewalkError } from '../../../lib/errors.js';
import { serveLocal } from '../../helpers/local-http.js';
import { freePort } from '../../helpers/service-process.js';

/** A Prometheus API stand-in that records each query and answers with `answer(query)`. */
function recordingApi(answer: (query: string) => { labels: Record<string, string>; value: number }[]) {
  const seen: string[] = [];
  return {
    seen,
    api: {
      url: 'test',
      instant: async (q: string) => {
        seen.push(q);
        return answer(q);
      },
    },
  };
}

const check = (name: string) => HEALTH_CHECKS.find((c) => c.name === name)!;
const groups: HealthGroups = { cohort: new Set(['a', 'b', 'c']), rest: new Set(['x', 'y', 'z']) };
const values = (o: Record<string, number>) => new Map(Object.entries(o));

describe('health comparison: the cohort against the rest of the location', () => {
  test('a higher fail-safe rate beyond the allowed increase is worse; within it is ok', () => {
    const bad = compareCheck(check('fail-safe activations'), 1, 3, values({ a: 4, b: 3, c: 2, x: 0, y: 1, z: 2 }), groups);
    assert.equal(bad.state, 'worse', bad.detail);
    assert.deepEqual(
      [bad.cohort, bad.rest],
      [
        { devices: 3, mean: 3 },
        { devices: 3, mean: 1 },
      ],
    );
    assert.match(bad.detail, /fail-safe activations 3\/h in the cohort \(3 devices\) vs 1\/h in the rest \(3\): over by more than 1\/h/);
    assert.equal(compareCheck(check('fail-safe activations'), 2, 3, values({ a: 4, b: 3, c: 2, x: 0, y: 1, z: 2 }), groups).state, 'ok');
    // Lower is better for a rate: a cohort doing better is never worse.
    assert.equal(compareCheck(check('fail-safe activations'), 0, 3, values({ a: 0, b: 0, c: 0, x: 5, y: 5, z: 5 }), groups).state, 'ok');
  });

  test('confidence is worse when lower', () => {
    const v = values({ a: 0.6, b: 0.6, c: 0.6, x: 0.9, y: 0.9, z: 0.9 });
    assert.equal(compareCheck(check('mean confidence'), 0.1, 3, v, groups).state, 'worse');
    assert.equal(compareCheck(check('mean confidence'), 0.4, 3, v, groups).state, 'ok');
    assert.equal(compareCheck(check('mean confidence'), 0, 3, values({ a: 1, b: 1, c: 1, x: 0.5, y: 0.5, z: 0.5 }), groups).state, 'ok');
  });

  test('too few devices with data is unknown, and devices outside both groups do not count', () => {
    const r = compareCheck(check('inference p95'), 10, 3, values({ a: 500, b: 500, x: 20, y: 20, z: 20, other: 20 }), groups);
    assert.equal(r.state, 'unknown');
    assert.match(r.detail, /data from 2 cohort and 3 other devices, 3 of each needed/);
    const outsider = compareCheck(check('inference p95'), 10, 3, values({ a: 20, b: 20, c: 20, x: 20, y: 20, z: 20, stranger: 9000 }), groups);
    assert.deepEqual([outsider.state, outsider.rest!.mean], ['ok', 20]);
  });

  test('verdict: any worse check degrades; otherwise any unknown check leaves the health unknown', () => {
    const ok = compareCheck(check('restarts'), 1, 1, values({ a: 0, x: 0 }), groups);
    const worse = compareCheck(check('restarts'), 1, 1, values({ a: 30, x: 0 }), groups);
    const unknown = compareCheck(check('restarts'), 1, 5, values({ a: 0, x: 0 }), groups);
    assert.equal(verdictOf([ok, unknown, worse]).state, 'degraded');
    assert.equal(verdictOf([ok, unknown]).state, 'unknown');
    assert.equal(verdictOf([ok]).state, 'ok');
  });

  test('an unreachable Prometheus leaves the health unknown, never degraded', async () => {
    const api = new PrometheusClient(`http://127.0.0.1:${await freePort()}`, { timeoutMs: 2000 });
    const v = await evaluateHealth(api, DEFAULT_HEALTH_POLICY, 'LA', groups);
    assert.equal(v.state, 'unknown');
    assert.match(v.reason, /^health unknown: FLEET_PROMETHEUS_UNREACHABLE: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query: no answer/);
  });

  test('the queries select the location and sum several queries per device (restarts)', async () => {
    const { seen, api } = recordingApi(() => [
      { labels: { device: 'a' }, value: 2 },
      { labels: { device: 'x' }, value: 0 },
    ]);
    const v = await evaluateHealth(
      api,
      { ...DEFAULT_HEALTH_POLICY, window_s: 60, min_devices: 1, max_fail_safe_increase_per_hour: null, max_inference_p95_increase_ms: null, max_confidence_drop: null },
      'LA',
      groups,
    );
    assert.equal(seen.length, 2);
    for (const q of seen) assert.match(q, /location="LA"/);
    assert.match(seen.join('\n'), /\[60s\]/);
    assert.deepEqual(
      v.checks.map((c) => [c.check, c.cohort?.mean, c.state]),
      [['restarts', 4, 'worse']],
    );
  });
});

describe("health with no rest to compare with: the step's devices against themselves before the step", () => {
  const cohort = new Set(['a', 'b', 'c']);

  test('worse or ok against the same devices in the window before the step; too few of them is unknown', () => {
    const worse = compareBeforeStep(check('fail-safe activations'), 1, 3, values({ a: 4, b: 3, c: 2 }), values({ a: 0, b: 1, c: 0.5, x: 50 }), cohort);
    assert.equal(worse.state, 'worse');
    assert.match(worse.detail, /fail-safe activations 3\/h in the cohort \(3 devices\) vs 0\.500\/h in the same devices before the step \(3\): over by more than 1\/h/);
    assert.equal(compareBeforeStep(check('fail-safe activations'), 1, 3, values({ a: 1, b: 1, c: 1 }), values({ a: 1, b: 1, c: 1 }), cohort).state, 'ok');
    const unknown = compareBeforeStep(check('mean confidence'), 0.1, 3, values({ a: 0.9, b: 0.9, c: 0.9 }), values({ a: 0.9 }), cohort);
    assert.equal(unknown.state, 'unknown');
    assert.match(unknown.detail, /data from 3 cohort and 1 of them before the step, 3 of each needed/);
  });

  test('each query runs twice: over the last window, and over the window ending where the step began (offset)', async () => {
    const { seen, api } = recordingApi((q) => ['a', 'b', 'c'].map((device) => ({ labels: { device }, value: q.includes(' offset ') ? 0.9 : 0.5 })));
    const policy = { ...DEFAULT_HEALTH_POLICY, window_s: 60, min_devices: 3, max_fail_safe_increase_per_hour: null, max_inference_p95_increase_ms: null, max_restart_increase_per_hour: null };
    const v = await evaluateHealth(api, policy, 'niwot', { cohort, stepAgeS: 754.4 });
    assert.deepEqual(seen, [
      'avg_over_time((max by (device) (sidewalk_class_confidence_ratio{location="niwot"}))[60s:])',
      'avg_over_time((max by (device) (sidewalk_class_confidence_ratio{location="niwot"}))[60s:] offset 754s)',
    ]);
    assert.equal(v.state, 'degraded');
    assert.match(v.reason, /mean confidence 0\.500 in the cohort \(3 devices\) vs 0\.900 in the same devices before the step \(3\): under by more than 0\.100/);
  });
});

describe('PrometheusClient: every bad answer is a coded error', () => {
  const answer = async (status: number, body: string, fn: (c: PrometheusClient) => Promise<void>) => {
    const server = await serveLocal((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
    try {
      await fn(new PrometheusClient(`${server.base}/`));
    } finally {
      await server.close();
    }
  };
  const rejects = (c: PrometheusClient, code: ErrorCode, pattern: RegExp) => assert.rejects(c.instant('up'), (e) => isSidewalkError(e, code) && pattern.test(e.message));

  test('vector samples come back as numbers; NaN samples are left out', async () => {
    const body = {
      status: 'success',
      data: {
        resultType: 'vector',
        result: [
          { metric: { device: 'a' }, value: [1, '2.5'] },
          { metric: { device: 'b' }, value: [1, 'NaN'] },
        ],
      },
    };
    await answer(200, JSON.stringify(body), async (c) => assert.deepEqual(await c.instant('up'), [{ labels: { device: 'a' }, value: 2.5 }]));
  });

  test('refused query, not JSON, not a vector, malformed sample, bad URL', async () => {
    await answer(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }), (c) =>
      rejects(c, 'FLEET_PROMETHEUS_QUERY', /query up refused: parse error at char 3/),
    );
    await answer(502, '<html>bad gateway</html>', (c) => rejects(c, 'FLEET_PROMETHEUS_BAD_ANSWER', /HTTP 502 with a body that is not JSON/));
    await answer(200, JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }), (c) => rejects(c, 'FLEET_PROMETHEUS_BAD_ANSWER', /gave "matrix", expected a vector/));
    await answer(200, JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 2] }] } }), (c) =>
      rejects(c, 'FLEET_PROMETHEUS_BAD_ANSWER', /result\[0\] is not a/),
    );
    assert.throws(
      () => new PrometheusClient('prometheus:9090'),
      (e) => isSidewalkError(e, 'FLEET_PROMETHEUS_URL'),
    );
  });
});

describe('fleet.yaml: health policy, Prometheus and metrics settings', () => {
  test('defaults: health checks in the policy, no Prometheus, metrics on 127.0.0.1:9464; bad fields are named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-health-config-'));
    try {
      const base = 'broker: { url: "mqtts://b:8883", ca: ca, cert: c, key: k }\nartifacts: { publish_dir: www, base_url: "http://h/a" }\n';
      await writeFile(join(dir, 'fleet.yaml'), base);
      const c = loadFleetConfig(join(dir, 'fleet.yaml'));
      assert.deepEqual(c.policy.health, DEFAULT_HEALTH_POLICY);
      assert.equal(c.prometheus, null);
      assert.deepEqual(c.metrics, { host: '127.0.0.1', port: 9464 });
      await writeFile(join(dir, 'fleet.yaml'), `${base}prometheus: { url: "http://fleet-prom:9090" }\npolicy: { health: { window_s: 60 } }\nmetrics: { port: null }\n`);
      const d = loadFleetConfig(join(dir, 'fleet.yaml'));
      assert.deepEqual([d.prometheus, d.policy.health?.window_s, d.policy.health?.min_devices, d.metrics.port], [{ url: 'http://fleet-prom:9090', timeout_s: 10 }, 60, 3, null]);
      await writeFile(join(dir, 'fleet.yaml'), `${base}policy: { health: { window_s: 1, max_confidence_drop: 2, restarts: 1 } }\n`);
      assert.throws(
        () => loadFleetConfig(join(dir, 'fleet.yaml')),
        (e) =>
          isSidewalkError(e, 'FLEET_CONFIG_INVALID') &&
          /policy\.health\.window_s: must be >= 10/.test(e.message) &&
          /policy\.health\.max_confidence_drop: must be <= 1/.test(e.message) &&
          /policy\.health\.restarts: unknown field/.test(e.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the last step under health checks', () => {
  const rollout = (health: Rollout['plan']['health']): Rollout => ({
    id: 'r1',
    location: 'niwot',
    artifact: { kind: 'model', version: '2.0.0' } as Rollout['artifact'],
    plan: { steps: [100], min_finished: 1, soak_s: 600, max_failure_percent: 10, min_devices_before_decision: 1, in_progress_timeout_s: 3600, auto_advance: false, health },
    step: 0,
    state: 'active',
    stepStartedMs: 0,
    createdMs: 0,
    updatedMs: 0,
    reason: null,
    desired: {} as Rollout['desired'],
  });
  const allDone = { percent: 100, targeted: 4, succeeded: 4, failed: 0, rejected: 0, in_progress: 0, timed_out: 0, pending: 0, finished: 4, failure_percent: 0 };

  test('soaks before it completes, so that the checks can still abort it; without checks it completes at once', () => {
    assert.deepEqual(decide(rollout(DEFAULT_HEALTH_POLICY), allDone, 60_000), { action: 'wait', reason: 'soaking for another 540 s under health checks' });
    assert.deepEqual(decide(rollout(DEFAULT_HEALTH_POLICY), allDone, 600_000), { action: 'complete' });
    assert.deepEqual(decide(rollout(null), allDone, 60_000), { action: 'complete' });
  });
});
