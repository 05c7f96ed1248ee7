/**
 * `sidewalk data review`: a small local page (node:http, 127.0.0.1 only) that shows queued frames with
 * their metadata and takes a label per key press (1-4 = the classes in label order), written back at once.
 * Writes need the per-server token embedded in the page, so other web pages cannot post labels.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../../lib/errors.js';
import type { DataConfig } from './config.js';
import type { Db } from './db.js';
import { applyReview, reviewQueue } from './labels.js';
import type { FrameStore } from './store.js';

export interface ReviewServerOptions {
  db: Db;
  store: FrameStore;
  config: DataConfig;
  location?: string;
  port?: number;
}

function page(token: string, labels: string[]): string {
  const keys = labels
    .slice(0, 9)
    .map((l, i) => `<kbd>${i + 1}</kbd> ${l}`)
    .join(' &nbsp; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sidewalk Guard review</title>
<style>
 body { font: 15px system-ui, sans-serif; margin: 1.5em; background: #111; color: #eee; }
 img { max-width: 90vw; max-height: 65vh; image-rendering: pixelated; border: 1px solid #444; }
 kbd { background: #333; padding: 0 .4em; border-radius: 3px; } #meta { margin: .6em 0; color: #bbb; }
 #status { color: #9c9; }
</style></head>
<body>
<h1>Review queue</h1>
<p>${keys}</p>
<div id="frame" data-id=""><img id="img" alt=""><div id="meta"></div></div>
<p id="status">loading…</p>
<script>
const TOKEN = ${JSON.stringify(token)};
const LABELS = ${JSON.stringify(labels)};
let current = null;
async function next() {
  const res = await fetch('api/queue?limit=1');
  const items = await res.json();
  current = items[0] || null;
  const frame = document.getElementById('frame');
  if (!current) {
    frame.dataset.id = '';
    document.getElementById('img').removeAttribute('src');
    document.getElementById('meta').textContent = '';
    document.getElementById('status').textContent = 'queue empty';
    return;
  }
  frame.dataset.id = String(current.id);
  document.getElementById('img').src = 'frames/' + current.id + '.jpg';
  const scores = current.modelScores ? Object.entries(current.modelScores).map(([k, s]) => k + ' ' + s.toFixed(2)).join(', ') + ' (' + current.modelVersion + ')' : 'none';
  document.getElementById('meta').textContent = current.location + ' · ride ' + (current.rideKey || '?') + ' · frame ' + current.idx
    + ' · speed ' + (current.speedKph ?? current.speedRaw ?? '?') + ' · rider: ' + (current.riderLabel || 'none')
    + ' · model: ' + scores + (current.flags.length ? ' · flags: ' + current.flags.join(', ') : '');
  document.getElementById('status').textContent = 'frame ' + current.id;
}
document.addEventListener('keydown', async (e) => {
  const label = LABELS[Number(e.key) - 1];
  if (!current || !label) return;
  const id = current.id;
  current = null;
  const res = await fetch('api/label', { method: 'POST', headers: { 'content-type': 'application/json', 'x-review-token': TOKEN }, body: JSON.stringify({ id, label }) });
  document.getElementById('status').textContent = res.ok ? 'labelled ' + id + ' ' + label : 'error: ' + await res.text();
  await next();
});
next();
</script>
</body></html>`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
      if (body.length > 10_000) req.destroy();
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export class ReviewServer {
  #opts: ReviewServerOptions;
  #server: Server | null = null;
  readonly token = randomBytes(16).toString('hex');

  constructor(opts: ReviewServerOptions) {
    this.#opts = opts;
  }

  /** Listens on 127.0.0.1; resolves with the page URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(errorMessage(err));
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const { db, store, config } = this.#opts;
    // Only loopback names: a page on another origin cannot reach us through DNS rebinding.
    if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(req.headers.host ?? '')) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('wrong host');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page(this.token, config.labels));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/queue') {
      const limit = Math.min(200, Math.max(1, Number(url.searchParams.get('limit') ?? 20) || 20));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(reviewQueue(db, { limit, ...(this.#opts.location ? { location: this.#opts.location } : {}) })));
      return;
    }
    const img = /^\/frames\/(\d+)\.jpg$/.exec(url.pathname);
    if (req.method === 'GET' && img) {
      const row = db.prepare('SELECT path FROM frames WHERE id = ?').get(Number(img[1])) as { path: string } | undefined;
      if (!row) {
        res.writeHead(404).end('no such frame');
        return;
      }
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      createReadStream(store.abs(row.path)).pipe(res);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/label') {
      if (req.headers['x-review-token'] !== this.token || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('missing or wrong review token');
        return;
      }
      const body = JSON.parse(await readBody(req)) as { id: number; label: string };
      try {
        applyReview(db, Number(body.id), String(body.label), config);
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(errorMessage(err));
        return;
      }
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
}
