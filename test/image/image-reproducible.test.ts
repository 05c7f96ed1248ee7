/**
 * Byte-reproducible cards (image/reproducible.ts): the same inputs built twice, in different folders
 * and at different times, give the same image bytes; the ext4 UUIDs and hash seeds are the fixed ones.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fsUuid } from '../../image/layout.js';
import { runSidewalk } from '../helpers/cli-guard.js';
import { Card, makeAppBundle, makeSyntheticTar, makeVerifyKey } from './image-fixtures.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('image build is byte-reproducible', () => {
  const work = mkdtempSync(join(tmpdir(), 'sidewalk-image-repro-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test('two builds of the same inputs give the same sha256; ext4 UUID and hash seed are fixed', async () => {
    const tar = makeSyntheticTar(work);
    makeAppBundle(join(work, 'app'));
    const { publicPem } = makeVerifyKey(work);
    const cards: string[] = [];
    for (const name of ['one', 'two']) {
      mkdirSync(join(work, name));
      const out = join(work, name, 'card.img');
      const r = await runSidewalk(
        ['image', 'build', '-o', out, '--app', join(work, 'app'), '--verify-key', publicPem, '--base-tar', tar, '--boot-size', '64', '--root-size', '64', '--data-size', '32'],
        {
          timeoutMs: 120_000,
          env: { SOURCE_DATE_EPOCH: '1717200000' },
        },
      );
      assert.equal(r.code, 0, r.stderr);
      cards.push(out);
    }
    assert.equal(sha256(cards[1]!), sha256(cards[0]!));
    const card = new Card(cards[0]!);
    const stats = card.debugfs(5, 'stats');
    assert.match(stats, new RegExp(`Filesystem UUID:\\s+${fsUuid(5)}`));
    assert.match(stats, new RegExp(`Directory Hash Seed:\\s+${fsUuid(5)}`));
    assert.match(card.debugfs(5, 'stat /etc/hostname'), /ctime: 0x665a6480:00000000/, 'change time is the epoch');
  });
});
