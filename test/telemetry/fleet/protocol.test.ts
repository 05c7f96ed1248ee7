import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cohortOf, inCohort } from '../../../telemetry/fleet/cohort.js';
import { mosquittoAcl } from '../../../telemetry/fleet/acl.js';
import { decode } from '../../../telemetry/fleet/protocol/codec.js';
import { parseTopic, topics } from '../../../telemetry/fleet/protocol/topics.js';
import { isSidewalkError } from '../../../lib/errors.js';

const desired = {
  generation: 3,
  rollout_id: 'r-1',
  percent: 25,
  mode: 'install',
  artifact: { kind: 'model', name: 'sidewalk-model-la-1.2.0', version: '1.2.0', url: 'http://127.0.0.1:1/a.mender', size: 10, sha256: 'a'.repeat(64) },
};
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('fleet topic map', () => {
  test('every topic builder parses back to its kind and ids; foreign topics do not parse', () => {
    assert.deepEqual(parseTopic(topics.status('sc-1')), { kind: 'status', device: 'sc-1' });
    assert.deepEqual(parseTopic(topics.reported('sc-1')), { kind: 'reported', device: 'sc-1' });
    assert.deepEqual(parseTopic(topics.events('sc-1')), { kind: 'events', device: 'sc-1' });
    assert.deepEqual(parseTopic(topics.cmd('sc-1', 'report')), { kind: 'cmd', device: 'sc-1', command: 'report' });
    assert.deepEqual(parseTopic(topics.response('sc-1', 'rollback')), { kind: 'response', device: 'sc-1', command: 'rollback' });
    assert.deepEqual(parseTopic(topics.desiredLocation('LA')), { kind: 'desired-location', location: 'LA' });
    assert.deepEqual(parseTopic(topics.desiredDevice('sc-1')), { kind: 'desired-device', device: 'sc-1' });
    for (const t of ['fleet/v1/device/sc-1/status/x', 'fleet/v2/device/sc-1/status', 'fleet/v1/device/SC 1/status', 'fleet/v1/device/sc-1/cmd/format', 'fleet/v1/desired/city/LA', 'other']) {
      assert.equal(parseTopic(t), null, t);
    }
  });

  test('valid payloads decode; invalid ones are refused with the field at fault', () => {
    const ok = decode(topics.desiredLocation('LA'), json(desired));
    assert.ok(ok.ok && 'message' in ok && ok.message.kind === 'desired-location' && ok.message.payload.generation === 3);
    const cases: [string, Buffer, RegExp][] = [
      [topics.desiredLocation('LA'), Buffer.from('{not json'), /not JSON/],
      [topics.desiredLocation('LA'), json({ ...desired, percent: 101 }), /percent/],
      [topics.desiredLocation('LA'), json({ ...desired, artifact: { ...desired.artifact, sha256: 'xyz' } }), /artifact\.sha256/],
      [topics.desiredLocation('LA'), json({ ...desired, artifact: { ...desired.artifact, url: 'file:///etc/passwd' } }), /artifact\.url/],
      [topics.desiredLocation('LA'), json({ ...desired, extra: 1 }), /extra|additional/],
      [topics.status('sc-1'), json({ state: 'sleeping', boot_id: 'b', session: 1 }), /state/],
      [topics.status('sc-1'), Buffer.alloc(0), /empty payload/],
      [topics.events('sc-1'), json({ seq: 0, at_ms: 1, boot_id: 'b', type: 'ota', rollout_id: 'r', generation: 1, step: 'install' }), /seq/],
      ['fleet/v1/device/sc-1/secrets', json({}), /not in the fleet topic map/],
    ];
    for (const [topic, payload, why] of cases) {
      const r = decode(topic, payload);
      assert.equal(r.ok, false, `${topic} ${payload.toString()}`);
      assert.match((r as { reason: string }).reason, why);
    }
  });

  test('a reported state must name the device of its topic', () => {
    const reported = {
      device: 'sc-2',
      location: 'LA',
      cohort: 1,
      boot_id: 'b',
      at_ms: 1,
      versions: { os: '1', model: null, app: null },
      ota: { state: 'idle', last: null },
      rollout: null,
      health: null,
      spool: { queued: 0, dropped: 0 },
    };
    assert.equal(decode(topics.reported('sc-2'), json(reported)).ok, true);
    const r = decode(topics.reported('sc-1'), json(reported));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /does not match the topic/);
  });

  test('cohorts are stable, spread over 0..99, and raising the percentage only adds devices', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `sc-${i}`);
    assert.equal(cohortOf('sc-42'), cohortOf('sc-42'));
    const buckets = new Set(ids.map(cohortOf));
    assert.ok(buckets.size === 100, `${buckets.size} buckets used`);
    let previous = new Set<string>();
    for (const p of [0, 5, 25, 50, 100]) {
      const chosen = new Set(ids.filter((id) => inCohort(id, p)));
      for (const id of previous) assert.ok(chosen.has(id), `${id} left the cohort at ${p}%`);
      previous = chosen;
    }
    assert.equal(previous.size, ids.length);
    const at25 = ids.filter((id) => inCohort(id, 25)).length / ids.length;
    assert.ok(at25 > 0.2 && at25 < 0.3, `25% took ${at25}`);
  });

  test('the ACL gives each device its location topic and refuses ids that break topic levels', () => {
    const acl = mosquittoAcl([{ id: 'sc-1', location: 'LA' }]);
    assert.match(acl, /^user sc-1\ntopic read fleet\/v1\/desired\/location\/LA$/m);
    assert.match(acl, /^pattern write fleet\/v1\/device\/%u\/reported$/m);
    assert.doesNotMatch(acl, /pattern write fleet\/v1\/desired/);
    assert.throws(
      () => mosquittoAcl([{ id: 'sc/1', location: 'LA' }]),
      (e) => isSidewalkError(e, 'FLEET_DEVICE_ID_INVALID'),
    );
    assert.throws(
      () => mosquittoAcl([{ id: 'sc-1', location: 'L#' }]),
      (e) => isSidewalkError(e, 'FLEET_LOCATION_INVALID'),
    );
    assert.throws(
      () => mosquittoAcl([{ id: 'fleet-tool', location: 'LA' }]),
      (e) => isSidewalkError(e, 'FLEET_DEVICE_ID_INVALID'),
    );
  });
});
