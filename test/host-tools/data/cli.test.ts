import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DIST_ROOT } from '../../helpers/paths.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { expectCleanFailure } from '../../helpers/cli-guard.js';
import { workspace, type Workspace } from './workspace.js';

const run = promisify(execFile);
const CLI = join(DIST_ROOT, 'test', 'host-tools', 'data', 'data-cli.js');

async function sidewalk(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, SIDEWALK_LOG: 'warn' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('sidewalk data CLI', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
    ws.db.close();
  });
  after(async () => {
    await ws.close().catch(() => {});
  });

  test('ingest, stats --json, and a malformed run exits non-zero naming file and line', async () => {
    const { raw, out } = legacyRows(4, { speed: (i) => (i === 0 ? 2 : 20) });
    await writeLegacyRun(join(ws.dir, 'in', 'run1'), { raw, out });
    const a = await sidewalk(['data', 'ingest', join(ws.dir, 'in'), '--db', ws.dbPath, '--location', 'Niwot']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /1 added \(4 frames\)/);
    const s = await sidewalk(['data', 'stats', '--json', '--db', ws.dbPath]);
    const stats = JSON.parse(s.stdout) as { location: string; frames: number; byFlag: Record<string, number> }[];
    assert.equal(stats[0]!.location, 'Niwot');
    assert.equal(stats[0]!.frames, 4);
    assert.equal(stats[0]!.byFlag.low_speed, 1);
    const bad = await writeLegacyRun(join(ws.dir, 'bad', 'run9'), legacyRows(2, { startFrame: 50 }));
    const text = await readFile(join(bad, 'raw_data.txt'), 'utf8');
    await writeFile(join(bad, 'raw_data.txt'), text.replace(/,1\n$/, ',x\n'));
    const b = await sidewalk(['data', 'ingest', bad, '--db', ws.dbPath, '--location', 'Niwot']);
    assert.equal(b.code, 1, `stdout: ${b.stdout} stderr: ${b.stderr}`);
    assert.match(b.stderr, /DATA_LEGACY_MALFORMED: .*raw_data\.txt line 2 field 19 \(joystick\)/);
    const legacyNoLoc = await sidewalk(['data', 'ingest', join(ws.dir, 'in'), '--db', join(ws.dir, 'other.db')]);
    assert.equal(legacyNoLoc.code, 1);
    assert.match(legacyNoLoc.stderr, /DATA_LOCATION_REQUIRED/);
    await assert.rejects(stat(join(ws.dir, 'other.db')), 'a database the failed command created is removed');
  });

  test('read-only commands change nothing; map creates its output folder; split says totals', async () => {
    const before = await readFile(ws.dbPath);
    const s = await sidewalk(['data', 'stats', '--db', join(ws.dir, 'typo.db')]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /^sidewalk: DATA_DB_MISSING: /);
    await assert.rejects(stat(join(ws.dir, 'typo.db')), 'stats does not create a database');
    const ride = (JSON.parse((await sidewalk(['data', 'stats', '--json', '--db', ws.dbPath])).stdout) as unknown[]).length;
    assert.equal(ride, 1);
    const m = await sidewalk(['data', 'map', '1', '--out', join(ws.dir, 'maps', 'new', 'ride1'), '--db', ws.dbPath]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(await readFile(join(ws.dir, 'maps', 'new', 'ride1.geojson'), 'utf8'), /FeatureCollection/);
    assert.ok((await readFile(ws.dbPath)).equals(before), 'stats and map leave the database file as it was');
    const sp = await sidewalk(['data', 'split', '--location', 'Niwot', '--db', ws.dbPath]);
    assert.match(sp.stdout, /^1 rides assigned now; rides per split in total: /);
  });
  test("scooter.py's post-process layout ingests when the file tells it; a file that fits both layouts is refused", async () => {
    const { raw } = legacyRows(3, { startFrame: 60 });
    const out = raw.map((r, i) => ({ frame: r.frame, joystick: 1, scores: [0.1, 0.2, 0.3 + i * 0.1, 0.4 - i * 0.1], sidewalk: 0 as const }));
    const post = await writeLegacyRun(join(ws.dir, 'post', 'run60'), { raw, out, options: { path: 'post-process', frame: 'space' } });
    const a = await sidewalk(['data', 'ingest', post, '--db', ws.dbPath, '--location', 'Niwot']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /1 added \(3 frames\)/);
    const both = legacyRows(2, { startFrame: 70 });
    const ambiguous = await writeLegacyRun(join(ws.dir, 'amb', 'run70'), {
      raw: both.raw,
      out: both.raw.map((r) => ({ frame: r.frame, joystick: 1, scores: [0, 0.3, 0.6, 0.1], sidewalk: 1 as const })),
    });
    await expectCleanFailure({ name: 'ingest ambiguous', args: ['data', 'ingest', ambiguous, '--db', ws.dbPath, '--location', 'Niwot'], code: 'DATA_LEGACY_LAYOUT_AMBIGUOUS' });
    const named = await sidewalk(['data', 'ingest', ambiguous, '--db', ws.dbPath, '--location', 'Niwot', '--legacy-layout', 'live']);
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /1 added \(2 frames\)/);
  });
});
