/**
 * Renders the on-device Prometheus agent config (telemetry/prometheus/agent.yml.tmpl, shipped in the
 * image as /etc/prometheus/sidewalk-agent.yml.tmpl) for one device at provisioning time. Every value
 * is checked here, at the boundary, and written as a quoted YAML scalar, so a device id or location
 * can never inject YAML.
 */
import { readFile } from 'node:fs/promises';
import { SidewalkError } from '../lib/errors.js';

/** Where the image ships the template and where the unit reads the rendered config (on the data partition). */
export const DEVICE_AGENT_TEMPLATE = '/etc/prometheus/sidewalk-agent.yml.tmpl';
export const DEVICE_AGENT_CONFIG = '/var/lib/sidewalk/device/prometheus-agent.yml';
/** Loopback ports of the runtime's and the updater's /metrics. */
export const RUNTIME_METRICS_TARGET = '127.0.0.1:9101';
export const UPDATER_METRICS_TARGET = '127.0.0.1:9102';

export interface AgentConfigValues {
  device: string;
  location: string;
  /** The fleet Prometheus' remote-write endpoint, e.g. https://metrics.example/api/v1/write. */
  remoteWriteUrl: string;
  runtimeTarget?: string;
  updaterTarget?: string;
  /** Prometheus duration, e.g. "15s" (tests use "1s"). */
  scrapeInterval?: string;
  /**
   * TLS for an https remote_write URL: the fleet CA and this device's client certificate (the one it
   * uses for MQTT, CN = device id; the fleet Prometheus requires it: prometheus/fleet-web.yml).
   * Without it the agent trusts the system CAs and sends no client certificate.
   */
  remoteWriteTls?: { caFile: string; certFile: string; keyFile: string };
}

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a location may not hold.
const LOCATION = /^[^\u0000-\u001f\u007f]{1,64}$/;
const TARGET = /^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/;
const DURATION = /^[1-9]\d{0,4}(ms|s|m)$/;

function check(field: string, value: unknown, ok: (v: string) => boolean, what: string): string {
  if (typeof value !== 'string' || !ok(value)) {
    throw new SidewalkError('TELEMETRY_AGENT_CONFIG_INVALID', `agent config: ${field} ${JSON.stringify(value)} is not ${what}`, { details: { field } });
  }
  return value;
}

function remoteWriteUrl(value: unknown): string {
  return check(
    'remoteWriteUrl',
    value,
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
      } catch {
        return false;
      }
    },
    'an http(s) URL without credentials',
  );
}

const BARE = new Set(['SCRAPE_INTERVAL', 'SEND_DEADLINE', 'MIN_BACKOFF', 'REMOTE_WRITE_TLS']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a path may not hold.
const FILE = /^\/[^\u0000-\u001f\u007f]{1,255}$/;

/** The remote_write tls_config as a YAML flow mapping (JSON): `{}` = system CAs, no client certificate. */
function remoteWriteTls(values: AgentConfigValues, url: string): string {
  const t = values.remoteWriteTls;
  if (t === undefined) return '{}';
  if (!url.startsWith('https:')) {
    throw new SidewalkError('TELEMETRY_AGENT_CONFIG_INVALID', `agent config: remoteWriteTls is set but remoteWriteUrl ${JSON.stringify(url)} is not https`, { details: { field: 'remoteWriteTls' } });
  }
  const file = (field: string, v: unknown) => check(`remoteWriteTls.${field}`, v, (x) => FILE.test(x), 'an absolute file path');
  return JSON.stringify({ ca_file: file('caFile', t.caFile), cert_file: file('certFile', t.certFile), key_file: file('keyFile', t.keyFile) });
}

/** Fills the template; throws TELEMETRY_AGENT_CONFIG_INVALID for a bad value or a placeholder left unfilled. */
export function renderAgentConfig(template: string, values: AgentConfigValues): string {
  const interval = check('scrapeInterval', values.scrapeInterval ?? '15s', (v) => DURATION.test(v), 'a duration like 15s');
  const fast = interval.endsWith('ms') || (interval.endsWith('s') && Number.parseInt(interval, 10) < 5);
  const fill: Record<string, string> = {
    DEVICE: check('device', values.device, (v) => DEVICE_ID.test(v), 'a device id (letters, digits, ".", "_", "-"; at most 63)'),
    LOCATION: check('location', values.location, (v) => LOCATION.test(v), 'one line of 1..64 characters'),
    REMOTE_WRITE_URL: remoteWriteUrl(values.remoteWriteUrl),
    REMOTE_WRITE_TLS: remoteWriteTls(values, values.remoteWriteUrl),
    RUNTIME_TARGET: check('runtimeTarget', values.runtimeTarget ?? RUNTIME_METRICS_TARGET, (v) => TARGET.test(v), 'a loopback host:port'),
    UPDATER_TARGET: check('updaterTarget', values.updaterTarget ?? UPDATER_METRICS_TARGET, (v) => TARGET.test(v), 'a loopback host:port'),
    SCRAPE_INTERVAL: interval,
    // Short intervals (tests) also send and retry quickly; on a device batching saves radio time.
    SEND_DEADLINE: fast ? '1s' : '30s',
    MIN_BACKOFF: fast ? '100ms' : '5s',
  };
  const out = template.replace(/@([A-Z_]+)@/g, (whole, name: string) => {
    const v = fill[name];
    if (v === undefined) throw new SidewalkError('TELEMETRY_AGENT_TEMPLATE_INVALID', `agent config template: unknown placeholder ${whole}`);
    // Durations and the TLS mapping (already JSON, valid YAML flow style) stay bare; everything else is
    // a JSON string, which is a valid YAML double-quoted scalar.
    return BARE.has(name) ? v : JSON.stringify(v);
  });
  return out;
}

export async function renderAgentConfigFile(templatePath: string, values: AgentConfigValues): Promise<string> {
  return renderAgentConfig(await readFile(templatePath, 'utf8'), values);
}
