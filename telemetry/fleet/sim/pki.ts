/**
 * A throwaway PKI for a simulated fleet, made with openssl: an EC P-256 CA, a server certificate for
 * 127.0.0.1 and one client certificate per identity (device id or fleet tool as CN). Certificates are
 * made on first use, at most `concurrency` openssl processes at a time: 10,000 devices spawned at once
 * run out of file descriptors (EMFILE). Host-side simulation, never shipped to a device.
 */
import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: string;
  /** Client certificate and key for a CN (made on first use; `server` gets a 127.0.0.1 subjectAltName). */
  client(cn: string): Promise<CertFiles>;
}

/** Runs at most `n` tasks at once, in the order they were queued. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];

export async function makePki(dir: string, options: { caName?: string; concurrency?: number } = {}): Promise<Pki> {
  const openssl = async (args: string[]) => {
    await run('openssl', args, { cwd: dir });
  };
  await openssl(['req', '-x509', ...NEW_EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${options.caName ?? 'sidewalk-test-ca'}`]);
  const limit = limiter(options.concurrency ?? availableParallelism() * 2);
  const made = new Map<string, Promise<CertFiles>>();
  const issue = async (cn: string): Promise<CertFiles> => {
    const base = join(dir, cn);
    const ext = ['-addext', 'basicConstraints=critical,CA:FALSE', ...(cn === 'server' ? ['-addext', 'subjectAltName=IP:127.0.0.1'] : [])];
    await limit(() => openssl(['req', '-x509', ...NEW_EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', `/CN=${cn}`, '-CA', 'ca.crt', '-CAkey', 'ca.key', ...ext]));
    // Readable by mosquitto, which drops root for its own user.
    await chmod(`${base}.key`, 0o644);
    return { cert: `${base}.crt`, key: `${base}.key` };
  };
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    client(cn) {
      let p = made.get(cn);
      if (!p) {
        p = issue(cn);
        made.set(cn, p);
      }
      return p;
    },
  };
}
