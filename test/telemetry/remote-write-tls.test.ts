/**
 * remote_write over TLS, as shipped: the fleet Prometheus runs with telemetry/prometheus/fleet-web.yml
 * (HTTPS, client certificate from the fleet CA required; only the file paths are this test's) and the
 * device's Prometheus agent with agent.yml.tmpl rendered with remoteWriteTls (the fleet CA and the
 * device's own client certificate, made by the simulated fleet PKI). A sample the device's runtime
 * exposes arrives at the fleet server with the device's labels; a client without a certificate, with a
 * foreign one, or speaking plain HTTP is refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { renderAgentConfigFile } from '../../telemetry/agent-config.js';
import { AGENT_TEMPLATE_PATH } from '../helpers/paths.js';
import { freePort, tempDir, waitFor } from '../../telemetry/fleet/sim/common.js';
import { makePki, type CertFiles, type Pki } from '../../telemetry/fleet/sim/pki.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { removePrometheusFiles, startPrometheus, type PrometheusProcess } from './prometheus-process.js';

const WEB_CONFIG = join(REPO_ROOT, 'telemetry', 'prometheus', 'fleet-web.yml');

let root: string;
let pki: Pki;
let foreign: Pki;
let server: ChildProcess;
let serverPort: number;
let serverLog = '';
let runtime: Server;
let agent: PrometheusProcess;
let device: CertFiles;

/** An HTTPS request to the fleet server as `client`; resolves status and body, or the connection error. */
function call(path: string, client: CertFiles | null, o: { method?: string; ca?: string } = {}): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    void (async () => {
      const tls = { ca: await readFile(o.ca ?? pki.ca), ...(client ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {}) };
      const req = request({ host: '127.0.0.1', port: serverPort, path, method: o.method ?? 'GET', agent: false, ...tls }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end();
    })();
  });
}

before(async () => {
  root = await tempDir('sidewalk-rw-tls-');
  await mkdir(join(root, 'pki'));
  await mkdir(join(root, 'foreign'));
  pki = await makePki(join(root, 'pki'), { caName: 'sidewalk-fleet-ca' });
  foreign = await makePki(join(root, 'foreign'), { caName: 'not-the-fleet-ca' });
  device = await pki.client('tls-dev-1');
  const serverCert = await pki.client('server');

  // The shipped web config with this test's file paths; every other setting as shipped.
  const web = parse(await readFile(WEB_CONFIG, 'utf8')) as { tls_server_config: Record<string, string> };
  assert.equal(web.tls_server_config.client_auth_type, 'RequireAndVerifyClientCert');
  Object.assign(web.tls_server_config, { cert_file: serverCert.cert, key_file: serverCert.key, client_ca_file: pki.ca });
  await writeFile(join(root, 'web.yml'), stringify(web));
  await writeFile(join(root, 'fleet.yml'), stringify({ global: { scrape_interval: '15s' } }));
  serverPort = await freePort();
  server = spawn(
    'prometheus',
    [
      `--config.file=${join(root, 'fleet.yml')}`,
      `--web.config.file=${join(root, 'web.yml')}`,
      `--web.listen-address=127.0.0.1:${serverPort}`,
      `--storage.tsdb.path=${join(root, 'tsdb')}`,
      '--web.enable-remote-write-receiver',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  server.stderr!.on('data', (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-20000)));
  await waitFor(
    'the fleet Prometheus answers over TLS',
    async () => {
      if (server.exitCode !== null) throw new Error(`prometheus exited: ${serverLog}`);
      const r = await call('/-/ready', device);
      return 'status' in r && r.status === 200;
    },
    20_000,
  );

  // The device's runtime /metrics (loopback), scraped by the agent.
  runtime = createServer((_req, res) => res.end('# TYPE sidewalk_frames_total counter\nsidewalk_frames_total 4242\n'));
  await new Promise<void>((resolve) => runtime.listen(0, '127.0.0.1', resolve));
  const config = await renderAgentConfigFile(AGENT_TEMPLATE_PATH, {
    device: 'tls-dev-1',
    location: 'Oslo',
    remoteWriteUrl: `https://127.0.0.1:${serverPort}/api/v1/write`,
    remoteWriteTls: { caFile: pki.ca, certFile: device.cert, keyFile: device.key },
    runtimeTarget: `127.0.0.1:${(runtime.address() as { port: number }).port}`,
    updaterTarget: `127.0.0.1:${await freePort()}`,
    scrapeInterval: '1s',
  });
  agent = await startPrometheus({ config, agent: true });
});

after(async () => {
  if (agent) {
    await agent.stop();
    await removePrometheusFiles(agent);
  }
  runtime?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await rm(root, { recursive: true, force: true });
});

describe('remote_write over TLS with client certificates', () => {
  test("the device agent's samples arrive at the fleet Prometheus with the device's labels", async () => {
    let result: { metric: Record<string, string>; value: [number, string] }[] = [];
    await waitFor(
      'the sample arrived over TLS',
      async () => {
        const r = await call(`/api/v1/query?${new URLSearchParams({ query: 'sidewalk_frames_total' })}`, device);
        if (!('status' in r) || r.status !== 200) return false;
        result = (JSON.parse(r.body) as { data: { result: typeof result } }).data.result;
        return result.length === 1;
      },
      30_000,
    ).catch((err: Error) => assert.fail(`${err.message}\nagent: ${agent.output().slice(-3000)}`));
    assert.equal(result[0]!.value[1], '4242');
    assert.equal(result[0]!.metric.device, 'tls-dev-1');
    assert.equal(result[0]!.metric.location, 'Oslo');
    assert.equal(result[0]!.metric.job, 'sidewalk-runtime');
  });

  test('no certificate, a foreign certificate or plain HTTP is refused', async () => {
    const none = await call('/api/v1/write', null, { method: 'POST' });
    assert.ok('error' in none, `no client certificate: ${JSON.stringify(none)}`);
    const stranger = await call('/api/v1/write', await foreign.client('tls-dev-1'), { method: 'POST' });
    assert.ok('error' in stranger, `foreign client certificate: ${JSON.stringify(stranger)}`);
    // The device's certificate is accepted at the same endpoint (an empty write is a 4xx from Prometheus, not a TLS error).
    const own = await call('/api/v1/write', device, { method: 'POST' });
    assert.ok('status' in own && own.status >= 400 && own.status < 500, JSON.stringify(own));
    const plain = await fetch(`http://127.0.0.1:${serverPort}/-/ready`).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    assert.notEqual(plain, 200, 'plain HTTP is not served');
  });
});
