/**
 * Payload types and their JSON Schemas, one per topic kind (topics.ts). Every payload is a JSON object;
 * unknown fields are refused so a typo on either side shows up as an invalid message, not a silent no-op.
 */
import type { SchemaObject } from 'ajv';
import { DEVICE_ID_PATTERN, LOCATION_PATTERN, type TopicKind } from './topics.js';

export type ArtifactKind = 'os' | 'model' | 'app';
export type Versions = Record<ArtifactKind, string | null>;

export interface StatusMessage {
  state: 'online' | 'offline';
  /** The device's boot id; with `session` it pairs a last will with the online it belongs to. */
  boot_id: string;
  /** Connection counter within the boot (Sparkplug's bdSeq idea). */
  session: number;
  at_ms?: number;
}

export interface ArtifactRef {
  kind: ArtifactKind;
  name: string;
  version: string;
  url: string;
  size: number;
  sha256: string;
}

interface DesiredBase {
  /** Increases with every desired-state write of the fleet tool; older ones are ignored. */
  generation: number;
  rollout_id: string;
  /** Devices whose cohort (0..99) is below this take part. */
  percent: number;
}
export type DesiredState =
  | (DesiredBase & { mode: 'install'; artifact: ArtifactRef })
  /** Devices running `version` of `kind` go back to their previous one. */
  | (DesiredBase & { mode: 'rollback'; kind: ArtifactKind; version: string });

export type RolloutOutcome = 'in_progress' | 'succeeded' | 'failed' | 'rejected' | 'rolled_back';

export interface RolloutReport {
  rollout_id: string;
  generation: number;
  mode: 'install' | 'rollback';
  outcome: RolloutOutcome;
  /** The step the device is in (or ended in): download, install, health, commit, rollback, ... */
  step: string;
  code: string | null;
  error: string | null;
  at_ms: number;
}

export interface HealthSummary {
  reachable: boolean;
  ready?: boolean;
  model_version?: string | null;
  app_version?: string | null;
  confidence?: number | null;
  inference_ms?: number | null;
  speed_kph?: number | null;
  error?: string;
}

export interface ReportedState {
  device: string;
  location: string;
  cohort: number;
  boot_id: string;
  at_ms: number;
  versions: Versions;
  ota: { state: string; last: { artifact: string; result: 'success' | 'failure'; error: string | null } | null };
  rollout: RolloutReport | null;
  health: HealthSummary | null;
  spool: { queued: number; dropped: number };
}

export type EventStep = 'desired' | 'download' | 'downloaded' | 'install' | 'reboot' | 'committed' | 'in_sync' | 'failed' | 'rejected' | 'rollback' | 'rolled_back';

export interface OtaEvent {
  /** Per-device, persistent across restarts: the fleet tool drops a seq it has already stored. */
  seq: number;
  at_ms: number;
  boot_id: string;
  type: 'ota';
  rollout_id: string;
  generation: number;
  step: EventStep;
  done_bytes?: number;
  total_bytes?: number | null;
  code?: string;
  error?: string;
}

export interface CommandMessage {
  request_id: string;
  args?: Record<string, unknown>;
}

export interface CommandResponse {
  request_id: string;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

export interface PayloadTypes {
  status: StatusMessage;
  reported: ReportedState;
  events: OtaEvent;
  cmd: CommandMessage;
  response: CommandResponse;
  'desired-location': DesiredState;
  'desired-device': DesiredState;
  sync: { nonce: string };
}

const nonEmpty = { type: 'string', minLength: 1, maxLength: 200 } as const;
const nullableString = { type: ['string', 'null'], maxLength: 2000 } as const;
const count = { type: 'integer', minimum: 0 } as const;
const kind = { enum: ['os', 'model', 'app'] } as const;
const version = { type: 'string', pattern: '^[A-Za-z0-9._+-]{1,100}$' } as const;
const rolloutId = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' } as const;

const artifactRef = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'name', 'version', 'url', 'size', 'sha256'],
  properties: {
    kind,
    name: nonEmpty,
    version,
    url: { type: 'string', pattern: '^https?://', maxLength: 2000 },
    size: { type: 'integer', minimum: 1 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  },
} as const;

const desiredBase = {
  generation: { type: 'integer', minimum: 1 },
  rollout_id: rolloutId,
  percent: { type: 'integer', minimum: 0, maximum: 100 },
} as const;

const desired: SchemaObject = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['generation', 'rollout_id', 'percent', 'mode', 'artifact'],
      properties: { ...desiredBase, mode: { const: 'install' }, artifact: artifactRef },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['generation', 'rollout_id', 'percent', 'mode', 'kind', 'version'],
      properties: { ...desiredBase, mode: { const: 'rollback' }, kind, version },
    },
  ],
};

export const SCHEMAS: Record<TopicKind, SchemaObject> = {
  status: {
    type: 'object',
    additionalProperties: false,
    required: ['state', 'boot_id', 'session'],
    properties: { state: { enum: ['online', 'offline'] }, boot_id: nonEmpty, session: count, at_ms: count },
  },
  reported: {
    type: 'object',
    additionalProperties: false,
    required: ['device', 'location', 'cohort', 'boot_id', 'at_ms', 'versions', 'ota', 'rollout', 'health', 'spool'],
    properties: {
      device: { type: 'string', pattern: DEVICE_ID_PATTERN },
      location: { type: 'string', pattern: LOCATION_PATTERN },
      cohort: { type: 'integer', minimum: 0, maximum: 99 },
      boot_id: nonEmpty,
      at_ms: count,
      versions: {
        type: 'object',
        additionalProperties: false,
        required: ['os', 'model', 'app'],
        properties: { os: nullableString, model: nullableString, app: nullableString },
      },
      ota: {
        type: 'object',
        additionalProperties: false,
        required: ['state', 'last'],
        properties: {
          state: nonEmpty,
          last: {
            type: ['object', 'null'],
            additionalProperties: false,
            required: ['artifact', 'result', 'error'],
            properties: { artifact: nonEmpty, result: { enum: ['success', 'failure'] }, error: nullableString },
          },
        },
      },
      rollout: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['rollout_id', 'generation', 'mode', 'outcome', 'step', 'code', 'error', 'at_ms'],
        properties: {
          rollout_id: rolloutId,
          generation: count,
          mode: { enum: ['install', 'rollback'] },
          outcome: { enum: ['in_progress', 'succeeded', 'failed', 'rejected', 'rolled_back'] },
          step: nonEmpty,
          code: nullableString,
          error: nullableString,
          at_ms: count,
        },
      },
      health: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['reachable'],
        properties: {
          reachable: { type: 'boolean' },
          ready: { type: 'boolean' },
          model_version: nullableString,
          app_version: nullableString,
          confidence: { type: ['number', 'null'] },
          inference_ms: { type: ['number', 'null'] },
          speed_kph: { type: ['number', 'null'] },
          error: { type: 'string', maxLength: 2000 },
        },
      },
      spool: { type: 'object', additionalProperties: false, required: ['queued', 'dropped'], properties: { queued: count, dropped: count } },
    },
  },
  events: {
    type: 'object',
    additionalProperties: false,
    required: ['seq', 'at_ms', 'boot_id', 'type', 'rollout_id', 'generation', 'step'],
    properties: {
      seq: { type: 'integer', minimum: 1 },
      at_ms: count,
      boot_id: nonEmpty,
      type: { const: 'ota' },
      rollout_id: rolloutId,
      generation: count,
      step: { enum: ['desired', 'download', 'downloaded', 'install', 'reboot', 'committed', 'in_sync', 'failed', 'rejected', 'rollback', 'rolled_back'] },
      done_bytes: count,
      total_bytes: { type: ['integer', 'null'], minimum: 0 },
      code: { type: 'string', maxLength: 200 },
      error: { type: 'string', maxLength: 2000 },
    },
  },
  cmd: {
    type: 'object',
    additionalProperties: false,
    required: ['request_id'],
    properties: { request_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' }, args: { type: 'object' } },
  },
  response: {
    type: 'object',
    additionalProperties: false,
    required: ['request_id', 'ok'],
    properties: {
      request_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' },
      ok: { type: 'boolean' },
      result: { type: 'object' },
      error: { type: 'object', additionalProperties: false, required: ['code', 'message'], properties: { code: nonEmpty, message: { type: 'string' } } },
    },
  },
  'desired-location': desired,
  'desired-device': desired,
  sync: { type: 'object', additionalProperties: false, required: ['nonce'], properties: { nonce: nonEmpty } },
};
