import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RUNTIME_METRICS_TARGET, renderAgentConfig, renderAgentConfigFile } from '../../telemetry/agent-config.js';
import { AGENT_TEMPLATE_PATH } from '../helpers/paths.js';
import { isSidewalkError } from '../../lib/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { verifyUnits } from '../helpers/systemd-verify.js';
import { makeTempDir } from '../helpers/temp.js';

const values = { device: 'scooter-0042', location: 'Los Angeles', remoteWriteUrl: 'https://metrics.example/api/v1/write' };

test('the rendered agent config carries the device labels and passes promtool check config --agent', async () => {
  const text = await renderAgentConfigFile(AGENT_TEMPLATE_PATH, values);
  const doc = parse(text) as {
    global: { external_labels: Record<string, string>; scrape_interval: string };
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    remote_write: { url: string }[];
  };
  assert.deepEqual(doc.global.external_labels, { device: 'scooter-0042', location: 'Los Angeles' });
  assert.equal(doc.global.scrape_interval, '15s');
  assert.deepEqual(
    doc.scrape_configs.map((s) => [s.job_name, s.static_configs[0]!.targets[0]]),
    [
      ['sidewalk-runtime', '127.0.0.1:9101'],
      ['sidewalk-updater', '127.0.0.1:9102'],
    ],
  );
  assert.equal(doc.remote_write[0]!.url, values.remoteWriteUrl);
  const dir = await makeTempDir('agent-cfg-');
  try {
    await writeFile(join(dir, 'agent.yml'), text);
    const r = spawnSync('promtool', ['check', 'config', '--agent', join(dir, 'agent.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('values that could inject YAML or point off-device are refused with a coded error', () => {
  const template = 'a: @DEVICE@\n';
  const bad: [string, Record<string, string>][] = [
    ['device', { device: 'x"\nremote_write: []' }],
    ['location', { location: 'LA\nexternal_labels: {}' }],
    ['remoteWriteUrl', { remoteWriteUrl: 'ftp://metrics.example/' }],
    ['remoteWriteUrl', { remoteWriteUrl: 'https://user:secret@metrics.example/' }],
    ['runtimeTarget', { runtimeTarget: '10.0.0.5:9101' }],
    ['scrapeInterval', { scrapeInterval: '15 s' }],
  ];
  for (const [field, override] of bad) {
    assert.throws(
      () => renderAgentConfig(template, { ...values, ...override }),
      (e: unknown) => isSidewalkError(e, 'TELEMETRY_AGENT_CONFIG_INVALID') && (e.details as { field: string }).field === field,
      field,
    );
  }
  // remote_write TLS files: absolute paths, and only for an https URL; without them tls_config is {}.
  const tls = { caFile: '/etc/sidewalk/pki/ca.crt', certFile: '/etc/sidewalk/pki/device.crt', keyFile: '/etc/sidewalk/pki/device.key' };
  assert.deepEqual(parse(renderAgentConfig('t: @REMOTE_WRITE_TLS@\n', { ...values, remoteWriteTls: tls })), { t: { ca_file: tls.caFile, cert_file: tls.certFile, key_file: tls.keyFile } });
  assert.deepEqual(parse(renderAgentConfig('t: @REMOTE_WRITE_TLS@\n', values)), { t: {} });
  for (const [field, override] of [
    ['remoteWriteTls', { remoteWriteUrl: 'http://metrics.example/api/v1/write', remoteWriteTls: tls }],
    ['remoteWriteTls.keyFile', { remoteWriteTls: { ...tls, keyFile: 'device.key' } }],
    ['remoteWriteTls.caFile', { remoteWriteTls: { ...tls, caFile: '/x\n: y' } }],
  ] as const) {
    assert.throws(
      () => renderAgentConfig(template, { ...values, ...override }),
      (e: unknown) => isSidewalkError(e, 'TELEMETRY_AGENT_CONFIG_INVALID') && (e.details as { field: string }).field === field,
      field,
    );
  }
  assert.throws(
    () => renderAgentConfig('a: @NOPE@', values),
    (e: unknown) => isSidewalkError(e, 'TELEMETRY_AGENT_TEMPLATE_INVALID'),
  );
  // A location with YAML-significant characters stays one quoted scalar.
  const text = renderAgentConfig('l: @LOCATION@\n', { ...values, location: 'Denver: "#1"' });
  assert.deepEqual(parse(text), { l: 'Denver: "#1"' });
});

test('the image ships the same template, and its agent unit passes systemd-analyze verify', async () => {
  const shipped = await readFile(join(REPO_ROOT, 'image/rootfs/etc/prometheus/sidewalk-agent.yml.tmpl'), 'utf8');
  assert.equal(shipped, await readFile(AGENT_TEMPLATE_PATH, 'utf8'));
  const unit = join(REPO_ROOT, 'image/systemd/sidewalk-prometheus-agent.service');
  const r = await verifyUnits([unit]);
  assert.equal(r.code, 0, r.output);
  assert.equal(r.output, '');
  const text = await readFile(unit, 'utf8');
  assert.match(text, /--enable-feature=agent/);
  assert.match(text, /--config\.file=\/var\/lib\/sidewalk\/device\/prometheus-agent\.yml/);
});

test('the agent unit is locked down: systemd-analyze security --offline exposure at most 2.0', async () => {
  const root = await makeTempDir('sd-security-');
  try {
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await cp('/usr/lib/systemd', join(root, 'usr/lib/systemd'), { recursive: true });
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await writeFile(join(root, 'usr/bin/prometheus'), '#!/bin/sh\n');
    await chmod(join(root, 'usr/bin/prometheus'), 0o755);
    await cp(join(REPO_ROOT, 'image/systemd/sidewalk-prometheus-agent.service'), join(root, 'etc/systemd/system/sidewalk-prometheus-agent.service'));
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', 'sidewalk-prometheus-agent.service'], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
    assert.ok(m, `${r.stdout}${r.stderr}`);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("the agent's runtime target is where the image's runtime config serves /metrics", async () => {
  const runtime = parse(await readFile(join(REPO_ROOT, 'image/rootfs/etc/sidewalk/runtime.yaml'), 'utf8')) as { metrics: { host: string; port: number } };
  assert.equal(`${runtime.metrics.host}:${runtime.metrics.port}`, RUNTIME_METRICS_TARGET);
});
