import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serveLocal } from '../helpers/local-http.js';
import { configureLogging } from '../../lib/log.js';
import { isSidewalkError } from '../../lib/errors.js';
import { download } from '../../ota/download.js';
import { makeTempDirSync } from '../helpers/temp.js';

configureLogging({ level: 'silent' });

const BODY = randomBytes(3 * 1024 * 1024 + 123);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('download', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serveLocal>>;
  let base: string;
  const seen: IncomingHttpHeaders[] = [];
  /** Per path: how many more requests get their connection dropped mid-way. */
  const drops = new Map<string, number>();
  let flaky = 0;

  before(async () => {
    dir = makeTempDirSync('sidewalk-dl-');
    server = await serveLocal((req, res) => {
      seen.push(req.headers);
      const path = req.url ?? '/';
      if (path === '/missing') {
        res.writeHead(404).end('no');
        return;
      }
      if (path === '/flaky-500' && ++flaky <= 2) {
        res.writeHead(503).end();
        return;
      }
      const honourRange = path !== '/no-range';
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = honourRange && m && req.headers['if-range'] === '"v1"' ? Number(m[1]) : 0;
      const headers = { etag: '"v1"', 'content-length': String(BODY.length - start) } as Record<string, string>;
      if (start > 0) headers['content-range'] = `bytes ${start}-${BODY.length - 1}/${BODY.length}`;
      res.writeHead(start > 0 ? 206 : 200, headers);
      const left = drops.get(path) ?? 0;
      if (left > 0) {
        drops.set(path, left - 1);
        // Send about a third, then drop the connection.
        res.write(BODY.subarray(start, start + Math.floor((BODY.length - start) / 3)), () => res.destroy());
        return;
      }
      res.end(BODY.subarray(start));
    });
    base = server.base;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  });

  test('resumes with a Range request after the connection drops mid-way', async () => {
    drops.set('/a.mender', 2);
    seen.length = 0;
    const dest = join(dir, 'a.mender');
    let last = 0;
    const r = await download({ url: `${base}/a.mender`, dest, backoffMs: 1, sleep: async () => {}, onProgress: (d) => (last = d) });
    assert.equal(sha(readFileSync(dest)), sha(BODY));
    assert.equal(r.bytes, BODY.length);
    assert.equal(r.attempts, 3);
    assert.equal(r.resumedFrom.length, 2);
    assert.ok(r.resumedFrom[0]! > 0 && r.resumedFrom[1]! > r.resumedFrom[0]!);
    assert.equal(seen[1]!.range, `bytes=${r.resumedFrom[0]}-`);
    assert.equal(seen[1]!['if-range'], '"v1"');
    assert.equal(last, BODY.length);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  test('starts again from byte 0 when the server ignores the range', async () => {
    drops.set('/no-range', 1);
    const dest = join(dir, 'b.mender');
    const r = await download({ url: `${base}/no-range`, dest, backoffMs: 1, sleep: async () => {} });
    assert.equal(sha(readFileSync(dest)), sha(BODY));
    assert.equal(r.attempts, 2);
  });

  test('retries server errors with growing back-off, but not a 404', async () => {
    const waits: number[] = [];
    seen.length = 0;
    const r = await download({ url: `${base}/flaky-500`, dest: join(dir, 'c.mender'), backoffMs: 10, sleep: async (ms) => void waits.push(ms) });
    assert.equal(r.attempts, 3);
    assert.deepEqual(waits, [10, 20]);
    await assert.rejects(
      download({ url: `${base}/missing`, dest: join(dir, 'd.mender'), sleep: async () => assert.fail('no retry on 404') }),
      (e) => isSidewalkError(e, 'OTA_DOWNLOAD_HTTP') && /HTTP 404/.test(e.message),
    );
  });

  test('gives up after the configured retries', async () => {
    drops.set('/e.mender', 10);
    await assert.rejects(
      download({ url: `${base}/e.mender`, dest: join(dir, 'e.mender'), retries: 2, sleep: async () => {} }),
      (e) => isSidewalkError(e, 'OTA_DOWNLOAD_FAILED') && /gave up after 3 attempt/.test(e.message),
    );
    drops.set('/e.mender', 0);
    // The partial file is kept, so the next run resumes instead of starting over.
    seen.length = 0;
    const r = await download({ url: `${base}/e.mender`, dest: join(dir, 'e.mender'), sleep: async () => {} });
    assert.ok(r.resumedFrom[0]! > 0);
    assert.equal(sha(readFileSync(join(dir, 'e.mender'))), sha(BODY));
  });
});
