/**
 * Loads and validates the runtime config. Every violation is reported as `path: message`, and
 * nothing touches hardware before the whole file is known to be valid.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { SidewalkError } from '../../lib/errors.js';
import { runtimeConfigSchema, type RuntimeConfig } from './schema.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false });
const validate = ajv.compile<RuntimeConfig>(runtimeConfigSchema);

/** Ajv error -> "camera.width: must be >= 16". */
export function formatSchemaError(e: ErrorObject): string {
  const path = e.instancePath.split('/').filter(Boolean).join('.');
  const at = (field: string) => (path ? `${path}.${field}` : field);
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at(String(e.params.additionalProperty))}: unknown field`;
    case 'required':
      return `${at(String(e.params.missingProperty))}: required field is missing`;
    case 'enum':
      return `${path || '(root)'}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    default:
      return `${path || '(root)'}: ${e.message ?? e.keyword}`;
  }
}

/** Validates a parsed config object (defaults are filled in place); throws CONFIG_INVALID listing every violation. */
export function validateConfig(raw: unknown, source = 'config'): RuntimeConfig {
  const data = structuredClone(raw ?? {});
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map(formatSchemaError);
    throw new SidewalkError('CONFIG_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return data;
}

/** Reads a YAML config file; relative paths inside it resolve against the file's folder. */
export function loadConfigFile(path: string): RuntimeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SidewalkError('CONFIG_UNREADABLE', `cannot read config ${path}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
    throw new SidewalkError('CONFIG_INVALID', `${path} is not valid YAML:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  const config = validateConfig(doc.toJS(), path);
  return resolvePaths(config, dirname(resolve(path)));
}

function resolvePaths(config: RuntimeConfig, base: string): RuntimeConfig {
  const abs = (p: string) => resolve(base, p);
  config.model.bundle = abs(config.model.bundle);
  if (config.camera.replay.input) config.camera.replay.input = abs(config.camera.replay.input);
  if (config.limiter.simulated.log_file) config.limiter.simulated.log_file = abs(config.limiter.simulated.log_file);
  config.recording.dir = abs(config.recording.dir);
  return config;
}
