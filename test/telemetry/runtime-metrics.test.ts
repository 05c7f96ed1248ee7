import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRuntimeMetrics, serveMetrics } from '../../telemetry/runtime-metrics.js';

test('runtime metrics pass promtool check metrics', async () => {
  const m = createRuntimeMetrics({ defaultMetrics: false });
  m.framesTotal.inc(3);
  m.inferenceSeconds.observe(0.006);
  m.classConfidence.set({ class: 'side' }, 0.9);
  m.modelInfo.set({ name: 'demo', version: '1.0.0', location: 'demo', sha256: 'ab', backend: 'xnnpack' }, 1);
  const text = await m.registry.metrics();
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(text, /sidewalk_class_confidence_ratio\{class="side"\} 0.9/);
});

test('/metrics is served on loopback with the default process metrics', async () => {
  const m = createRuntimeMetrics();
  const server = await serveMetrics(m.registry, { host: '127.0.0.1', port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /sidewalk_frames_total 0/);
    assert.match(body, /process_cpu_seconds_total/);
    const missing = await fetch(server.url.replace('/metrics', '/nope'));
    assert.equal(missing.status, 404);
  } finally {
    await server.close();
  }
});
