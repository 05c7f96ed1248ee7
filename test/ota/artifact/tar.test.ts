import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ByteReader } from '../../../ota/artifact/byte-reader.js';
import { TarReader } from '../../../ota/artifact/tar.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { chunked, collect, joinTar, makeTempDir } from './fixtures.js';
import { Readable } from 'node:stream';

const run = promisify(execFile);
let dir: string;
let cleanup: () => Promise<void>;
const longName = `${'d'.repeat(60)}/${'very-long-file-name-'.repeat(4)}.bin`;
const content = Buffer.from('x'.repeat(1500));

async function list(bytes: Buffer): Promise<{ name: string; type: string; data: Buffer }[]> {
  const tar = new TarReader(new ByteReader(chunked(bytes, 333), 'test.tar'));
  const out: { name: string; type: string; data: Buffer }[] = [];
  for (let e = await tar.next(); e; e = await tar.next()) {
    out.push({ name: e.name, type: e.type, data: await collect(Readable.from(tar.body(e))) });
  }
  return out;
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-tar-'));
  await mkdir(join(dir, 'src', 'd'.repeat(60)), { recursive: true });
  await writeFile(join(dir, 'src', longName), content);
  await writeFile(join(dir, 'src', 'short.txt'), 'short\n');
});
after(() => cleanup());

describe('streaming tar reader', () => {
  for (const format of ['gnu', 'pax', 'ustar'] as const) {
    test(`GNU tar --format=${format}: long names and bodies`, async () => {
      const out = join(dir, `${format}.tar`);
      await run('tar', [`--format=${format}`, '-cf', out, '-C', join(dir, 'src'), 'short.txt', longName]);
      const entries = await list(await readFile(out));
      assert.deepEqual(
        entries.map((e) => e.name),
        ['short.txt', longName],
      );
      assert.equal(entries[0]!.data.toString(), 'short\n');
      assert.ok(entries[1]!.data.equals(content));
    });
  }

  test('PAX size and path override the ustar fields', async () => {
    const rec = (k: string, v: string): string => {
      const body = ` ${k}=${v}\n`.length;
      let len = body + 1;
      while (String(len).length + body !== len) len++;
      return `${len} ${k}=${v}\n`;
    };
    const pax = Buffer.from(rec('path', 'from-pax.bin'));
    const tarBytes = joinTar([
      { name: 'PaxHeader', data: pax },
      { name: 'ignored', data: Buffer.from('abc') },
    ]);
    tarBytes[156] = 'x'.charCodeAt(0); // make the first entry a PAX header and fix its checksum
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tarBytes[i]!;
    tarBytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const entries = await list(tarBytes);
    assert.deepEqual(
      entries.map((e) => [e.name, e.data.toString()]),
      [['from-pax.bin', 'abc']],
    );
  });

  test('a damaged header checksum and a body cut short are refused with codes', async () => {
    const good = joinTar([{ name: 'a', data: Buffer.from('hello') }]);
    const bad = Buffer.from(good);
    bad[0] = 'b'.charCodeAt(0);
    await assert.rejects(list(bad), (err) => isSidewalkError(err, 'ARTIFACT_TAR_INVALID') && /checksum/.test(err.message));
    await assert.rejects(list(good.subarray(0, 514)), (err) => isSidewalkError(err, 'ARTIFACT_TRUNCATED') && /byte 514/.test(err.message));
    await assert.rejects(list(good.subarray(0, 300)), (err) => isSidewalkError(err, 'ARTIFACT_TRUNCATED'));
  });
});
