/** fleet.yaml: how the fleet tool reaches the broker and the artifact host, where it keeps state, default rollout policy. */
import { resolve } from 'node:path';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../../lib/config-file.js';
import { defaultRegistryDir } from '../registry/registry.js';
import { healthPolicySchema } from './health.js';

// The type is derived from the schema (FromSchema), as the runtime's (runtime/config/schema.ts says why).
const fleetConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['broker', 'artifacts'],
  properties: {
    broker: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'ca', 'cert', 'key'],
      properties: {
        url: { type: 'string', pattern: '^mqtts://' },
        ca: { type: 'string', minLength: 1 },
        cert: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1 },
        client_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$', default: 'fleet-tool' },
      },
    },
    state_dir: { type: ['string', 'null'], default: null },
    artifacts: {
      type: 'object',
      additionalProperties: false,
      required: ['publish_dir', 'base_url'],
      properties: { publish_dir: { type: 'string', minLength: 1 }, base_url: { type: 'string', pattern: '^https?://' } },
    },
    build: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        signing_key: { type: ['string', 'null'], default: null },
        device_types: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, default: ['raspberrypi4', 'raspberrypi5'] },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        steps: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 100 }, minItems: 1, default: [5, 25, 100] },
        min_finished: { type: 'integer', minimum: 0, default: 3 },
        soak_s: { type: 'number', minimum: 0, default: 3600 },
        max_failure_percent: { type: 'number', minimum: 0, maximum: 100, default: 10 },
        min_devices_before_decision: { type: 'integer', minimum: 1, default: 3 },
        in_progress_timeout_s: { type: 'number', minimum: 1, default: 7200 },
        auto_advance: { type: 'boolean', default: false },
        health: { ...healthPolicySchema, default: {} },
      },
    },
    prometheus: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['url'],
      default: null,
      properties: { url: { type: 'string', pattern: '^https?://' }, timeout_s: { type: 'number', exclusiveMinimum: 0, default: 10 } },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, nullable: true, default: 9464 },
      },
    },
  },
} as const satisfies JSONSchema;

/**
 * fleet.yaml with its defaults filled in. state_dir: folder of fleet.db (null: the model registry's);
 * build: the key `deploy --model` signs artifacts with and the device types they are for.
 */
export type FleetConfig = FromSchema<typeof fleetConfigSchema>;
const validate = compileConfigSchema<FleetConfig>(fleetConfigSchema);

export const DEFAULT_FLEET_CONFIG = process.env.SIDEWALK_FLEET_CONFIG ?? 'fleet.yaml';

export function loadFleetConfig(path: string): FleetConfig {
  const c = validateConfigObject(validate, readYamlFile(path, 'FLEET_CONFIG_UNREADABLE', 'FLEET_CONFIG_INVALID'), path, 'FLEET_CONFIG_INVALID');
  const base = resolve(path, '..');
  const abs = (p: string) => resolve(base, p);
  return {
    ...c,
    broker: { ...c.broker, ca: abs(c.broker.ca), cert: abs(c.broker.cert), key: abs(c.broker.key) },
    state_dir: c.state_dir ? abs(c.state_dir) : null,
    artifacts: { ...c.artifacts, publish_dir: abs(c.artifacts.publish_dir) },
    build: { ...c.build, signing_key: c.build.signing_key ? abs(c.build.signing_key) : null },
  };
}

/** The model registry's folder, where fleet.db lives too. */
export function registryDir(c: FleetConfig): string {
  return c.state_dir ?? defaultRegistryDir();
}

export function fleetDbPath(c: FleetConfig): string {
  return resolve(registryDir(c), 'fleet.db');
}
