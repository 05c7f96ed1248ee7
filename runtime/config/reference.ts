/**
 * Renders the configuration reference (a Markdown table) from the schema, so the README's
 * reference cannot drift from what the runtime accepts. `sidewalk config reference` prints it.
 */
import type { SchemaObject } from 'ajv';
import { runtimeConfigSchema } from './schema.js';

function describeType(s: SchemaObject): string {
  if (s.enum) return (s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
  const t = String(s.type) + (s.nullable ? ' \\| null' : '');
  return t;
}

function rows(schema: SchemaObject, prefix: string, required: readonly string[], out: string[]): void {
  for (const [key, child] of Object.entries(schema.properties as Record<string, SchemaObject>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object' && child.properties) {
      rows(child, path, (child.required as string[]) ?? [], out);
      continue;
    }
    const def = child.default === undefined ? (required.includes(key) ? '*required*' : '') : `\`${JSON.stringify(child.default)}\``;
    out.push(`| \`${path}\` | ${describeType(child)} | ${def} | ${(child.description as string | undefined) ?? ''} |`);
  }
}

export function configReferenceMarkdown(): string {
  const out = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  rows(runtimeConfigSchema, '', runtimeConfigSchema.required, out);
  return out.join('\n');
}
