/**
 * A real Mosquitto for fleet tests: a throwaway PKI made with openssl (CA, server certificate for
 * 127.0.0.1, one client certificate per device with the device id as CN, one for the fleet tool),
 * a TLS-only listener on a free loopback port with require_certificate + use_identity_as_username,
 * and the fleet ACL (telemetry/fleet/acl.ts). Not a test file.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FLEET_TOOL_USER, mosquittoAcl } from '../../../telemetry/fleet/acl.js';
import type { TlsFiles } from '../../../telemetry/fleet/link.js';
import { freePort } from '../../helpers/service-process.js';
import { makeTempDir } from '../../helpers/temp.js';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  ca: string;
  /** Client certificate and key for a CN (made on first use). */
  client(cn: string): Promise<{ cert: string; key: string }>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** EC P-256 CA, server and client certificates; one openssl process per certificate. */
export async function makePki(dir: string, caName = 'sidewalk-test-ca'): Promise<Pki> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${caName}`], dir);
  const made = new Map<string, Promise<{ cert: string; key: string }>>();
  const issue = async (cn: string, ext: string[]): Promise<{ cert: string; key: string }> => {
    const base = join(dir, cn);
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '2', '-subj', `/CN=${cn}`, '-CA', 'ca.crt', '-CAkey', 'ca.key', ...ext], dir);
    await chmod(`${base}.key`, 0o644);
    return { cert: `${base}.crt`, key: `${base}.key` };
  };
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    client(cn: string) {
      let p = made.get(cn);
      if (!p) {
        const ext = cn === 'server' ? ['-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE'] : ['-addext', 'basicConstraints=critical,CA:FALSE'];
        p = issue(cn, ext);
        made.set(cn, p);
      }
      return p;
    },
  };
}

export interface TestBroker {
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

export async function startBroker(devices: { id: string; location: string }[], options: { persistence?: boolean } = {}): Promise<TestBroker> {
  const dir = await makeTempDir('sidewalk-mqtt-');
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
    await waitForTls(port, pki.ca, await pki.client(FLEET_TOOL_USER));
  };
  await launch();
  const stop = async () => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
    child = null;
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

export async function removeBroker(b: TestBroker): Promise<void> {
  await b.stop();
  await rm(b.dir, { recursive: true, force: true });
}
