import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configureLogging } from '../../lib/log.js';
import { isSidewalkError } from '../../lib/errors.js';
import { nodeFs } from '../../ota/fs.js';
import { Journal, encodeRecord, parseJournal, type OtaState } from '../../ota/journal.js';
import { CrashFs } from './crash-fs.js';
import { makeTempDirSync } from '../helpers/temp.js';

configureLogging({ level: 'silent' });

describe('journal', () => {
  let dir: string;
  before(() => {
    dir = makeTempDirSync('sidewalk-journal-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('records survive a reopen in order, with increasing sequence numbers', async () => {
    const path = join(dir, 'a', 'journal.log');
    const j = await Journal.open<{ n: number }>(nodeFs, path);
    for (const [i, s] of (['download', 'install', 'reboot'] as OtaState[]).entries()) await j.append(s, { n: i });
    const again = await Journal.open<{ n: number }>(nodeFs, path);
    assert.deepEqual(
      again.records.map((r) => [r.seq, r.state, r.data.n]),
      [
        [1, 'download', 0],
        [2, 'install', 1],
        [3, 'reboot', 2],
      ],
    );
  });

  test('a torn last record is dropped at every byte offset, and the next append starts cleanly', async () => {
    const path = join(dir, 'torn.log');
    const j = await Journal.open<string>(nodeFs, path);
    await j.append('download', 'x');
    await j.append('install', 'y');
    const good = readFileSync(path);
    const last = Buffer.from(encodeRecord({ seq: 3, atMs: 1, state: 'reboot', data: 'z' }));
    for (let cut = 0; cut < last.length; cut++) {
      writeFileSync(path, Buffer.concat([good, last.subarray(0, cut)]));
      const parsed = parseJournal<string>(readFileSync(path));
      assert.equal(parsed.records.length, 2, `cut at ${cut}`);
      assert.equal(parsed.invalidBytes, cut);
    }
    const reopened = await Journal.open<string>(nodeFs, path);
    assert.equal(reopened.last?.state, 'install');
    await reopened.append('verify', 'w');
    assert.deepEqual(
      (await Journal.open<string>(nodeFs, path)).records.map((r) => r.state),
      ['download', 'install', 'verify'],
    );
  });

  test('a flipped byte inside a record is caught by its checksum', async () => {
    const path = join(dir, 'flip.log');
    const j = await Journal.open<string>(nodeFs, path);
    await j.append('download', 'abc');
    await j.append('install', 'def');
    const bytes = readFileSync(path);
    const idx = bytes.indexOf('def');
    bytes[idx] = 'x'.charCodeAt(0);
    writeFileSync(path, bytes);
    assert.deepEqual(
      parseJournal(bytes).records.map((r) => r.state),
      ['download'],
    );
  });

  test('it compacts to the last record when it grows past maxRecords', async () => {
    const path = join(dir, 'compact.log');
    const j = await Journal.open<number>(nodeFs, path, { maxRecords: 5 });
    for (let i = 0; i < 12; i++) await j.append(i % 2 ? 'install' : 'download', i);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.ok(lines.length <= 5, `${lines.length} lines`);
    const again = await Journal.open<number>(nodeFs, path);
    assert.equal(again.last?.data, 11);
    assert.equal(again.last?.seq, 12);
  });

  test("the record is fsync'd (file and new directory entry) before append resolves", async () => {
    const path = join(dir, 'sync', 'journal.log');
    const fs = new CrashFs({ cutAt: null });
    const j = await Journal.open<number>(fs, path);
    await j.append('download', 1);
    const kinds = fs.log.map((e) => e.kind);
    assert.ok(kinds.indexOf('fsync') > kinds.indexOf('write'));
    assert.ok(kinds.lastIndexOf('fsync-dir') > kinds.indexOf('fsync'));
  });

  test('unknown states are refused', async () => {
    const j = await Journal.open<number>(nodeFs, join(dir, 'bad.log'));
    await assert.rejects(j.append('dancing' as OtaState, 1), (e) => isSidewalkError(e, 'OTA_JOURNAL_STATE'));
  });

  test('garbage appended by someone else is ignored after the last good record', async () => {
    const path = join(dir, 'garbage.log');
    const j = await Journal.open<number>(nodeFs, path);
    await j.append('download', 1);
    appendFileSync(path, 'not a record\n');
    truncateSync(path, readFileSync(path).length);
    assert.equal((await Journal.open<number>(nodeFs, path)).records.length, 1);
  });
});
