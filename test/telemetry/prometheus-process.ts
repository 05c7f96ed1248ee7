/**
 * Real Prometheus processes for tests: a fleet server with the remote-write receiver and on-device
 * agents (agent mode), each on a free loopback port with its own temporary storage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../helpers/service-process.js';
import { makeTempDir } from '../helpers/temp.js';

export interface PrometheusProcess {
  readonly url: string;
  readonly port: number;
  readonly storage: string;
  output(): string;
  stop(): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts prometheus with `config` (YAML text); `port`/`storage` reuse a previous instance's. */
export async function startPrometheus(o: { config: string; agent: boolean; port?: number; storage?: string; extraArgs?: string[] }): Promise<PrometheusProcess> {
  const storage = o.storage ?? (await makeTempDir(o.agent ? 'prom-agent-' : 'prom-fleet-'));
  const port = o.port ?? (await freePort());
  const configFile = join(storage, '..', `${storage.split('/').pop()}.yml`);
  await writeFile(configFile, o.config);
  const args = [
    `--config.file=${configFile}`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...(o.agent ? ['--enable-feature=agent', `--storage.agent.path=${storage}`] : [`--storage.tsdb.path=${storage}`, '--web.enable-remote-write-receiver']),
    ...(o.extraArgs ?? []),
  ];
  let output = '';
  const child: ChildProcess = spawn('prometheus', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited.then(() => (dead = true));
  await waitUntil(`prometheus on ${url} to be ready`, 20000, async () => {
    if (dead) throw new Error(`prometheus exited: ${output}`);
    return (await fetch(`${url}/-/ready`)).ok;
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  return {
    url,
    port,
    storage,
    output: () => output,
    async stop() {
      if (!dead) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export async function removePrometheusFiles(p: PrometheusProcess): Promise<void> {
  await rm(p.storage, { recursive: true, force: true });
  await rm(`${p.storage}.yml`, { force: true });
}

/** An instant query against a server; throws on a query error (bad PromQL names itself). */
export async function query(serverUrl: string, expr: string, time?: number): Promise<PromSample[]> {
  const params = new URLSearchParams({ query: expr, ...(time === undefined ? {} : { time: String(time) }) });
  const res = await fetch(`${serverUrl}/api/v1/query?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error ?? res.status}`);
  if (body.data!.resultType !== 'vector') throw new Error(`query ${expr}: ${body.data!.resultType} result, expected a vector`);
  return body.data!.result;
}
