/**
 * The one gate every inbound message passes (topic in the map, JSON, schema-valid, ids in the payload
 * matching the topic) and the counter of what it refused. Invalid messages are logged and counted,
 * never handed to a handler.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { formatSchemaError } from '../../../lib/config-file.js';
import { createLogger } from '../../../lib/log.js';
import { SCHEMAS, type PayloadTypes } from './messages.js';
import { parseTopic, type ParsedTopic, type TopicKind } from './topics.js';

const log = createLogger('telemetry:fleet');
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const compiled = new Map<TopicKind, ValidateFunction>();

function validatorFor(kind: TopicKind): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    v = ajv.compile(SCHEMAS[kind]);
    compiled.set(kind, v);
  }
  return v;
}

export type Inbound = { [K in TopicKind]: ParsedTopic & { kind: K; payload: PayloadTypes[K] } }[TopicKind];
export type Decoded = { ok: true; message: Inbound } | { ok: false; reason: string };

/** Checks a payload against its topic kind's schema; null when valid, else every problem on one line. */
export function schemaProblems(kind: TopicKind, payload: unknown): string | null {
  const validate = validatorFor(kind);
  if (validate(payload)) return null;
  return (validate.errors ?? []).map(formatSchemaError).join('; ');
}

/** An empty retained payload deletes the retained message: `cleared` (only for desired state). */
export function decode(topic: string, payload: Buffer): Decoded | { ok: true; cleared: ParsedTopic } {
  const parsed = parseTopic(topic);
  if (!parsed) return { ok: false, reason: `topic ${topic} is not in the fleet topic map` };
  if (payload.length === 0) {
    if (parsed.kind === 'desired-device' || parsed.kind === 'desired-location') return { ok: true, cleared: parsed };
    return { ok: false, reason: `${topic}: empty payload` };
  }
  if (payload.length > 256 * 1024) return { ok: false, reason: `${topic}: payload of ${payload.length} bytes is over 256 KiB` };
  let data: unknown;
  try {
    data = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `${topic}: not JSON (${(err as Error).message})` };
  }
  const problems = schemaProblems(parsed.kind, data);
  if (problems) return { ok: false, reason: `${topic}: ${problems}` };
  if (parsed.kind === 'reported' && (data as PayloadTypes['reported']).device !== parsed.device) {
    return { ok: false, reason: `${topic}: device ${JSON.stringify((data as PayloadTypes['reported']).device)} does not match the topic` };
  }
  return { ok: true, message: { ...parsed, payload: data } as Inbound };
}

/** Counts refused inbound messages (reported and exported as a metric by the hosts). */
export class InvalidCounter {
  total = 0;
  readonly byReason = new Map<string, number>();

  record(reason: string): void {
    this.total++;
    const key = reason.split(':')[0] ?? reason;
    this.byReason.set(key, (this.byReason.get(key) ?? 0) + 1);
    log.warn(`invalid message ignored: ${reason}`);
  }
}
