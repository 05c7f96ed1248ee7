/**
 * The updater's configuration (/etc/sidewalk/ota.yaml): one YAML file, one JSON Schema with the
 * defaults. Every violation is reported as `path: message` before anything is touched.
 */
import { dirname, join, resolve } from 'node:path';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { SidewalkError } from '../lib/errors.js';
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../lib/config-file.js';
import { schemaDefaults } from '../lib/schema-defaults.js';

export const DEFAULT_CONFIG_PATH = '/etc/sidewalk/ota.yaml';

const nonNeg = { type: 'number', minimum: 0 } as const;
const argv = { type: 'array', items: { type: 'string' }, minItems: 1 } as const;

// The type is derived from the schema (FromSchema), as the runtime's (runtime/config/schema.ts says why).
function healthSchema<D extends { window_s: number; ready_timeout_s: number }>(defaults: D) {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      ready_timeout_s: { ...nonNeg, default: defaults.ready_timeout_s, description: 'How long the runtime may take to report ready (with the new version).' },
      window_s: { ...nonNeg, default: defaults.window_s, description: 'How long it must then stay healthy.' },
      poll_s: { type: 'number', exclusiveMinimum: 0, default: 2 },
      stale_after_s: { type: 'number', exclusiveMinimum: 0, default: 5, description: 'A decision older than this fails the window.' },
      max_restarts: { type: 'integer', minimum: 0, default: 0, description: 'Runtime restarts tolerated in the window (more = crash loop).' },
      max_unreadable: { type: 'integer', minimum: 0, default: 3, description: 'Consecutive failed status reads tolerated.' },
      min_confidence: { type: 'number', minimum: 0, maximum: 1, nullable: true, default: null },
      max_inference_ms: { type: 'number', exclusiveMinimum: 0, nullable: true, default: null },
      commands: { type: 'array', items: argv, default: [], description: 'Extra checks (argv lists); each must exit 0.' },
    },
  } as const satisfies JSONSchema;
}

const slotSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['boot_partition', 'boot_device', 'root_device'],
  properties: {
    boot_partition: { type: 'integer', minimum: 1, maximum: 63 },
    boot_device: { type: 'string', minLength: 1 },
    root_device: { type: 'string', minLength: 1 },
  },
} as const satisfies JSONSchema;

export const otaConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['device_type'],
  properties: {
    device_type: { type: 'string', minLength: 1, description: "Matched against artifacts' device_type (e.g. raspberrypi4)." },
    state_dir: { type: 'string', default: '/var/lib/sidewalk/ota', description: 'OTA state on the data partition: journal, provides, downloads, inbox.' },
    stores: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        model: { type: 'string', default: '/var/lib/sidewalk/models', description: 'Model store; the runtime loads <model>/current (runtime.yaml model.bundle).' },
        app: { type: 'string', default: '/var/lib/sidewalk/app', description: 'App store; the runtime runs from <app>/current.' },
      },
    },
    keys: { type: 'array', items: { type: 'string' }, default: [], description: 'PEM public key files that may sign artifacts.' },
    allow_unsigned: { type: 'boolean', default: false },
    factory_provides: {
      type: 'object',
      additionalProperties: { type: 'string' },
      default: {},
      description: 'What the factory image provides until the first commit writes provides.json (artifact_name, rootfs-image.version, rootfs-image.sidewalk-app.version, ...).',
    },
    boot: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        backend: { enum: ['real', 'simulated', 'none'], default: 'real' },
        selector_dir: { type: 'string', default: '/boot/selector', description: 'Mount point of the FAT partition holding autoboot.txt.' },
        selector_device: {
          type: 'string',
          nullable: true,
          default: null,
          description:
            'Raw block device of the FAT selector partition (e.g. /dev/disk/by-partuuid/ab12cd34-01); when set, autoboot.txt is committed by rewriting its one data sector in place (power-safe), and the partition must not be mounted read-write. Simulated backend: a FAT image file used as the selector.',
        },
        dt_root: { type: 'string', default: '/proc/device-tree' },
        tryboot_method: { enum: ['vcmailbox', 'reboot-arg'], default: 'vcmailbox' },
        simulated_dir: { type: 'string', nullable: true, default: null, description: 'Folder of a simulated disk (backend: simulated).' },
        slots: {
          type: 'object',
          nullable: true,
          default: null,
          additionalProperties: false,
          required: ['A', 'B'],
          properties: { A: slotSchema, B: slotSchema },
        },
        verify_slot: {
          enum: ['sampled', 'full', 'off'],
          default: 'sampled',
          description:
            "How a written OS slot is read back after its fsync (with O_DIRECT, or after dropping its cached pages, so the card is read, not memory): sampled = 16 x 256 KiB ranges (the first and the last included) hashed while writing, catches fake-capacity and dying cards for a fraction of a full pass; full = the whole image against the artifact's sha256 (a second hash pass, ~40% of install time on a Pi 4); off = no read-back. The artifact's signed checksum is checked while streaming in every case.",
        },
      },
    },
    runtime: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        source: { enum: ['metrics', 'status-file'], default: 'metrics' },
        metrics_url: { type: 'string', default: 'http://127.0.0.1:9101/metrics' },
        status_file: { type: 'string', default: '/run/sidewalk/status.json' },
        reload_command: { ...argv, default: ['systemctl', 'reload-or-restart', 'sidewalk-runtime.service'] },
        restart_command: { ...argv, default: ['systemctl', 'restart', 'sidewalk-runtime.service'] },
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        os: healthSchema({ ready_timeout_s: 180, window_s: 60 }),
        model: healthSchema({ ready_timeout_s: 60, window_s: 120 }),
        app: healthSchema({ ready_timeout_s: 90, window_s: 120 }),
      },
    },
    lock: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_speed_kph: { ...nonNeg, default: 1, description: 'Above this speed the scooter counts as moving: no install, switch or reboot.' },
        poll_s: { type: 'number', exclusiveMinimum: 0, default: 5 },
        timeout_s: { ...nonNeg, default: 0, description: 'Give up after waiting this long for the scooter to stop (0 = wait forever).' },
        unknown_speed_is_moving: { type: 'boolean', default: false },
      },
    },
    download: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        retries: { type: 'integer', minimum: 0, default: 8 },
        backoff_s: { type: 'number', exclusiveMinimum: 0, default: 2 },
        max_backoff_s: { type: 'number', exclusiveMinimum: 0, default: 300 },
        idle_timeout_s: { type: 'number', exclusiveMinimum: 0, default: 60 },
      },
    },
    daemon: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        inbox_dir: { type: 'string', nullable: true, default: null, description: 'Artifacts (*.mender) or URLs (*.url) dropped here are installed (default <state_dir>/inbox).' },
        poll_s: { type: 'number', exclusiveMinimum: 0, default: 30 },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: "The daemon's Prometheus /metrics (OTA state, last result, downloads, install durations, rollbacks), scraped by the device's metrics agent.",
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Keep it on loopback: the agent scrapes it locally.' },
        port: { type: 'integer', minimum: 0, maximum: 65535, nullable: true, default: 9102, description: 'null = not served; 0 = any free port.' },
      },
    },
  },
} as const satisfies JSONSchema;

/** A validated updater config: every default filled in. */
export type OtaConfig = FromSchema<typeof otaConfigSchema>;
export type HealthConfig = OtaConfig['health']['os'];
export type SlotYaml = NonNullable<OtaConfig['boot']['slots']>['A'];

const validate = compileConfigSchema<OtaConfig>(otaConfigSchema);

/** The schema's defaults, for code that runs without a loaded config (e.g. a download started by a test). */
export const OTA_DEFAULTS = schemaDefaults(otaConfigSchema) as OtaConfig;

export function validateOtaConfig(raw: unknown, source = 'ota config'): OtaConfig {
  const data = validateConfigObject(validate, raw, source);
  if (data.boot.backend === 'real' && data.boot.slots === null) {
    throw new SidewalkError('CONFIG_INVALID', `${source} is invalid:\n  boot.slots: required when boot.backend is real`, { details: { problems: ['boot.slots: required when boot.backend is real'] } });
  }
  if (data.boot.backend === 'simulated' && data.boot.simulated_dir === null) {
    throw new SidewalkError('CONFIG_INVALID', `${source} is invalid:\n  boot.simulated_dir: required when boot.backend is simulated`, {
      details: { problems: ['boot.simulated_dir: required when boot.backend is simulated'] },
    });
  }
  data.daemon.inbox_dir ??= join(data.state_dir, 'inbox');
  return data;
}

/** Reads the YAML file; relative paths in it resolve against its folder. */
export function loadOtaConfig(path: string): OtaConfig {
  const raw = readYamlFile(path) as Record<string, unknown> | null;
  const base = dirname(resolve(path));
  const c = validateOtaConfig(raw, path);
  const abs = (p: string) => resolve(base, p);
  c.state_dir = abs(c.state_dir);
  c.stores.model = abs(c.stores.model);
  c.stores.app = abs(c.stores.app);
  c.daemon.inbox_dir = (raw?.daemon as Record<string, unknown> | undefined)?.inbox_dir ? abs(c.daemon.inbox_dir!) : join(c.state_dir, 'inbox');
  c.keys = c.keys.map(abs);
  c.boot.selector_dir = abs(c.boot.selector_dir);
  if (c.boot.selector_device) c.boot.selector_device = abs(c.boot.selector_device);
  if (c.boot.simulated_dir) c.boot.simulated_dir = abs(c.boot.simulated_dir);
  c.runtime.status_file = abs(c.runtime.status_file);
  return c;
}
