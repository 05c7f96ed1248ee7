/**
 * A minimal static artifact host in Node (single-range support) for tests that must hold downloads
 * (`gate`) or record requests; the deployed host is nginx (nginx.ts). Host-side simulation.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';

export interface NodeArtifactHost {
  base: string;
  /** When set, every response waits for it. */
  gate: Promise<void> | null;
  /** `<url> <range header>` per request. */
  requests: string[];
  close(): Promise<void>;
}

export async function artifactHost(dir: string): Promise<NodeArtifactHost> {
  const state = { gate: null as Promise<void> | null, requests: [] as string[] };
  const server = createServer((req, res) => {
    void (async () => {
      state.requests.push(`${req.url} ${req.headers.range ?? ''}`);
      if (state.gate) await state.gate;
      const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
      let size: number;
      try {
        if (!path.startsWith(dir)) throw new Error('outside');
        size = statSync(path).size;
      } catch {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = m ? Number(m[1]) : 0;
      if (start >= size && size > 0) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(m ? 206 : 200, {
        'content-length': size - start,
        'accept-ranges': 'bytes',
        etag: `"${size}"`,
        ...(m ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      createReadStream(path, { start }).pipe(res);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
