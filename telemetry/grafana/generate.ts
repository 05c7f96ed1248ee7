/**
 * Writes the dashboards of telemetry/grafana/dashboards.ts as JSON files (`npm run dashboards`), or
 * with --check exits non-zero when the committed files differ from the code.
 *   node dist/telemetry/grafana/generate.js [--check] [--out DIR]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARDS } from './dashboards.js';

/** The committed output: the source tree's folder (this file runs from dist/telemetry/grafana). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../telemetry/grafana/dashboards/', import.meta.url));

/** File name -> JSON text (stable: keys in builder order, two-space indent, trailing newline). */
export function renderDashboards(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, build] of Object.entries(DASHBOARDS)) out[file] = `${JSON.stringify(build().build(), null, 2)}\n`;
  return out;
}

/** Names of files under `dir` that are missing or differ from the code. */
export async function staleDashboards(dir = DASHBOARD_DIR): Promise<string[]> {
  const stale: string[] = [];
  for (const [file, text] of Object.entries(renderDashboards())) {
    const current = await readFile(join(dir, file), 'utf8').catch(() => null);
    if (current !== text) stale.push(file);
  }
  return stale;
}

async function main(argv: string[]): Promise<number> {
  const outIndex = argv.indexOf('--out');
  const dir = outIndex >= 0 && argv[outIndex + 1] ? argv[outIndex + 1]! : DASHBOARD_DIR;
  if (argv.includes('--check')) {
    const stale = await staleDashboards(dir);
    if (stale.length > 0) {
      process.stderr.write(`sidewalk: TELEMETRY_DASHBOARDS_STALE: ${stale.join(', ')} in ${dir} differ from telemetry/grafana/dashboards.ts; run npm run dashboards\n`);
      return 1;
    }
    return 0;
  }
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(renderDashboards())) await writeFile(join(dir, file), text);
  process.stdout.write(`wrote ${Object.keys(DASHBOARDS).join(', ')} to ${dir}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`sidewalk: TELEMETRY_DASHBOARDS_FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
