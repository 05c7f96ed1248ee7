import { createServer, type RequestListener } from 'node:http';

/** An HTTP server on a free loopback port, for download tests: its base URL and a close(). */
export async function serveLocal(handler: RequestListener): Promise<{ base: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('test HTTP server has no port');
  return {
    base: `http://127.0.0.1:${addr.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
