/**
 * The fleet's artifact host as deployed, run locally: Debian's nginx with the shipped server block
 * (host-tools/fleet/nginx-artifacts.conf), changed only in its listen address (a free loopback port),
 * TLS certificate (the simulated PKI's server certificate for 127.0.0.1) and root (a temp folder). nginx
 * runs in the foreground as a child with its own prefix (pid, logs, temp folders): no system service,
 * no privileged port. Host-side simulation, never shipped to a device.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../lib/paths.js';
import type { CertFiles } from './pki.js';
import { freePort, waitFor } from './common.js';

export const SHIPPED_NGINX_CONF = join(REPO_ROOT, 'host-tools', 'fleet', 'nginx-artifacts.conf');

export interface NginxHost {
  /** The served root; artifacts are published to `publishDir` = `<root>/artifacts`. */
  root: string;
  publishDir: string;
  /** https://127.0.0.1:<port>/artifacts (artifacts.base_url). */
  base: string;
  port: number;
  /** Lines of nginx's access log (method, URI, status, Range header, bytes sent). */
  accessLog(): Promise<string[]>;
  close(): Promise<void>;
}

/** Replaces exactly one directive line of the shipped file; throws when the file no longer has it. */
function replaceDirective(conf: string, directive: RegExp, line: string): string {
  const matches = conf.match(new RegExp(directive.source, 'gm'));
  if (matches?.length !== 1) throw new Error(`${SHIPPED_NGINX_CONF}: expected one ${directive.source} line, found ${matches?.length ?? 0}`);
  return conf.replace(new RegExp(directive.source, 'm'), line);
}

/** The shipped server block with a local address, certificate and root. */
export function localServerBlock(shipped: string, o: { port: number; cert: CertFiles; root: string }): string {
  let s = replaceDirective(shipped, /^[ \t]*listen\s+443 ssl;$/, `    listen 127.0.0.1:${o.port} ssl;`);
  s = replaceDirective(s, /^[ \t]*ssl_certificate\s+\S+;$/, `    ssl_certificate ${o.cert.cert};`);
  s = replaceDirective(s, /^[ \t]*ssl_certificate_key\s+\S+;$/, `    ssl_certificate_key ${o.cert.key};`);
  return replaceDirective(s, /^[ \t]*root\s+\S+;$/, `    root ${o.root};`);
}

function mainConf(prefix: string, server: string, workerConnections: number): string {
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    `events { worker_connections ${workerConnections}; }`,
    'http {',
    `  log_format range '$request_method $uri $status "$http_range" $body_bytes_sent';`,
    `  access_log ${prefix}/access.log range;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/tmp/${t};`),
    server,
    '}',
  ].join('\n');
}

/** GET `url` trusting `ca`; resolves the status (for readiness). */
function status(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export async function startNginx(o: { cert: CertFiles; ca: string; workerConnections?: number }): Promise<NginxHost> {
  const prefix = await mkdtemp(join(tmpdir(), 'sidewalk-nginx-'));
  // Started as root, nginx's workers drop to nobody: the served tree must be readable by others.
  await chmod(prefix, 0o755);
  const root = join(prefix, 'www');
  const publishDir = join(root, 'artifacts');
  await mkdir(publishDir, { recursive: true });
  await mkdir(join(prefix, 'tmp'));
  const port = await freePort();
  const server = localServerBlock(await readFile(SHIPPED_NGINX_CONF, 'utf8'), { port, cert: o.cert, root });
  const confFile = join(prefix, 'nginx.conf');
  await writeFile(confFile, `${mainConf(prefix, server, o.workerConnections ?? 4096)}\n`);
  let output = '';
  const child: ChildProcess = spawn('nginx', ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `https://127.0.0.1:${port}/artifacts`;
  const ca = await readFile(o.ca);
  try {
    await waitFor(
      'nginx answers',
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${output}${await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '')}`);
        return (await status(`${base}/`, ca)) === 404;
      },
      10_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    await rm(prefix, { recursive: true, force: true });
    throw err;
  }
  return {
    root,
    publishDir,
    base,
    port,
    accessLog: async () => (await readFile(join(prefix, 'access.log'), 'utf8')).split('\n').filter(Boolean),
    async close() {
      // SIGQUIT: graceful shutdown (workers finish their requests).
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await exited;
      }
      await rm(prefix, { recursive: true, force: true });
    },
  };
}
