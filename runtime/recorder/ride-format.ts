/**
 * The ride recording format ("sidewalk-ride/1"), defined once for the runtime's record mode (writer)
 * and the host's ingest (reader). A ride is a folder:
 *   ride.json       RideMeta: written with status "recording" when the ride starts and rewritten
 *                   atomically (tmp + fsync + rename) with status "complete" when it is closed, so a
 *                   ride that was cut off (power loss) or is still uploading is recognisable.
 *   frames/         000000.jpg, 000001.jpg, ... (frames.kind "jpeg"), or one video file (kind "video")
 *   sensors.jsonl   one JSON object per line: a record per frame (with `frame`) and/or extra
 *                   samples between frames (without `frame`); see SensorRecord.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { lazyValidator } from '../../lib/config-file.js';

export const RIDE_FORMAT = 'sidewalk-ride/1';
export const RIDE_META_FILE = 'ride.json';
export const SENSORS_FILE = 'sensors.jsonl';
export const FRAMES_DIR = 'frames';

export type RideStatus = 'recording' | 'complete';

export type RideFrames = { kind: 'jpeg'; dir: string; count: number; width?: number; height?: number } | { kind: 'video'; file: string; count: number; fps: number; width?: number; height?: number };

export interface RideMeta {
  format: typeof RIDE_FORMAT;
  /** Unique id chosen by the recorder (device id + start time). */
  ride_id: string;
  device: string;
  location: string;
  /** Model running while the ride was recorded (its scores are in the sensor log), if any. */
  model: { name: string; version: string } | null;
  /** Labels in the order of the `scores` arrays in the sensor log, when scores are recorded. */
  labels?: string[];
  started_at: string;
  ended_at: string | null;
  status: RideStatus;
  frames: RideFrames;
  /** Number of lines in sensors.jsonl when complete (truncation check). */
  sensor_records?: number;
  /** Set by `sidewalk data synth`: the true class of every frame is known. */
  synthetic?: boolean;
}

/**
 * One line of sensors.jsonl. `rider_label` is what the rider pressed: a class name, or a numeric
 * joystick/button code that the host maps to a class (host-tools/data labelling config); null = none.
 */
export interface SensorRecord {
  /** Milliseconds since the ride started. */
  t_ms: number;
  /** Frame index this record belongs to; absent for samples between frames. */
  frame?: number;
  lat?: number | null;
  lon?: number | null;
  alt_m?: number | null;
  speed_kph?: number | null;
  rider_label?: string | number | null;
  /** Model scores in RideMeta.labels order, when a model ran during recording. */
  scores?: number[];
  /** The runtime's decision for this frame, when it ran (`sidewalk replay --recorded-scores` compares against it). */
  on_sidewalk?: boolean;
  /** Ground truth for synthetic rides. */
  true_label?: string;
}

export const RIDE_META_SCHEMA = {
  $id: 'sidewalk-ride-meta',
  type: 'object',
  required: ['format', 'ride_id', 'device', 'location', 'model', 'started_at', 'ended_at', 'status', 'frames'],
  additionalProperties: true,
  properties: {
    format: { const: RIDE_FORMAT },
    ride_id: { type: 'string', minLength: 1 },
    device: { type: 'string', minLength: 1 },
    location: { type: 'string', minLength: 1 },
    model: {
      oneOf: [{ type: 'null' }, { type: 'object', required: ['name', 'version'], properties: { name: { type: 'string' }, version: { type: 'string' } } }],
    },
    labels: { type: 'array', items: { type: 'string' } },
    started_at: { type: 'string', minLength: 1 },
    ended_at: { type: ['string', 'null'] },
    status: { enum: ['recording', 'complete'] },
    sensor_records: { type: 'integer', minimum: 0 },
    synthetic: { type: 'boolean' },
    frames: {
      oneOf: [
        {
          type: 'object',
          required: ['kind', 'dir', 'count'],
          properties: {
            kind: { const: 'jpeg' },
            dir: { type: 'string' },
            count: { type: 'integer', minimum: 0 },
            width: { type: 'integer' },
            height: { type: 'integer' },
          },
        },
        {
          type: 'object',
          required: ['kind', 'file', 'count', 'fps'],
          properties: {
            kind: { const: 'video' },
            file: { type: 'string' },
            count: { type: 'integer', minimum: 0 },
            fps: { type: 'number', exclusiveMinimum: 0 },
            width: { type: 'integer' },
            height: { type: 'integer' },
          },
        },
      ],
    },
  },
} as const;

const num = { type: ['number', 'null'] } as const;
export const SENSOR_RECORD_SCHEMA = {
  $id: 'sidewalk-ride-sensor-record',
  type: 'object',
  required: ['t_ms'],
  additionalProperties: true,
  properties: {
    t_ms: { type: 'number', minimum: 0 },
    frame: { type: 'integer', minimum: 0 },
    lat: num,
    lon: num,
    alt_m: num,
    speed_kph: num,
    rider_label: { type: ['string', 'integer', 'null'] },
    scores: { type: 'array', items: { type: 'number' } },
    on_sidewalk: { type: 'boolean' },
    true_label: { type: 'string' },
  },
} as const;

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
const validateMeta = lazyValidator(() => ajv.compile(RIDE_META_SCHEMA));
const validateRecord = lazyValidator(() => ajv.compile(SENSOR_RECORD_SCHEMA));

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
}

export function frameFileName(index: number): string {
  return `${String(index).padStart(6, '0')}.jpg`;
}

/** Checks a parsed ride.json; throws DATA_RIDE_MALFORMED naming the file and the fields at fault. */
export function parseRideMeta(value: unknown, file = RIDE_META_FILE): RideMeta {
  if (!validateMeta(value)) throw new SidewalkError('DATA_RIDE_MALFORMED', `${file}: ${describe(validateMeta.errors)}`, { details: { file } });
  return value as unknown as RideMeta;
}

/** Checks one sensors.jsonl line; throws DATA_RIDE_MALFORMED naming file and line. */
export function parseSensorLine(text: string, line: number, file = SENSORS_FILE): SensorRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${file} line ${line}: not valid JSON (${(err as Error).message})`, { details: { file, line } });
  }
  if (!validateRecord(value)) {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${file} line ${line}: ${describe(validateRecord.errors)}`, { details: { file, line } });
  }
  return value as unknown as SensorRecord;
}

/** Reads ride.json; returns null when it is absent or not (yet) parseable JSON (e.g. mid-upload). */
export async function readRideMetaIfPresent(dir: string): Promise<RideMeta | null> {
  const text = await readFile(join(dir, RIDE_META_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return parseRideMeta(value, join(dir, RIDE_META_FILE));
}

export interface RideOnDisk {
  dir: string;
  meta: RideMeta;
  records: SensorRecord[];
}

/** Reads and validates a complete ride folder (ride.json + sensors.jsonl). */
export async function readRide(dir: string): Promise<RideOnDisk> {
  const metaPath = join(dir, RIDE_META_FILE);
  const metaText = await readFile(metaPath, 'utf8').catch((err: Error) => {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${metaPath}: cannot read (${err.message})`, { cause: err });
  });
  let metaValue: unknown;
  try {
    metaValue = JSON.parse(metaText);
  } catch (err) {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${metaPath}: not valid JSON (${(err as Error).message})`);
  }
  const meta = parseRideMeta(metaValue, metaPath);
  if (meta.status !== 'complete') {
    throw new SidewalkError('DATA_RIDE_INCOMPLETE', `${metaPath}: status is "${meta.status}"; the ride was not closed (recording cut off or still uploading)`);
  }
  const sensorsPath = join(dir, SENSORS_FILE);
  const text = await readFile(sensorsPath, 'utf8').catch((err: Error) => {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${sensorsPath}: cannot read (${err.message})`, { cause: err });
  });
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  else if (lines.length > 0) {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${sensorsPath} line ${lines.length}: truncated (no final newline)`, { details: { file: sensorsPath, line: lines.length } });
  }
  const records = lines.map((l, i) => parseSensorLine(l, i + 1, sensorsPath));
  if (meta.sensor_records !== undefined && meta.sensor_records !== records.length) {
    throw new SidewalkError('DATA_RIDE_MALFORMED', `${sensorsPath} line ${records.length + 1}: ride.json says ${meta.sensor_records} records, found ${records.length} (truncated?)`, {
      details: { file: sensorsPath, line: records.length + 1 },
    });
  }
  return { dir, meta, records };
}
