/**
 * The artifact host as the fleet team deploys it: Debian's nginx running the shipped server block
 * (host-tools/fleet/nginx-artifacts.conf) over TLS, with what `sidewalk fleet deploy` publishes.
 * A download cut off mid-file by the network resumes with `Range` (guarded by If-Range) through nginx,
 * published artifacts are served immutable, and nothing else is (half-copied files, listings, writes).
 * A rollout through this host runs in rollout.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { globalAgent, request } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { publishArtifact } from '../../../host-tools/fleet/publish.js';
import { download } from '../../../ota/download.js';
import { modelArtifacts } from '../../../telemetry/fleet/sim/artifacts.js';
import { tempDir } from '../../../telemetry/fleet/sim/common.js';
import { SHIPPED_NGINX_CONF, localServerBlock, startNginx, type NginxHost } from '../../../telemetry/fleet/sim/nginx.js';
import { makePki, type Pki } from '../../../telemetry/fleet/sim/pki.js';

let root: string;
let pki: Pki;
let nginx: NginxHost;
let ca: Buffer;

before(async () => {
  root = await tempDir('sidewalk-fleet-nginx-');
  await mkdir(join(root, 'pki'));
  pki = await makePki(join(root, 'pki'));
  ca = await readFile(pki.ca);
  nginx = await startNginx({ cert: await pki.client('server'), ca: pki.ca });
});

after(async () => {
  await nginx?.close();
  await rm(root, { recursive: true, force: true });
});

function get(url: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A TCP relay in front of nginx that drops the `cutConnection`-th connection after `cutAfter` bytes from the server. */
async function flakyRelay(port: number, cutAfter: number, cutConnection = 1): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const state = { connections: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const n = ++state.connections;
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let sent = 0;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (n !== cutConnection) return void client.write(chunk);
      const room = cutAfter - sent;
      sent += chunk.length;
      if (room > 0) client.write(chunk.subarray(0, room));
      if (sent >= cutAfter) {
        upstream.destroy();
        client.destroy();
      }
    });
    upstream.on('end', () => client.end());
    for (const s of [client, upstream]) s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

describe('artifact host: the shipped nginx config', () => {
  test('the test changes only listen, certificates and root of the shipped file', async () => {
    const shipped = await readFile(SHIPPED_NGINX_CONF, 'utf8');
    const local = localServerBlock(shipped, { port: 1234, cert: { cert: '/c.crt', key: '/c.key' }, root: '/r' });
    const differing = local.split('\n').filter((line, i) => line !== shipped.split('\n')[i]);
    assert.deepEqual(
      differing.map((l) => l.trim()),
      ['listen 127.0.0.1:1234 ssl;', 'ssl_certificate /c.crt;', 'ssl_certificate_key /c.key;', 'root /r;'],
    );
    assert.throws(() => localServerBlock(shipped.replace(/^\s*root .*$/m, ''), { port: 1, cert: { cert: 'a', key: 'b' }, root: '/r' }), /expected one/);
  });

  test('a download cut off by the network resumes with Range through nginx and ends with the same bytes', async () => {
    // 1 MiB of content-addressed bytes: many TLS records, so the cut leaves part of the body on disk.
    const blob = randomBytes(1 << 20);
    const sha = createHash('sha256').update(blob).digest('hex');
    await mkdir(join(nginx.publishDir, sha));
    await writeFile(join(nginx.publishDir, sha, 'blob.mender'), blob);
    const relay = await flakyRelay(nginx.port, 600_000);
    globalAgent.options.ca = ca; // as the device trusts the fleet CA (system store on the image)
    try {
      const dest = join(root, 'device', `${sha}.mender`);
      const got = await download({ url: `https://127.0.0.1:${relay.port}/artifacts/${sha}/blob.mender`, dest, retries: 3, backoffMs: 10 });
      assert.equal(got.attempts, 2, 'one cut, one resumed attempt');
      assert.equal(got.resumedFrom.length, 1);
      const have = got.resumedFrom[0]!;
      assert.ok(have > 0 && have < blob.length, `resumed from byte ${have}`);
      assert.equal(
        createHash('sha256')
          .update(await readFile(dest))
          .digest('hex'),
        sha,
      );
      const log = (await nginx.accessLog()).filter((l) => l.includes(sha));
      assert.equal(log.length, 2, log.join('\n'));
      assert.match(log[0]!, /^GET \S+ 200 "-" \d+$/);
      assert.equal(log[1], `GET /artifacts/${sha}/blob.mender 206 "bytes=${have}-" ${blob.length - have}`);
    } finally {
      delete globalAgent.options.ca;
      await relay.close();
    }
  });

  test('a published artifact is served immutable with an ETag; Range answers 206 with its Content-Range', async () => {
    await mkdir(join(root, 'art'));
    const artifacts = await modelArtifacts(join(root, 'art'));
    const ref = await publishArtifact(await artifacts.signed('3.0.0'), nginx.publishDir, nginx.base);
    assert.match(ref.url, new RegExp(`^${nginx.base}/${ref.sha256}/`));
    const full = await get(ref.url);
    assert.equal(full.status, 200);
    assert.equal(full.body.length, ref.size);
    assert.equal(createHash('sha256').update(full.body).digest('hex'), ref.sha256);
    assert.equal(full.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(full.headers['accept-ranges'], 'bytes');
    const etag = String(full.headers.etag);
    const part = await get(ref.url, { headers: { range: 'bytes=100-', 'if-range': etag } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-${ref.size - 1}/${ref.size}`);
    assert.deepEqual(part.body, full.body.subarray(100));
    // A stale validator means the bytes changed: the whole file again, never a spliced one.
    assert.equal((await get(ref.url, { headers: { range: 'bytes=100-', 'if-range': '"stale"' } })).status, 200);
    assert.equal((await get(ref.url, { headers: { range: `bytes=${ref.size}-` } })).status, 416);
  });

  test('nothing but published artifacts: no half-copied files, no listings, no writes, nothing outside', async () => {
    const sha = 'a'.repeat(64);
    await mkdir(join(nginx.publishDir, sha), { recursive: true });
    await writeFile(join(nginx.publishDir, sha, 'x.mender.tmp'), 'half');
    await writeFile(join(nginx.root, 'secret.txt'), 'not an artifact');
    assert.equal((await get(`${nginx.base}/${sha}/x.mender.tmp`)).status, 404);
    assert.equal((await get(`${nginx.base}/${sha}/`)).status, 404);
    assert.equal((await get(`${nginx.base}/`)).status, 404);
    assert.equal((await get(`https://127.0.0.1:${nginx.port}/secret.txt`)).status, 404);
    assert.equal((await get(`${nginx.base}/${sha}/x.mender.tmp/../../../secret.txt`)).status, 404);
    await writeFile(join(nginx.publishDir, sha, 'x.mender'), 'whole');
    assert.equal((await get(`${nginx.base}/${sha}/x.mender`)).status, 200);
    assert.equal((await get(`${nginx.base}/${sha}/x.mender`, { method: 'PUT' })).status, 403);
    assert.equal((await get(`${nginx.base}/${sha}/x.mender`, { method: 'DELETE' })).status, 403);
  });
});
