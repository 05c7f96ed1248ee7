/**
 * The defaults a JSON Schema declares, as the object a validator with `useDefaults` would fill in for
 * an empty input: each object field by field, every leaf its `default`. Code that needs a schema
 * default outside a loaded config (a constructor's fallback, a host tool's option) reads it from
 * here, so the number lives only in the schema. The result is frozen: it is shared.
 */
type Schema = { readonly type?: unknown; readonly default?: unknown; readonly properties?: Readonly<Record<string, Schema>> };

export function schemaDefaults(schema: Schema): unknown {
  if (schema.properties === undefined) return typeof schema.default === 'object' && schema.default !== null ? Object.freeze(structuredClone(schema.default)) : schema.default;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema.properties)) {
    const value = schemaDefaults(child);
    if (value !== undefined) out[key] = value;
  }
  return Object.freeze(out);
}
