/**
 * What every YAML config of the project does the same way (runtime, OTA, pipeline): read the file,
 * report YAML syntax errors by line, validate against one JSON Schema with defaults, and report every
 * violation as `path: message` under a stable code.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { type ErrorCode, SidewalkError } from './errors.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false });

/**
 * A validator compiled on its first call. The CLI imports every area's modules, and compiling all
 * their schemas up front cost ~0.15 s of every `sidewalk` start (most commands use one schema or none).
 */
export function lazyValidator<T>(compile: () => ValidateFunction<T>): ValidateFunction<T> {
  let compiled: ValidateFunction<T> | undefined;
  const get = () => (compiled ??= compile());
  const validate = ((data: unknown) => get()(data)) as ValidateFunction<T>;
  Object.defineProperty(validate, 'errors', { get: () => get().errors });
  return validate;
}

export function compileConfigSchema<T>(schema: SchemaObject): ValidateFunction<T> {
  return lazyValidator(() => ajv.compile<T>(schema));
}

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

/** Validates a parsed config (defaults filled into a copy); `code` lists every violation. */
export function validateConfigObject<T>(validate: ValidateFunction<T>, raw: unknown, source: string, code: ErrorCode = 'CONFIG_INVALID'): T {
  const data = structuredClone(raw ?? {});
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map(formatSchemaError);
    throw new SidewalkError(code, `${source} is invalid:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return data;
}

/** Reads and parses a YAML file: `unreadable` naming the file, or `invalid` naming each bad line (the caller's codes). */
export function readYamlFile(path: string, unreadable: ErrorCode = 'CONFIG_UNREADABLE', invalid: ErrorCode = 'CONFIG_INVALID'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SidewalkError(unreadable, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
    throw new SidewalkError(invalid, `${path} is not valid YAML:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return doc.toJS() as unknown;
}
