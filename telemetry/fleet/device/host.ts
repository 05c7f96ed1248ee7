/**
 * Hosting the fleet agent in the updater daemon (`sidewalk ota daemon --fleet fleet-agent.yaml`): the
 * agent's own config (identity, broker, spool), the real updater backend built from the OTA config,
 * and the runtime health summary read from the runtime's loopback /metrics.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../../../lib/config-file.js';
import type { OtaConfig } from '../../../ota/config.js';
import { createUpdater } from '../../../ota/device.js';
import { nodeFs } from '../../../ota/fs.js';
import { metricsProbe } from '../../../ota/install/health.js';
import { readProvides } from '../../../ota/install/provides.js';
import { VersionStore } from '../../../ota/install/store.js';
import type { ProgressEvent, Updater } from '../../../ota/install/updater.js';
import type { HealthSummary } from '../protocol/messages.js';
import { DEVICE_ID_PATTERN, LOCATION_PATTERN } from '../protocol/topics.js';
import { DeviceAgent } from './agent.js';
import { OtaUpdaterBackend } from './ota-backend.js';
import { EventSpool } from './spool.js';

// The type is derived from the schema (FromSchema), as the runtime's (runtime/config/schema.ts says why).
const agentConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'broker', 'state_dir'],
  properties: {
    device: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'location'],
      properties: { id: { type: 'string', pattern: DEVICE_ID_PATTERN }, location: { type: 'string', pattern: LOCATION_PATTERN } },
    },
    broker: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'ca', 'cert', 'key'],
      properties: { url: { type: 'string', pattern: '^mqtts://' }, ca: { type: 'string', minLength: 1 }, cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
    },
    state_dir: { type: 'string', minLength: 1 },
    spool_max_events: { type: 'integer', minimum: 1, default: 1000 },
    report_interval_s: { type: 'number', minimum: 0, default: 60 },
    /** The runtime's loopback /metrics for the health summary in reported state (null: none). */
    runtime_metrics_url: { type: ['string', 'null'], pattern: '^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])[:/]', default: null },
  },
} as const satisfies JSONSchema;

/** The agent's config (identity, broker, spool and agent state on the data partition), defaults filled in. */
export type AgentConfig = FromSchema<typeof agentConfigSchema>;
const validate = compileConfigSchema<AgentConfig>(agentConfigSchema);

export function loadAgentConfig(path: string): AgentConfig {
  const c = validateConfigObject(validate, readYamlFile(path, 'FLEET_AGENT_CONFIG_UNREADABLE', 'FLEET_AGENT_CONFIG_INVALID'), path, 'FLEET_AGENT_CONFIG_INVALID');
  const abs = (p: string) => resolve(path, '..', p);
  return { ...c, broker: { ...c.broker, ca: abs(c.broker.ca), cert: abs(c.broker.cert), key: abs(c.broker.key) }, state_dir: abs(c.state_dir) };
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => `pid-${process.pid}-${Date.now()}`)).trim();
}

function healthReader(url: string): () => Promise<HealthSummary> {
  const probe = metricsProbe(url);
  return async () => {
    const s = await probe.read();
    return { reachable: true, ready: s.ready, model_version: s.modelVersion, app_version: s.appVersion, confidence: s.confidence, inference_ms: s.inferenceMs, speed_kph: s.speedKph };
  };
}

export type WithUpdater = <T>(onProgress: (e: ProgressEvent) => void, fn: (u: Updater) => Promise<T>) => Promise<T>;

/** Starts the agent for this device; `withUpdater` must be the daemon's own (serialized, locked) one. */
export async function startFleetAgent(
  agentConfigPath: string,
  ota: OtaConfig,
  withUpdater: WithUpdater,
  options: { onReboot?(): void; onDownloaded?(bytes: number): void } = {},
): Promise<DeviceAgent> {
  const c = loadAgentConfig(agentConfigPath);
  const backend = new OtaUpdaterBackend({
    downloadDir: join(ota.state_dir, 'downloads'),
    withUpdater,
    status: async () => (await createUpdater(ota).init()).status(),
    versions: async () => ({
      os: (await readProvides(nodeFs, join(ota.state_dir, 'provides.json'), ota.factory_provides)).current['rootfs-image.version'] ?? null,
      model: await new VersionStore(nodeFs, ota.stores.model, 'model').current(),
      app: await new VersionStore(nodeFs, ota.stores.app, 'app').current(),
    }),
    fetch: { retries: ota.download.retries, backoffMs: ota.download.backoff_s * 1000, maxBackoffMs: ota.download.max_backoff_s * 1000, idleTimeoutMs: ota.download.idle_timeout_s * 1000 },
    ...(options.onDownloaded ? { onDownloaded: options.onDownloaded } : {}),
  });
  const agent = new DeviceAgent({
    device: c.device.id,
    location: c.device.location,
    bootId: await bootId(),
    link: c.broker,
    backend,
    spool: new EventSpool(join(c.state_dir, 'spool'), c.spool_max_events),
    stateFile: join(c.state_dir, 'agent-state.json'),
    ...(c.runtime_metrics_url ? { health: healthReader(c.runtime_metrics_url) } : {}),
    reportIntervalMs: c.report_interval_s * 1000,
    ...(options.onReboot ? { onReboot: options.onReboot } : {}),
  });
  agent.start();
  return agent;
}
