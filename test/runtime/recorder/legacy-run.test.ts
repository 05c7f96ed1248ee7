/** The legacy run reader on files written by python3 with the legacy scooter's own format strings. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { parseLegacyOutData, parseLegacyRawData, readLegacyRun } from '../../../runtime/recorder/legacy-run.js';
import { legacyRows, writeLegacyRun, writeLegacyTexts, type LegacyOutInput } from '../../helpers/legacy-writer.js';
import { withTempDir } from '../../helpers/temp.js';

const withTmp = <T>(fn: (dir: string) => Promise<T>): Promise<T> => withTempDir('legacy-run-', fn);

const outRows = (scores: number[][], start = 0): LegacyOutInput[] => scores.map((s, i) => ({ frame: start + i, joystick: i % 4, scores: s, sidewalk: (i % 2) as 0 | 1 }));

/** Writes the files with python3 and returns their text. */
async function texts(dir: string, out: LegacyOutInput[] | null, options: Parameters<typeof writeLegacyTexts>[3] = {}) {
  const { raw } = legacyRows(out?.length ?? 3, { speed: (i) => 120 + i, joystick: (i) => i % 4 });
  writeLegacyTexts(dir, raw, out, options);
  return {
    raw: await readFile(join(dir, 'raw_data.txt'), 'utf8'),
    out: out ? await readFile(join(dir, 'out_data.txt'), 'utf8') : '',
  };
}

describe('legacy run reader: the files as scooter.py wrote them', () => {
  test('live path: 19 raw fields, 16 out fields with the trailing comma, classes in imclass order', async () => {
    await withTmp(async (dir) => {
      const t = await texts(
        dir,
        outRows(
          [
            [0.05, 0.1, 0.8, 0.05],
            [0.6, 0.1, 0.1, 0.2],
            [0, 0.01, 0.98, 0.01],
          ],
          7,
        ),
      );
      // The bytes the format strings give (a regression guard on the writer, too).
      assert.equal(t.out.split('\n')[0], '00007,0,0.05,0.10,0.80,0.05,0.00,0.00,0,   0.000000000,   0.000000000,   0.000000000, 0.00, 0.00, 0.00,');
      assert.match(t.raw.split('\n')[1]!, /^00001, {5}0\.20, {2}34\.050010000,-118\.250000000, {4}90\.10, 0\.00, 0\.00, 0\.00,(.{5},){9}121\.00,1$/);
      const raw = parseLegacyRawData(t.raw);
      assert.equal(raw.length, 3);
      assert.deepEqual([raw[2]!.frame, raw[2]!.time, raw[2]!.speed, raw[2]!.joystick], [2, 0.4, 122, 2]);
      assert.equal(raw[0]!.imu[5], 9.81);
      const out = parseLegacyOutData(t.out);
      assert.equal(out.layout, 'live');
      assert.deepEqual(
        out.rows.map((r) => r.frame),
        [7, 8, 9],
      );
      assert.deepEqual(out.rows[1]!.scores, [0.6, 0.1, 0.1, 0.2]);
      assert.deepEqual(
        out.rows.map((r) => [r.joystick, r.sidewalk]),
        [
          [0, 0],
          [1, 1],
          [2, 0],
        ],
      );
    });
  });

  test('post-process path: space-padded frames and classes shifted by one column are read when unambiguous', async () => {
    await withTmp(async (dir) => {
      const scores = [
        [0, 0.1, 0.9, 0],
        [0.2, 0.1, 0.3, 0.4],
      ];
      const t = await texts(dir, outRows(scores), { path: 'post-process', frame: 'space' });
      assert.match(t.out, /^ {4}0,0,0\.00,0\.00,0\.10,0\.90,0\.00,0\.00,0,/);
      const out = parseLegacyOutData(t.out);
      assert.equal(out.layout, 'post-process');
      // The post-process path never writes the street score.
      assert.deepEqual(out.rows[1]!.scores, [0.2, 0.1, 0.3, null]);
      // Zero-padded frames but a street score missing from the sum: still only the post-process path.
      const z = await texts(dir, outRows(scores), { path: 'post-process', frame: 'zero' });
      assert.equal(parseLegacyOutData(z.out).layout, 'post-process');
    });
  });

  test('a file that fits both paths, or mixes them, is refused with a coded error naming the file', async () => {
    await withTmp(async (dir) => {
      // bike_lane 0.00 throughout (live) reads the same as street missing and 0 (post-process).
      const t = await texts(
        dir,
        outRows([
          [0, 0.2, 0.7, 0.1],
          [0, 0.5, 0.5, 0],
        ]),
        { path: 'live' },
      );
      assert.throws(
        () => parseLegacyOutData(t.out, '/r/out_data.txt'),
        (err) => {
          assert.ok(isSidewalkError(err, 'DATA_LEGACY_LAYOUT_AMBIGUOUS'));
          assert.match(err.message, /\/r\/out_data\.txt: .*fits both/);
          return true;
        },
      );
      assert.deepEqual(parseLegacyOutData(t.out, 'x', 'live').rows[0]!.scores, [0, 0.2, 0.7, 0.1]);
      const mixed = t.out.replace(/^00001,/m, '    1,').replace(/^00000,0,0\.00/, '00000,0,0.30');
      assert.throws(
        () => parseLegacyOutData(mixed),
        (err) => isSidewalkError(err, 'DATA_LEGACY_LAYOUT_AMBIGUOUS') && /line 2 .*line 1/.test(err.message),
      );
    });
  });

  test('bad bytes are refused naming file, line and field', async () => {
    await withTmp(async (dir) => {
      const t = await texts(
        dir,
        outRows([
          [0.05, 0.1, 0.8, 0.05],
          [0.6, 0.1, 0.1, 0.2],
        ]),
      );
      const rawLines = t.raw.split('\n');
      const outLines = t.out.split('\n');
      const bad = (fn: () => unknown, re: RegExp) => assert.throws(fn, (err) => (isSidewalkError(err, 'DATA_LEGACY_MALFORMED') && re.test(err.message) ? true : assert.fail(String(err))));
      const dropField = (line: string, i: number) =>
        line
          .split(',')
          .filter((_, k) => k !== i)
          .join(',');
      bad(() => parseLegacyRawData([rawLines[0], dropField(rawLines[1]!, 4), ''].join('\n'), '/r/raw_data.txt'), /^\/r\/raw_data\.txt line 2: expected 19 comma-separated fields, got 18$/);
      bad(() => parseLegacyRawData(`${rawLines[0]!.replace(/,\d+$/, ',1.5')}\n`), /line 1 field 19 \(joystick\): "1\.5" is not an integer/);
      bad(() => parseLegacyRawData(`${rawLines[0]!.replace(/^00000,/, '0x000,')}\n`), /line 1 field 1 \(frame\)/);
      bad(() => parseLegacyRawData(t.raw.slice(0, -10)), /line 2: the last line has no newline/);
      bad(() => parseLegacyOutData(`${outLines[0]!.replace(/,$/, '')}\n`), /line 1: expected 16 comma-separated fields \(the last one empty/);
      bad(
        () =>
          parseLegacyOutData(
            `${outLines[0]!}\n${outLines[1]!
              .split(',')
              .map((f, k) => (k === 8 ? '2' : f))
              .join(',')}\n`,
            'o',
          ),
        /^o line 2 field 9 \(swFlag\): swFlag must be 0 or 1/,
      );
      bad(() => parseLegacyOutData(`${outLines[0]!.replace('0.80', '0.8e0')}\n`), /line 1 field 5 \(score_2\): "0\.8e0" is not a %f number/);
      bad(() => parseLegacyOutData(`${outLines[0]!.replace(/,0\.00,0\.00,0,/, ',0.30,0.00,0,')}\n`), /line 1 field 7 \(score_4\): expected 0\.00/);
    });
  });

  test("Python's nan and inf (no GPS fix) and CRLF line ends are read", () => {
    const line = '00000,     0.33,           nan,          -inf,      nan, 0.00, 0.00, 0.00,12.00,-1.50, 0.00, 0.00, 0.00, 9.81, 0.00, 0.00, 0.00,160.00,3\r\n';
    const [row] = parseLegacyRawData(line);
    assert.ok(Number.isNaN(row!.lat));
    assert.equal(row!.lon, Number.NEGATIVE_INFINITY);
    assert.deepEqual([row!.imu[0], row!.imu[1], row!.speed, row!.joystick], [12, -1.5, 160, 3]);
  });

  test('readLegacyRun returns rows and images sorted by frame; out_data.txt only when asked', async () => {
    await withTmp(async (dir) => {
      const { raw, out } = legacyRows(4, { startFrame: 8 });
      await writeLegacyRun(join(dir, 'run1'), { raw, out });
      const run = await readLegacyRun(join(dir, 'run1'));
      assert.equal(run.raw.length, 4);
      assert.equal(run.out?.length, 4);
      assert.equal(run.outLayout, 'live');
      assert.deepEqual(
        run.images.map((i) => i.frame),
        [8, 9, 10, 11],
      );
      assert.equal(run.images[3]!.name, 'img_00011.jpg');
      await writeFile(join(dir, 'run1', 'out_data.txt'), '1,2,3\n');
      await assert.rejects(readLegacyRun(join(dir, 'run1')), /out_data\.txt line 1/);
      assert.equal((await readLegacyRun(join(dir, 'run1'), { out: false })).out, null);
    });
  });
});
