import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { workspace, type Workspace } from './workspace.js';

let ws: Workspace;
before(async () => {
  ws = await workspace();
});
after(async () => {
  await ws.close();
});

test('removeOrphans deletes unreferenced objects and temp files, and keeps every referenced frame', async () => {
  const { raw, out } = legacyRows(3);
  await writeLegacyRun(join(ws.dir, 'in', 'run1'), { raw, out });
  await ingestPaths([join(ws.dir, 'in')], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
  const paths = (ws.db.prepare('SELECT path FROM frames').all() as { path: string }[]).map((r) => r.path);
  const orphan = `${'ab'.repeat(32)}.jpg`;
  await mkdir(ws.store.abs('ab'), { recursive: true });
  await writeFile(ws.store.abs(join('ab', orphan)), 'orphan');
  await writeFile(ws.store.abs(`${paths[0]!}.tmp-999`), 'half-copied');
  await writeFile(ws.store.abs(join('ab', 'not-a-hash.jpg')), 'stray');
  assert.equal(await ws.store.removeOrphans(ws.db), 3);
  const left = (await Promise.all((await readdir(ws.store.root)).map(async (d) => (await readdir(ws.store.abs(d))).map((f) => join(d, f))))).flat();
  assert.deepEqual(left.sort(), [...new Set(paths)].sort());
});
