/**
 * `sidewalk data export` without a model: whole frames by default (dataset.json says no crop), or
 * cropped once here with --crop (dataset.json states it, so the trainer does not crop again and
 * writes it into the manifest); --manifest is optional and excludes --width/--height/--crop.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { assignSplits } from '../../../host-tools/data/splits.js';
import { LEGACY_INPUT } from '../../../runtime/inference/legacy.js';
import { expectCleanFailure, runSidewalk } from '../../helpers/cli-guard.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { workspace, type Workspace } from './workspace.js';

const LEGACY_CROP = { x: 0.125, y: 0, width: 0.75, height: 1 };

describe('data export crops', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
    for (let k = 0; k < 6; k++) {
      const { raw, out } = legacyRows(3, { startFrame: k * 10, joystick: () => k % 3 });
      await writeLegacyRun(join(ws.dir, 'runs', `run${k}`), { raw, out });
    }
    await ingestPaths([join(ws.dir, 'runs')], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
    assignSplits(ws.db, { location: 'LA', seed: 1 });
  });
  after(async () => {
    await ws.close();
  });

  async function exported(args: string[]): Promise<{ crop: unknown; size: [number, number] }> {
    const out = join(ws.dir, `export-${args.join('_').replace(/[^a-z0-9]/gi, '')}`);
    const r = await runSidewalk(['data', 'export', '--db', ws.dbPath, '--location', 'LA', '--out', out, '--include-flagged', ...args]);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(await readFile(join(out, 'dataset.json'), 'utf8')) as { preprocessing: { crop: unknown } };
    const split = (await readdir(out)).find((d) => d !== 'dataset.json')!;
    const cls = (await readdir(join(out, split)))[0]!;
    const png = await readFile(join(out, split, cls, (await readdir(join(out, split, cls)))[0]!));
    return { crop: meta.preprocessing.crop, size: [png.readUInt32BE(16), png.readUInt32BE(20)] };
  }

  test('without --manifest: whole frames at 160x120, and dataset.json says no crop was applied', async () => {
    assert.deepEqual(await exported([]), { crop: null, size: [160, 120] });
  });

  test('--crop: the legacy crop is applied here and stated in dataset.json', async () => {
    assert.deepEqual(await exported(['--crop', '0.125,0,0.75,1', '--width', '72', '--height', '72']), { crop: LEGACY_CROP, size: [72, 72] });
  });

  test('--crop 0,0,1,1 is no crop', async () => {
    assert.deepEqual(await exported(['--crop', '0,0,1,1', '--width', '64', '--height', '48']), { crop: null, size: [64, 48] });
  });

  test('bad combinations are refused with a coded line and nothing written', async () => {
    const manifest = join(ws.dir, 'legacy-manifest.json');
    await writeFile(manifest, JSON.stringify({ labels: ['bike_lane', 'crosswalk', 'side', 'street'], input: LEGACY_INPUT }));
    const base = ['data', 'export', '--db', ws.dbPath, '--location', 'LA'];
    const cases: [string, string[], string][] = [
      ['--manifest with --crop', ['--manifest', manifest, '--crop', '0.125,0,0.75,1'], 'DATA_BAD_OPTION'],
      ['a crop outside the frame', ['--crop', '0.5,0,0.75,1'], 'DATA_BAD_OPTION'],
      ['a crop of three numbers', ['--crop', '0,0,1'], 'DATA_BAD_OPTION'],
      ['a width that is not whole', ['--width', '10.5'], 'DATA_BAD_OPTION'],
      ['a manifest with OpenCV area resizing (ffmpeg cannot reproduce it)', ['--manifest', manifest], 'DATA_MANIFEST_UNSUPPORTED'],
    ];
    for (const [name, args, code] of cases) {
      const out = join(ws.dir, `bad-${code}-${args.length}`);
      await expectCleanFailure({ name: `data export: ${name}`, args: [...base, '--out', out, ...args], code, mustNotExist: [out] });
    }
  });
});
