import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DASHBOARD_DIR, renderDashboards, staleDashboards } from '../../telemetry/grafana/generate.js';
import { REPO_ROOT, DIST_ROOT } from '../helpers/paths.js';
import { dashboardTargets, type DashboardJson } from './dashboard-queries.js';
import { makeTempDir } from '../helpers/temp.js';

test('the committed dashboard JSON is what telemetry/grafana/dashboards.ts generates', async () => {
  assert.deepEqual(await staleDashboards(), []);
  // And the check notices a hand edit.
  const dir = await makeTempDir('dash-');
  try {
    for (const [file, text] of Object.entries(renderDashboards())) await writeFile(join(dir, file), text.replace('"Online"', '"Online!"'));
    const r = spawnSync(process.execPath, [join(DIST_ROOT, 'telemetry/grafana/generate.js'), '--check', '--out', dir], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sidewalk: TELEMETRY_DASHBOARDS_STALE: sidewalk-fleet\.json in .* differ/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dashboard lint: every panel has a title, description and unit; every query uses the datasource variable and $__rate_interval', async () => {
  for (const file of ['sidewalk-fleet.json', 'sidewalk-device.json']) {
    const d = JSON.parse(await readFile(join(DASHBOARD_DIR, file), 'utf8')) as DashboardJson;
    const panels = d.panels.filter((p) => p.type !== 'row');
    assert.ok(panels.length >= 10, `${file}: ${panels.length} panels`);
    assert.equal(new Set(panels.map((p) => p.title)).size, panels.length, `${file}: duplicate titles`);
    for (const p of panels) {
      assert.ok(p.title && p.description, `${file}: a panel without title or description`);
      assert.ok(p.fieldConfig?.defaults?.unit, `${file}: ${p.title} has no unit`);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax.
      assert.equal(p.datasource?.uid, '${datasource}', `${file}: ${p.title}`);
      assert.ok((p.targets ?? []).length > 0, `${file}: ${p.title} has no query`);
    }
    for (const t of dashboardTargets(d)) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax.
      assert.equal(t.datasource, '${datasource}', `${file}: ${t.panel}`);
      for (const m of t.expr.matchAll(/\[([^\]]+)\]/g)) assert.equal(m[1], '$__rate_interval', `${file}: ${t.panel}: range [${m[1]}]`);
    }
    assert.ok(d.templating.list.some((v) => v.type === 'datasource' && v.name === 'datasource'));
  }
  const device = JSON.parse(await readFile(join(DASHBOARD_DIR, 'sidewalk-device.json'), 'utf8')) as DashboardJson;
  assert.ok(device.templating.list.some((v) => v.name === 'device' && v.type === 'query'));
});

test('the Grafana provisioning files point at the dashboards and a Prometheus datasource', async () => {
  const dash = parse(await readFile(join(REPO_ROOT, 'telemetry/grafana/provisioning/dashboards/sidewalk.yaml'), 'utf8')) as {
    apiVersion: number;
    providers: { type: string; options: { path: string } }[];
  };
  assert.equal(dash.apiVersion, 1);
  assert.equal(dash.providers[0]!.type, 'file');
  assert.match(dash.providers[0]!.options.path, /^\//);
  const ds = parse(await readFile(join(REPO_ROOT, 'telemetry/grafana/provisioning/datasources/sidewalk-prometheus.yaml'), 'utf8')) as {
    datasources: { type: string; url: string }[];
  };
  assert.equal(ds.datasources[0]!.type, 'prometheus');
});
