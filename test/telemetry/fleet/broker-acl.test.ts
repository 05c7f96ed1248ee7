/**
 * The broker's security, proven against a real TLS Mosquitto: a device cannot publish as another
 * device, cannot write desired state, cannot read another device's or another location's desired
 * state; clients without a certificate of the fleet's CA are refused at the handshake.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { FLEET_TOOL_USER } from '../../../telemetry/fleet/acl.js';
import { topics } from '../../../telemetry/fleet/protocol/topics.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { makePki } from '../../../telemetry/fleet/sim/pki.js';
import { makeTempDir } from '../../helpers/temp.js';

let broker: SimBroker;
const open: MqttClient[] = [];

async function client(cn: string, id = cn): Promise<MqttClient> {
  const t = await broker.tls(cn);
  const c = await connectAsync(t.url, { protocolVersion: 5, clientId: id, ca: readFileSync(t.ca), cert: readFileSync(t.cert), key: readFileSync(t.key), reconnectPeriod: 0 });
  open.push(c);
  return c;
}

/** Everything `c` receives, by topic. */
function inbox(c: MqttClient): Map<string, string[]> {
  const got = new Map<string, string[]>();
  c.on('message', (topic, payload) => got.set(topic, [...(got.get(topic) ?? []), payload.toString()]));
  return got;
}

/** Publishes a marker from `from` and waits until the subscriber whose inbox is `got` receives it: all earlier deliveries to it have landed. */
async function barrier(from: MqttClient, got: Map<string, string[]>, topic: string): Promise<void> {
  const marker = `m-${Math.random()}`;
  await from.publishAsync(topic, marker, { qos: 1 });
  for (let i = 0; i < 500 && !(got.get(topic) ?? []).includes(marker); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok((got.get(topic) ?? []).includes(marker), `marker on ${topic} never arrived`);
}

before(async () => {
  broker = await startBroker([
    { id: 'sc-1', location: 'LA' },
    { id: 'sc-2', location: 'denver' },
  ]);
});
after(async () => {
  await Promise.all(open.map((c) => c.endAsync(true).catch(() => {})));
  await removeBroker(broker);
});

describe('fleet broker ACL (real Mosquitto, TLS client certificates)', () => {
  test('a device writes its own topics; it cannot publish as another device or write desired state', async () => {
    const tool = await client(FLEET_TOOL_USER);
    const got = inbox(tool);
    await tool.subscribeAsync(['fleet/v1/#'], { qos: 1 });
    const sc1 = await client('sc-1');
    await sc1.publishAsync(topics.reported('sc-1'), 'own', { qos: 1 });
    const refused: [string, string][] = [
      [topics.status('sc-2'), 'spoofed status'],
      [topics.reported('sc-2'), 'spoofed reported'],
      [topics.desiredLocation('LA'), 'forged desired'],
      [topics.desiredDevice('sc-1'), 'forged own desired'],
      [topics.cmd('sc-2', 'rollback'), 'forged command'],
    ];
    for (const [topic, body] of refused) {
      // Mosquitto 2.0 acknowledges a refused QoS 1 publish with reason 135 (not authorized) and drops it.
      await assert.rejects(sc1.publishAsync(topic, body, { qos: 1 }), (err: { code?: number }) => err.code === 135, topic);
    }
    await barrier(tool, got, 'fleet/v1/barrier');
    assert.deepEqual(got.get(topics.reported('sc-1')), ['own']);
    for (const [topic] of refused) assert.equal(got.get(topic), undefined, `${topic} was delivered`);
  });

  test('a device reads its own and its location desired state, nothing of other devices or locations', async () => {
    const tool = await client(FLEET_TOOL_USER, 'tool-2');
    for (const [topic, body] of [
      [topics.desiredLocation('LA'), 'LA plan'],
      [topics.desiredLocation('denver'), 'denver plan'],
      [topics.desiredDevice('sc-2'), 'sc-2 override'],
    ])
      await tool.publishAsync(topic!, body!, { qos: 1, retain: true });
    const sc1 = await client('sc-1', 'sc-1-reader');
    const got = inbox(sc1);
    await sc1.subscribeAsync([topics.desiredLocation('denver'), topics.desiredDevice('sc-2'), topics.reported('sc-2'), 'fleet/v1/#'], { qos: 1 }).catch(() => []);
    await sc1.subscribeAsync([topics.desiredLocation('LA'), topics.desiredDevice('sc-1')], { qos: 1 });
    await tool.publishAsync(topics.desiredDevice('sc-1'), 'sc-1 override', { qos: 1, retain: true });
    for (let i = 0; i < 500 && !got.has(topics.desiredDevice('sc-1')); i++) await new Promise((r) => setTimeout(r, 10));
    // Delivered through the wildcard and through the explicit subscription: the same retained message.
    assert.ok((got.get(topics.desiredLocation('LA')) ?? []).length >= 1);
    assert.ok(got.get(topics.desiredLocation('LA'))!.every((m) => m === 'LA plan'));
    assert.ok(got.get(topics.desiredDevice('sc-1'))!.every((m) => m === 'sc-1 override'));
    assert.equal(got.get(topics.desiredLocation('denver')), undefined);
    assert.equal(got.get(topics.desiredDevice('sc-2')), undefined);
    for (const t of [topics.desiredLocation('LA'), topics.desiredLocation('denver'), topics.desiredDevice('sc-1'), topics.desiredDevice('sc-2')]) {
      await tool.publishAsync(t, '', { qos: 1, retain: true });
    }
  });

  test('no certificate, or one from another CA, is refused at the TLS handshake', async () => {
    const t = await broker.tls('sc-1');
    await assert.rejects(connectAsync(t.url, { protocolVersion: 5, ca: readFileSync(t.ca), reconnectPeriod: 0, connectTimeout: 5000 }));
    const dir = await makeTempDir('sidewalk-foreign-ca-');
    try {
      const foreign = await makePki(dir, { caName: 'not-the-fleet-ca' });
      const c = await foreign.client('sc-1');
      await assert.rejects(connectAsync(t.url, { protocolVersion: 5, ca: readFileSync(t.ca), cert: readFileSync(c.cert), key: readFileSync(c.key), reconnectPeriod: 0, connectTimeout: 5000 }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
