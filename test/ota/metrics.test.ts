/**
 * The updater daemon's metrics module on its own: state and last result as the journal says at the
 * scrape, results counted once (the one already in the journal at start not at all), refusals not
 * counted as rollbacks, durations from the update's start. The daemon serving them end to end is in
 * test/telemetry/fleet/daemon.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LastResult } from '../../ota/install/types.js';
import { OtaMetrics, wasRolledBack, type OtaStatus } from '../../ota/metrics.js';

const result = (o: Partial<LastResult>): LastResult => ({ id: '1000000', kind: 'model', artifactName: 'model-2.0.0', result: 'success', error: null, atMs: 1_030_000, ...o });

function line(text: string, series: string): number | null {
  const l = text.split('\n').find((x) => x.startsWith(`${series} `));
  return l === undefined ? null : Number(l.slice(series.length + 1));
}

describe('OtaMetrics', () => {
  test('state and last result are read at every scrape', async () => {
    let status: OtaStatus = { state: 'install', last: null };
    const m = new OtaMetrics(async () => status);
    let text = await m.registry.metrics();
    assert.equal(line(text, 'sidewalk_ota_state{state="install"}'), 1);
    assert.equal(line(text, 'sidewalk_ota_state{state="idle"}'), 0);
    assert.equal(line(text, 'sidewalk_ota_last_result_timestamp_seconds'), 0);
    assert.doesNotMatch(text, /^sidewalk_ota_last_result_info\{/m);
    status = { state: 'idle', last: result({ result: 'failure', error: 'verify: health check failed' }) };
    text = await m.registry.metrics();
    assert.equal(line(text, 'sidewalk_ota_state{state="idle"}'), 1);
    assert.equal(line(text, 'sidewalk_ota_state{state="install"}'), 0);
    assert.equal(line(text, 'sidewalk_ota_last_result_info{kind="model",result="failure",artifact="model-2.0.0"}'), 1);
    assert.equal(line(text, 'sidewalk_ota_last_result_timestamp_seconds'), 1030);
  });

  test('each result is counted once; the one in the journal at start is not; a refusal is no rollback', async () => {
    const seeded = result({ id: '500', atMs: 900 });
    const m = new OtaMetrics(async () => ({ state: 'idle', last: seeded }));
    m.seed({ state: 'idle', last: seeded });
    m.observe({ state: 'idle', last: seeded });
    let text = await m.registry.metrics();
    assert.equal(line(text, 'sidewalk_ota_updates_total{kind="model",result="success"}'), 0, 'the result from before the daemon started is not counted');
    assert.equal(line(text, 'sidewalk_ota_rollbacks_total{kind="app"}'), 0, 'every series starts at 0');

    const rolledBack = result({ result: 'failure', error: 'verify: health check failed: not ready' });
    m.observe({ state: 'idle', last: rolledBack });
    m.observe({ state: 'idle', last: rolledBack });
    const refused = result({ id: '2000000', atMs: 2_000_500, result: 'failure', error: 'download: ARTIFACT_SIGNATURE_INVALID: no key verifies it' });
    m.observe({ state: 'idle', last: refused });
    text = await m.registry.metrics();
    assert.equal(line(text, 'sidewalk_ota_updates_total{kind="model",result="failure"}'), 2);
    assert.equal(line(text, 'sidewalk_ota_rollbacks_total{kind="model"}'), 1);
    assert.equal(line(text, 'sidewalk_ota_install_duration_seconds_count{kind="model",result="failure"}'), 2);
    assert.equal(line(text, 'sidewalk_ota_install_duration_seconds_sum{kind="model",result="failure"}'), 30.5);
  });

  test('wasRolledBack: failures after writing, not refusals or successes', () => {
    assert.equal(wasRolledBack(result({ result: 'failure', error: 'install: ENOSPC' })), true);
    assert.equal(wasRolledBack(result({ result: 'failure', error: 'rolled back by command' })), true);
    assert.equal(wasRolledBack(result({ result: 'failure', error: 'download: ARTIFACT_UNSIGNED: not signed' })), false);
    assert.equal(wasRolledBack(result({})), false);
  });
});
