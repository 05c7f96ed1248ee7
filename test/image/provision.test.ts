/** First-boot provisioning rules on plain folders (the card's partitions are covered in image-build.test.ts). */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { isSidewalkError } from '../../lib/errors.js';
import { parseProvisionFile, provision } from '../../image/provision.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeCert, provisionYaml, type TestCert } from './certs.js';
import { makeTempDirSync } from '../helpers/temp.js';

const RUNTIME = join(REPO_ROOT, 'image/rootfs/etc/sidewalk/runtime.yaml');

describe('provisioning', () => {
  let work: string;
  let ca: TestCert;
  let client: TestCert;
  let other: TestCert;
  let n = 0;
  const fresh = () => {
    const dir = join(work, `case-${n++}`);
    mkdirSync(join(dir, 'boot'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    return { bootDir: join(dir, 'boot'), dataDir: join(dir, 'data'), runtimeConfig: RUNTIME, groupFile: join(dir, 'group') };
  };
  const valid = () => parse(provisionYaml({ deviceId: 'scooter-7', ca, client })) as Record<string, unknown>;
  const problems = (raw: unknown): string[] => {
    try {
      parseProvisionFile(raw, 'f.yaml');
      return [];
    } catch (err) {
      assert.ok(isSidewalkError(err, 'PROVISION_INVALID'));
      return err.details.problems as string[];
    }
  };

  before(() => {
    work = makeTempDirSync('sidewalk-provision-');
    ca = makeCert(work, 'ca');
    client = makeCert(work, 'client');
    other = makeCert(work, 'other');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('a valid file parses', () => {
    const r = parseProvisionFile(valid(), 'f.yaml');
    assert.equal(r.deviceId, 'scooter-7');
    assert.equal(r.credentials.kind, 'certificate');
  });

  test('each bad field is named', () => {
    const v = valid();
    assert.deepEqual(problems({ ...v, device_id: '../etc' }), ['device_id: letters, digits, ".", "_" or "-", at most 63, starting with a letter or digit']);
    assert.match(problems({ ...v, wifi: { ssid: 'x', psk: 'short', country: 'US' } })[0]!, /^wifi\.psk: /);
    assert.match(problems({ ...v, wifi: { ssid: 'x', psk: 'long enough psk', country: 'usa' } })[0]!, /^wifi\.country: /);
    assert.match(problems({ ...v, broker: { url: 'http://x', ca_pem: ca.certPem } })[0]!, /^broker\.url: /);
    assert.match(problems({ ...v, broker: { url: 'mqtts://x', ca_pem: 'junk' } })[0]!, /^broker\.ca_pem: not a PEM X\.509 certificate/);
    assert.deepEqual(problems({ ...v, credentials: { client_cert_pem: client.certPem, client_key_pem: other.keyPem } }), ['credentials.client_key_pem: does not match client_cert_pem']);
    assert.match(problems({ ...v, credentials: { username: 'u', password: 'short' } })[0]!, /^credentials\.password: at least 12/);
    assert.deepEqual(problems('just text'), [
      '(file): must be a mapping',
      'device_id: required text',
      'location: required text',
      'broker: must be a mapping',
      'broker.url: required text',
      'broker.ca_pem: required text',
      'credentials: must be a mapping',
      'credentials.username (or client_cert_pem + client_key_pem): required text',
      'credentials.password: required text',
    ]);
  });

  test('username and password credentials; no wifi section is allowed (wired depot)', async () => {
    const o = fresh();
    writeFileSync(o.groupFile, 'sidewalk:x:990:\n');
    const v = valid();
    delete v.wifi;
    v.credentials = { username: 'scooter-7', password: 'a-long-password' };
    writeFileSync(join(o.bootDir, 'sidewalk-provision.yaml'), JSON.stringify(v));
    assert.deepEqual(await provision(o), { state: 'provisioned', deviceId: 'scooter-7' });
    assert.equal(readFileSync(join(o.dataDir, 'device/secrets/mqtt-password'), 'utf8'), 'a-long-password\n');
    assert.equal(statSync(join(o.dataDir, 'device/secrets/mqtt-password')).mode & 0o777, 0o640);
    assert.ok(!existsSync(join(o.dataDir, 'device/secrets/wpa_supplicant-wlan0.conf')));
    if (process.getuid?.() === 0) assert.equal(statSync(join(o.dataDir, 'device/secrets/mqtt-password')).gid, 990);
  });

  test('an invalid file on a fresh card: monitor mode, the file stays on FAT for the operator, no secret written', async () => {
    const o = fresh();
    const v = valid();
    v.device_id = '';
    writeFileSync(join(o.bootDir, 'sidewalk-provision.yaml'), JSON.stringify(v));
    await assert.rejects(provision(o), (err) => isSidewalkError(err, 'PROVISION_INVALID') && /device_id: required text.*monitor mode/.test(err.message));
    assert.equal((parse(readFileSync(join(o.dataDir, 'device/runtime.yaml'), 'utf8')) as { mode: string }).mode, 'monitor');
    assert.ok(existsSync(join(o.bootDir, 'sidewalk-provision.yaml')));
    assert.ok(!existsSync(join(o.dataDir, 'device/secrets')));
  });

  test('a file that is not YAML is refused with its parse error', async () => {
    const o = fresh();
    writeFileSync(join(o.bootDir, 'sidewalk-provision.yaml'), 'device_id: [unclosed\n');
    await assert.rejects(provision(o), (err) => isSidewalkError(err, 'PROVISION_INVALID') && /not YAML/.test(err.message));
  });

  test('re-provisioning: a new valid file replaces the identity; a bad one keeps the current provisioning', async () => {
    const o = fresh();
    writeFileSync(join(o.bootDir, 'sidewalk-provision.yaml'), provisionYaml({ deviceId: 'scooter-7', ca, client }));
    await provision(o);
    writeFileSync(join(o.bootDir, 'sidewalk-provision.yaml'), 'device_id: 5\n');
    await assert.rejects(provision(o), (err) => isSidewalkError(err, 'PROVISION_INVALID') && /keeping the current provisioning of scooter-7/.test(err.message));
    const runtime = parse(readFileSync(join(o.dataDir, 'device/runtime.yaml'), 'utf8')) as { mode: string; device: { id: string } };
    assert.deepEqual([runtime.mode, runtime.device.id], ['limit', 'scooter-7']);
    // A new valid file re-provisions the card and leaves FAT like the first time.
    writeFileSync(join(o.bootDir, 'sidewalk-provision.yaml'), provisionYaml({ deviceId: 'scooter-8', ca, client }));
    assert.deepEqual(await provision(o), { state: 'provisioned', deviceId: 'scooter-8' });
    assert.match(readFileSync(join(o.dataDir, 'device/identity.yaml'), 'utf8'), /device_id: scooter-8/);
    assert.ok(!existsSync(join(o.bootDir, 'sidewalk-provision.yaml')));
  });
});

describe('provisioning renders the metrics agent config', () => {
  const work = makeTempDirSync('sidewalk-provision-agent-');
  after(() => rmSync(work, { recursive: true, force: true }));
  const ca = makeCert(work, 'ca');
  const client = makeCert(work, 'client');
  const metricsCa = makeCert(work, 'metrics-ca');
  const card = (name: string, metrics: unknown) => {
    const dir = join(work, name);
    mkdirSync(join(dir, 'boot'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    const v = parse(provisionYaml({ deviceId: 'scooter-9', ca, client })) as Record<string, unknown>;
    if (metrics !== undefined) v.metrics = metrics;
    writeFileSync(join(dir, 'boot/sidewalk-provision.yaml'), JSON.stringify(v));
    return {
      bootDir: join(dir, 'boot'),
      dataDir: join(dir, 'data'),
      runtimeConfig: RUNTIME,
      groupFile: join(dir, 'group'),
      agentTemplate: join(REPO_ROOT, 'image/rootfs/etc/prometheus/sidewalk-agent.yml.tmpl'),
    };
  };

  test('remote-write URL and CA: the agent config on the data partition, where the agent unit reads it', async () => {
    const o = card('with-ca', { remote_write_url: 'https://metrics.example.net/api/v1/write', ca_pem: metricsCa.certPem });
    assert.deepEqual(await provision(o), { state: 'provisioned', deviceId: 'scooter-9' });
    // /var/lib/sidewalk is a bind mount of /data/sidewalk: the unit's --config.file and ConditionPathExists path.
    const configPath = join(o.dataDir, 'sidewalk/device/prometheus-agent.yml');
    const config = parse(readFileSync(configPath, 'utf8')) as { global: { external_labels: Record<string, string> }; remote_write: { url: string; tls_config: { ca_file: string } }[] };
    assert.deepEqual(config.global.external_labels, { device: 'scooter-9', location: 'Denver' });
    assert.equal(config.remote_write[0]!.url, 'https://metrics.example.net/api/v1/write');
    assert.equal(config.remote_write[0]!.tls_config.ca_file, '/var/lib/sidewalk/device/metrics-ca.pem');
    assert.equal(readFileSync(join(o.dataDir, 'sidewalk/device/metrics-ca.pem'), 'utf8'), metricsCa.certPem);
    assert.equal(statSync(configPath).mode & 0o777, 0o640);
    const unit = readFileSync(join(REPO_ROOT, 'image/systemd/sidewalk-prometheus-agent.service'), 'utf8');
    assert.match(unit, /--config\.file=\/var\/lib\/sidewalk\/device\/prometheus-agent\.yml/);
  });

  test('no metrics section: no agent config (the agent unit stays off); a bad URL is named and nothing is written', async () => {
    const none = card('none', undefined);
    await provision(none);
    assert.ok(!existsSync(join(none.dataDir, 'sidewalk/device/prometheus-agent.yml')));
    const bad = card('bad', { remote_write_url: 'ftp://user:pw@metrics.example.net/' });
    await assert.rejects(provision(bad), (err) => isSidewalkError(err, 'PROVISION_INVALID') && /metrics\.remote_write_url: an http/.test(err.message));
    assert.ok(!existsSync(join(bad.dataDir, 'sidewalk/device/prometheus-agent.yml')));
    assert.ok(existsSync(join(bad.bootDir, 'sidewalk-provision.yaml')), 'left on FAT for the operator');
  });
});
