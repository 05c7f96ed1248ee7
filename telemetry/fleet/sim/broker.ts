/**
 * A real Mosquitto for a simulated fleet (tests and bench:fleet): the throwaway PKI of pki.ts, a
 * TLS-only listener on a free loopback port with require_certificate + use_identity_as_username, and
 * the fleet ACL (telemetry/fleet/acl.ts); optionally with persistence so a restart keeps sessions,
 * queued messages and retained state. Host-side simulation, never shipped to a device.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLEET_TOOL_USER, mosquittoAcl } from '../acl.js';
import type { TlsFiles } from '../link.js';
import { makePki, type Pki } from './pki.js';
import { freePort } from './common.js';

export interface SimBroker {
  dir: string;
  port: number;
  url: string;
  pki: Pki;
  /** TLS files for a client identity (certificate made on first use). */
  tls(cn: string): Promise<TlsFiles>;
  /** Rewrites the ACL for these devices and reloads the broker (SIGHUP). */
  setDevices(devices: { id: string; location: string }[]): Promise<void>;
  stop(): Promise<void>;
  /** Starts the broker again on the same port (after stop). */
  restart(): Promise<void>;
  log(): string;
}

async function waitForTls(port: number, ca: string, client: { cert: string; key: string }, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca), cert: readFileSync(client.cert), key: readFileSync(client.key) }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not accept TLS on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startBroker(devices: { id: string; location: string }[], options: { persistence?: boolean } = {}): Promise<SimBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'sidewalk-mqtt-'));
  await chmod(dir, 0o755);
  const pki = await makePki(dir);
  const server = await pki.client('server');
  await Promise.all([pki.client(FLEET_TOOL_USER), ...devices.map((d) => pki.client(d.id))]);
  const port = await freePort();
  const aclFile = join(dir, 'acl');
  await writeFile(aclFile, mosquittoAcl(devices));
  const conf = [
    `listener ${port} 127.0.0.1`,
    'protocol mqtt',
    `cafile ${pki.ca}`,
    `certfile ${server.cert}`,
    `keyfile ${server.key}`,
    'require_certificate true',
    'use_identity_as_username true',
    'tls_version tlsv1.2',
    `acl_file ${aclFile}`,
    'allow_anonymous false',
    `persistence ${options.persistence ? 'true' : 'false'}`,
    `persistence_location ${dir}/db/`,
    'autosave_interval 1',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'max_queued_messages 10000',
  ].join('\n');
  // Started as root, mosquitto drops to its own user: the persistence folder must be writable by it.
  await mkdir(join(dir, 'db'));
  await chmod(join(dir, 'db'), 0o777);
  const confFile = join(dir, 'mosquitto.conf');
  await writeFile(confFile, `${conf}\n`);
  let child: ChildProcess | null = null;
  let output = '';
  const launch = async () => {
    child = spawn('mosquitto', ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const me = child;
    // An exit nobody asked for (stop() clears `child` first) is written to the log the callers print.
    me.once('exit', (code, signal) => {
      if (child === me) output += `\nmosquitto exited unexpectedly (code ${code}, signal ${signal})\n`;
    });
    await waitForTls(port, pki.ca, await pki.client(FLEET_TOOL_USER));
  };
  await launch();
  const stop = async () => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    child = null;
    c.kill('SIGTERM');
    await exited;
  };
  return {
    dir,
    port,
    url: `mqtts://127.0.0.1:${port}`,
    pki,
    async tls(cn) {
      const c = await pki.client(cn);
      return { url: `mqtts://127.0.0.1:${port}`, ca: pki.ca, cert: c.cert, key: c.key };
    },
    async setDevices(list) {
      await Promise.all(list.map((d) => pki.client(d.id)));
      await writeFile(aclFile, mosquittoAcl(list));
      (child as ChildProcess | null)?.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 200));
    },
    stop: async () => {
      await stop();
    },
    restart: launch,
    log: () => output,
  };
}

export async function removeBroker(b: SimBroker): Promise<void> {
  await b.stop();
  await rm(b.dir, { recursive: true, force: true });
}
