/**
 * First-boot provisioning (sidewalk-provision.service runs `sidewalk provision` at every boot).
 * Reads sidewalk-provision.yaml from boot slot A's FAT partition, checks every field, then writes the
 * device identity and secrets to the data partition with tight modes, each file by temp + fsync +
 * rename, the "provisioned" marker last; only then the secrets leave the FAT partition (the file is
 * replaced by a copy without them). A power cut at any point leaves either the old state or the new one,
 * and the file stays on FAT until its content is safely on the data partition.
 * Missing or invalid file on a card never provisioned: the runtime gets a monitor-mode config (never
 * actuates, the limiter stays at its fail-safe) and the command fails with a coded error in the journal.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDocument, stringify, parse } from 'yaml';
import { isSidewalkError, SidewalkError } from '../lib/errors.js';
import { DEVICE_AGENT_CONFIG, DEVICE_AGENT_TEMPLATE, renderAgentConfigFile } from '../telemetry/agent-config.js';
import {
  DEVICE_AGENT_CA,
  DEVICE_DIR,
  DEVICE_RUNTIME_CONFIG,
  PROVISION_DONE_FILE,
  PROVISION_FILE,
  PROVISION_STATUS,
  PROVISIONED_MARKER,
  SECRETS_DIR,
  SERVICE_USER,
  WIFI_CONFIG,
  dataPathOf,
} from './device-paths.js';

export interface ProvisionRecord {
  deviceId: string;
  location: string;
  wifi: { ssid: string; psk: string; country: string } | null;
  broker: { url: string; caPem: string };
  credentials: { kind: 'certificate'; certPem: string; keyPem: string } | { kind: 'password'; username: string; password: string };
  /** The fleet Prometheus the on-device agent remote_writes to; null: no metrics agent. */
  metrics: { remoteWriteUrl: string; caPem: string | null } | null;
}

export interface ProvisionOptions {
  bootDir: string;
  dataDir: string;
  /** The image's runtime config (/etc/sidewalk/runtime.yaml): the per-device copy starts from it. */
  runtimeConfig: string;
  /** Where the service group's id is looked up (/etc/group). */
  groupFile?: string;
  /** The agent config template on the image (/etc/prometheus/sidewalk-agent.yml.tmpl). */
  agentTemplate?: string;
  now?: () => Date;
}

export type ProvisionOutcome = { state: 'provisioned'; deviceId: string } | { state: 'already-provisioned'; deviceId: string };

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const BROKER_URL = /^(mqtts?|wss?):\/\/[^\s/]+/;

/** Validates the provisioning file's parsed YAML; every problem names its field. */
export function parseProvisionFile(raw: unknown, source: string): ProvisionRecord {
  const problems: string[] = [];
  const obj = (v: unknown, field: string): Record<string, unknown> => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    problems.push(`${field}: must be a mapping`);
    return {};
  };
  const str = (o: Record<string, unknown>, key: string, field: string, test?: (s: string) => string | null): string => {
    const v = o[key];
    if (typeof v !== 'string' || v.trim() === '') {
      problems.push(`${field}: required text`);
      return '';
    }
    const why = test?.(v) ?? null;
    if (why) problems.push(`${field}: ${why}`);
    return v;
  };
  const top = obj(raw, '(file)');
  const deviceId = str(top, 'device_id', 'device_id', (s) => (DEVICE_ID.test(s) ? null : 'letters, digits, ".", "_" or "-", at most 63, starting with a letter or digit'));
  const location = str(top, 'location', 'location', (s) => (s.length <= 64 && !/[\n\r]/.test(s) ? null : 'one line of at most 64 characters'));
  let wifi: ProvisionRecord['wifi'] = null;
  if (top.wifi !== undefined) {
    const w = obj(top.wifi, 'wifi');
    const ssid = str(w, 'ssid', 'wifi.ssid', (s) => (Buffer.byteLength(s) <= 32 && !/["\n\r\\]/.test(s) ? null : 'at most 32 bytes, no quotes, backslashes or line breaks'));
    const psk = str(w, 'psk', 'wifi.psk', (s) =>
      (/^[\x20-\x7e]{8,63}$/.test(s) && !/["\\]/.test(s)) || /^[0-9a-fA-F]{64}$/.test(s) ? null : '8 to 63 printable ASCII characters (no quotes or backslashes) or 64 hex digits',
    );
    const country = str(w, 'country', 'wifi.country', (s) => (/^[A-Z]{2}$/.test(s) ? null : 'two capital letters (ISO 3166-1, e.g. US)'));
    wifi = { ssid, psk, country };
  }
  const b = obj(top.broker, 'broker');
  const url = str(b, 'url', 'broker.url', (s) => (BROKER_URL.test(s) ? null : 'mqtt://, mqtts://, ws:// or wss:// URL'));
  const caPem = str(b, 'ca_pem', 'broker.ca_pem', (s) => (certificate(s) ? null : 'not a PEM X.509 certificate'));
  const c = obj(top.credentials, 'credentials');
  let credentials: ProvisionRecord['credentials'];
  if (c.client_cert_pem !== undefined || c.client_key_pem !== undefined) {
    const certPem = str(c, 'client_cert_pem', 'credentials.client_cert_pem', (s) => (certificate(s) ? null : 'not a PEM X.509 certificate'));
    const keyPem = str(c, 'client_key_pem', 'credentials.client_key_pem', (s) => (privateKey(s) ? null : 'not a PEM private key'));
    const cert = certificate(certPem);
    const key = privateKey(keyPem);
    if (cert && key && !cert.checkPrivateKey(key)) problems.push('credentials.client_key_pem: does not match client_cert_pem');
    credentials = { kind: 'certificate', certPem, keyPem };
  } else {
    const username = str(c, 'username', 'credentials.username (or client_cert_pem + client_key_pem)');
    const password = str(c, 'password', 'credentials.password', (s) => (s.length >= 12 ? null : 'at least 12 characters'));
    credentials = { kind: 'password', username, password };
  }
  let metrics: ProvisionRecord['metrics'] = null;
  if (top.metrics !== undefined) {
    const m = obj(top.metrics, 'metrics');
    const remoteWriteUrl = str(m, 'remote_write_url', 'metrics.remote_write_url', (s) => (httpUrl(s) ? null : 'an http:// or https:// URL without user or password'));
    const caPem = m.ca_pem === undefined ? null : str(m, 'ca_pem', 'metrics.ca_pem', (s) => (certificate(s) ? null : 'not a PEM X.509 certificate'));
    metrics = { remoteWriteUrl, caPem };
  }
  if (problems.length > 0) {
    throw new SidewalkError('PROVISION_INVALID', `${source}: ${problems.join('; ')}`, { details: { problems } });
  }
  return { deviceId, location, wifi, broker: { url, caPem }, credentials, metrics };
}

function httpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

function certificate(pem: string): X509Certificate | null {
  try {
    return pem.includes('-----BEGIN CERTIFICATE-----') ? new X509Certificate(pem) : null;
  } catch {
    return null;
  }
}

function privateKey(pem: string): ReturnType<typeof createPrivateKey> | null {
  try {
    return createPrivateKey(pem);
  } catch {
    return null;
  }
}

export async function provision(o: ProvisionOptions): Promise<ProvisionOutcome> {
  const now = (o.now ?? (() => new Date()))().toISOString();
  const filePath = join(o.bootDir, PROVISION_FILE);
  const marker = join(o.dataDir, PROVISIONED_MARKER);
  const provisioned = existsSync(marker) ? readFileSync(marker, 'utf8').split('\n')[0]!.trim() : null;
  let record: ProvisionRecord;
  try {
    if (!existsSync(filePath)) {
      if (provisioned !== null) return { state: 'already-provisioned', deviceId: provisioned };
      throw new SidewalkError('PROVISION_MISSING', `${filePath}: no provisioning file on the boot partition`);
    }
    let raw: unknown;
    try {
      raw = parse(await readFile(filePath, 'utf8'));
    } catch (err) {
      throw new SidewalkError('PROVISION_INVALID', `${filePath}: not YAML (${(err as Error).message.split('\n')[0]})`);
    }
    record = parseProvisionFile(raw, filePath);
  } catch (caught) {
    const err = isSidewalkError(caught) ? caught : new SidewalkError('PROVISION_UNREADABLE', `${filePath}: ${(caught as Error).message}`);
    if (provisioned !== null) {
      // A bad new file never undoes a good provisioning; it stays on FAT for the operator to fix.
      throw new SidewalkError(err.code, `${err.message}; keeping the current provisioning of ${provisioned}`);
    }
    await enterUnprovisioned(o, now, err);
    throw new SidewalkError(err.code, `${err.message}; the scooter stays unprovisioned: runtime in monitor mode, limiter at its fail-safe`);
  }

  // Rendered before anything is written: a config the agent cannot use leaves the card as it was.
  const agent = record.metrics ? await agentConfig(o.agentTemplate ?? DEVICE_AGENT_TEMPLATE, record, filePath) : null;
  const gid = serviceGid(o.groupFile ?? '/etc/group');
  await mkdir(join(o.dataDir, DEVICE_DIR), { recursive: true, mode: 0o755 });
  await mkdir(join(o.dataDir, SECRETS_DIR), { recursive: true, mode: 0o750 });
  await setOwner(join(o.dataDir, SECRETS_DIR), 0, gid, 0o750);
  const secret = (name: string, text: string) => writeAtomic(join(o.dataDir, SECRETS_DIR, name), text, 0o640, gid);
  await secret('broker-ca.pem', record.broker.caPem);
  if (record.credentials.kind === 'certificate') {
    await secret('client.crt', record.credentials.certPem);
    await secret('client.key', record.credentials.keyPem);
    for (const stale of ['mqtt-username', 'mqtt-password']) await rm(join(o.dataDir, SECRETS_DIR, stale), { force: true });
  } else {
    await secret('mqtt-username', `${record.credentials.username}\n`);
    await secret('mqtt-password', `${record.credentials.password}\n`);
    for (const stale of ['client.crt', 'client.key']) await rm(join(o.dataDir, SECRETS_DIR, stale), { force: true });
  }
  if (record.wifi) await writeAtomic(join(o.dataDir, WIFI_CONFIG), wpaConfig(record.wifi), 0o600, 0);
  const identity = { device_id: record.deviceId, location: record.location, broker_url: record.broker.url, provisioned_at: now };
  await writeAtomic(join(o.dataDir, DEVICE_DIR, 'identity.yaml'), stringify(identity), 0o644, 0);
  await writeAtomic(join(o.dataDir, DEVICE_RUNTIME_CONFIG), await runtimeConfig(o.runtimeConfig, { id: record.deviceId, location: record.location }), 0o644, 0);
  await writeAgentConfig(o.dataDir, agent, record.metrics?.caPem ?? null, gid);
  await writeAtomic(join(o.dataDir, PROVISION_STATUS), `${JSON.stringify({ state: 'provisioned', device_id: record.deviceId, at: now })}\n`, 0o644, 0);
  await writeAtomic(marker, `${record.deviceId}\n${now}\n`, 0o644, 0);

  // Only now the secrets leave FAT: a copy without them first, then the original goes.
  await writeAtomic(join(o.bootDir, PROVISION_DONE_FILE), `# provisioned ${now}; secrets moved to the data partition\n${stringify(identity)}`, 0o600, null);
  await rm(filePath);
  fsyncDir(o.bootDir);
  return { state: 'provisioned', deviceId: record.deviceId };
}

async function enterUnprovisioned(o: ProvisionOptions, now: string, err: SidewalkError): Promise<void> {
  await mkdir(join(o.dataDir, DEVICE_DIR), { recursive: true, mode: 0o755 });
  await writeAtomic(join(o.dataDir, DEVICE_RUNTIME_CONFIG), await runtimeConfig(o.runtimeConfig, { id: 'unprovisioned', mode: 'monitor' }), 0o644, 0);
  await writeAtomic(join(o.dataDir, PROVISION_STATUS), `${JSON.stringify({ state: 'unprovisioned', code: err.code, reason: err.message, at: now })}\n`, 0o644, 0);
}

/** The image's runtime config with this device's fields; comments kept. */
async function runtimeConfig(path: string, set: { id: string; location?: string; mode?: string }): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new SidewalkError('PROVISION_RUNTIME_CONFIG', `${path}: cannot read the image's runtime config`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new SidewalkError('PROVISION_RUNTIME_CONFIG', `${path}: not YAML (${doc.errors[0]!.message})`);
  doc.setIn(['device', 'id'], set.id);
  if (set.location !== undefined) doc.setIn(['device', 'location'], set.location);
  if (set.mode !== undefined) doc.set('mode', set.mode);
  const header = set.mode === 'monitor' ? '# NOT PROVISIONED: monitor mode until a valid sidewalk-provision.yaml is on the boot partition.\n' : `# Provisioned for ${set.id}.\n`;
  return `${header}# Written by \`sidewalk provision\` from ${path}.\n${doc.toString()}`;
}

/** The Prometheus agent's config for this device (telemetry/agent-config.ts), with the fleet's CA when given. */
async function agentConfig(template: string, record: ProvisionRecord, source: string): Promise<string> {
  const metrics = record.metrics!;
  let text: string;
  try {
    text = await renderAgentConfigFile(template, { device: record.deviceId, location: record.location, remoteWriteUrl: metrics.remoteWriteUrl });
  } catch (err) {
    if (isSidewalkError(err) && err.code === 'TELEMETRY_AGENT_CONFIG_INVALID') throw new SidewalkError('PROVISION_INVALID', `${source}: metrics: ${err.message}`);
    throw new SidewalkError('PROVISION_AGENT_TEMPLATE', `${template}: cannot render the metrics agent config: ${(err as Error).message}`);
  }
  if (metrics.caPem === null) return text;
  const doc = parseDocument(text);
  doc.setIn(['remote_write', 0, 'tls_config', 'ca_file'], DEVICE_AGENT_CA);
  return doc.toString();
}

/** On the data partition under the agent's own paths (/var/lib/sidewalk is /data/sidewalk); none without a metrics section. */
async function writeAgentConfig(dataDir: string, config: string | null, caPem: string | null, gid: number): Promise<void> {
  const configPath = join(dataDir, dataPathOf(DEVICE_AGENT_CONFIG));
  const caPath = join(dataDir, dataPathOf(DEVICE_AGENT_CA));
  if (config === null) {
    for (const stale of [configPath, caPath]) await rm(stale, { force: true });
    return;
  }
  await mkdir(dirname(configPath), { recursive: true, mode: 0o755 });
  if (caPem !== null) await writeAtomic(caPath, caPem, 0o644, 0);
  else await rm(caPath, { force: true });
  // Readable by the agent (User=sidewalk), by nobody else: the remote-write URL may carry a token path.
  await writeAtomic(configPath, config, 0o640, gid);
}

function wpaConfig(w: NonNullable<ProvisionRecord['wifi']>): string {
  const psk = /^[0-9a-fA-F]{64}$/.test(w.psk) ? w.psk : `"${w.psk}"`;
  return `ctrl_interface=DIR=/run/wpa_supplicant GROUP=netdev\nupdate_config=0\ncountry=${w.country}\n\nnetwork={\n\tssid="${w.ssid}"\n\tpsk=${psk}\n\tkey_mgmt=WPA-PSK\n}\n`;
}

function serviceGid(groupFile: string): number {
  try {
    for (const line of readFileSync(groupFile, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === SERVICE_USER && f[2]) return Number(f[2]);
    }
  } catch {
    // No group file: root only.
  }
  return 0;
}

/** Owners can only be set by root; as another user (tests) the files stay the caller's, modes still apply. */
async function setOwner(path: string, uid: number, gid: number | null, mode: number): Promise<void> {
  if (gid !== null && process.getuid?.() === 0) await chown(path, uid, gid);
  await chmod(path, mode);
}

async function writeAtomic(path: string, text: string, mode: number, gid: number | null): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await setOwner(tmp, 0, gid, mode);
  await rename(tmp, path);
  fsyncDir(dirname(path));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
