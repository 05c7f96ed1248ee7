// Rewrites the state table in ota/README.md from ota/install/states.ts (after `npm run build`).
// test/ota/states.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stateTableMarkdown } from '../dist/ota/install/states.js';

const readme = join(dirname(fileURLToPath(import.meta.url)), '..', 'ota', 'README.md');
const text = readFileSync(readme, 'utf8');
const start = '<!-- ota-states:start (generated: node scripts/ota-state-table.mjs) -->';
const end = '<!-- ota-states:end -->';
const i = text.indexOf(start);
const j = text.indexOf(end);
if (i < 0 || j < i) {
  process.stderr.write(`sidewalk: OTA_README_MARKERS: ${readme} has no ${start} ... ${end} block\n`);
  process.exit(1);
}
writeFileSync(readme, `${text.slice(0, i + start.length)}\n${stateTableMarkdown()}\n${text.slice(j)}`);
