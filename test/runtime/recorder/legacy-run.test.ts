import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { parseLegacyOutData, parseLegacyRawData, readLegacyRun } from '../../../runtime/recorder/legacy-run.js';
import { legacyOutText, legacyRawText, legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';

describe('legacy run parser', () => {
  test('reads comma rows written in the legacy %d,%f layout', () => {
    const { raw } = legacyRows(3, { speed: (i) => 5 + i, joystick: (i) => i % 3 });
    const rows = parseLegacyRawData(legacyRawText(raw));
    assert.equal(rows.length, 3);
    assert.equal(rows[2]!.frame, 2);
    assert.equal(rows[2]!.speed, 7);
    assert.equal(rows[2]!.joystick, 2);
    assert.ok(Math.abs(rows[1]!.lat - 34.05001) < 1e-9);
    assert.equal(rows[0]!.imu.length, 9);
    assert.equal(rows[0]!.line, 1);
  });

  test('accepts whitespace, tabs, a header, CRLF, brackets, nan and True/False', () => {
    const { raw, out } = legacyRows(2);
    const ws = legacyRawText(raw, { separator: ' ', header: true }).replace(/\n/g, '\r\n');
    const rows = parseLegacyRawData(ws);
    assert.deepEqual(rows.map((r) => r.line), [2, 3]);
    const tabs = parseLegacyOutData(legacyOutText(out, { separator: '\t' }));
    assert.deepEqual(tabs[1]!.pos, [1, 0, 0]);
    const odd = parseLegacyRawData('[0, 1.5, nan, nan, nan, 0, 0, 0, 0,0,0,0,0,0,0,0,0, 3.0, 1]\n');
    assert.ok(Number.isNaN(odd[0]!.lat));
    const flag = parseLegacyOutData('0 2 0.1 0.2 0.3 0.1 0.2 0.1 True 1 2 3 4 5 6\n');
    assert.equal(flag[0]!.sidewalk, 1);
    assert.deepEqual(flag[0]!.vel, [4, 5, 6]);
  });

  test('17-column out rows keep pos and vel on the final six columns', () => {
    const rows = parseLegacyOutData('4,1,0.1,0.2,0.3,0.1,0.2,0.1,0,9,9,1,2,3,4,5,6\n');
    assert.equal(rows[0]!.frame, 4);
    assert.deepEqual(rows[0]!.pos, [1, 2, 3]);
    assert.deepEqual(rows[0]!.vel, [4, 5, 6]);
  });

  test('a missing column is reported with file, line and column', () => {
    const { raw } = legacyRows(3);
    const lines = legacyRawText(raw).split('\n');
    lines[1] = lines[1]!.split(',').slice(0, 17).join(',');
    assert.throws(() => parseLegacyRawData(lines.join('\n'), '/x/raw_data.txt'), (err) => {
      assert.ok(isSidewalkError(err, 'DATA_LEGACY_MALFORMED'));
      assert.match(err.message, /\/x\/raw_data\.txt line 2 column speed/);
      assert.equal(err.details.line, 2);
      return true;
    });
  });

  test('a non-numeric field names its column', () => {
    assert.throws(() => parseLegacyRawData('0,1,abc,0,0,0,0,0,0,0,0,0,0,0,0,0,0,3,1\n'), /line 1 column 3 \(gps_lat\): "abc" is not a number/);
    assert.throws(() => parseLegacyRawData('0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,3,1.5\n'), /column 19 \(joystick\)/);
    assert.throws(() => parseLegacyRawData('0,1,,0,0,0,0,0,0,0,0,0,0,0,0,0,0,3,1\n'), /column 3 \(gps_lat\)/);
  });

  test('readLegacyRun returns rows and images sorted by frame', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'legacy-run-'));
    try {
      const { raw, out } = legacyRows(4, { startFrame: 8 });
      await writeLegacyRun(join(dir, 'run1'), { raw, out });
      const run = await readLegacyRun(join(dir, 'run1'));
      assert.equal(run.raw.length, 4);
      assert.equal(run.out?.length, 4);
      assert.deepEqual(run.images.map((i) => i.frame), [8, 9, 10, 11]);
      assert.equal(run.images[3]!.name, 'img_00011.jpg');
      await writeFile(join(dir, 'run1', 'out_data.txt'), '1,2,3\n');
      await assert.rejects(readLegacyRun(join(dir, 'run1')), /out_data\.txt line 1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
