import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { nodeFs } from '../../../ota/fs.js';
import { applyProvides, commitProvides, readProvides } from '../../../ota/install/provides.js';
import { VersionStore } from '../../../ota/install/store.js';
import { makeTempDirSync } from '../../helpers/temp.js';

describe('provides', () => {
  test('clears_artifact_provides erases matching keys unless the new artifact provides them', () => {
    const current = { artifact_name: 'os-1', 'rootfs-image.version': '1', 'rootfs-image.sidewalk-model.version': '1.0.0', 'rootfs-image.checksum': 'ab', other: 'x' };
    assert.deepEqual(applyProvides(current, { artifact_name: 'model-2', 'rootfs-image.sidewalk-model.version': '2.0.0' }, ['rootfs-image.sidewalk-model.*']), {
      artifact_name: 'model-2',
      'rootfs-image.version': '1',
      'rootfs-image.sidewalk-model.version': '2.0.0',
      'rootfs-image.checksum': 'ab',
      other: 'x',
    });
    assert.deepEqual(applyProvides(current, { artifact_name: 'os-2', 'rootfs-image.version': '2' }, ['rootfs-image.*']), { artifact_name: 'os-2', 'rootfs-image.version': '2', other: 'x' });
    assert.deepEqual(applyProvides(current, { artifact_name: 'os-2', 'rootfs-image.version': '2' }, ['rootfs-image.*'], ['rootfs-image.sidewalk-model.*']), {
      artifact_name: 'os-2',
      'rootfs-image.version': '2',
      'rootfs-image.sidewalk-model.version': '1.0.0',
      other: 'x',
    });
  });

  test('commit is atomic, idempotent and remembers the previous provides', async () => {
    const dir = makeTempDirSync('sidewalk-provides-');
    try {
      const path = join(dir, 'provides.json');
      assert.deepEqual(await readProvides(nodeFs, path, { artifact_name: 'factory' }), { current: { artifact_name: 'factory' }, previous: null });
      await commitProvides(nodeFs, path, { artifact_name: 'a' }, []);
      const once = await commitProvides(nodeFs, path, { artifact_name: 'b' }, []);
      const twice = await commitProvides(nodeFs, path, { artifact_name: 'b' }, []);
      assert.deepEqual(once, { current: { artifact_name: 'b' }, previous: { artifact_name: 'a' } });
      assert.deepEqual(twice, once, 'a resumed commit changes nothing');
      assert.deepEqual(await readProvides(nodeFs, path), once);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('version store', () => {
  let dir: string;
  before(() => {
    dir = makeTempDirSync('sidewalk-store-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tarOf = (py: string) =>
    execFileSync('python3', ['-c', `import io,sys,tarfile\nb=io.BytesIO()\nt=tarfile.open(fileobj=b,mode='w:gz')\n${py}\nt.close()\nsys.stdout.buffer.write(b.getvalue())`]);
  const addFile = (name: string, text: string) => `d=${JSON.stringify(text)}.encode()\ni=tarfile.TarInfo(${JSON.stringify(name)}); i.size=len(d); t.addfile(i, io.BytesIO(d))`;

  test('stages an app tarball, switches atomically, and keeps current and previous', async () => {
    const store = new VersionStore(nodeFs, join(dir, 'app'), 'app');
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
      await store.beginStaging();
      await store.stageTar(Readable.from([tarOf(`${addFile('./main.js', `app ${v}`)}\n${addFile('lib/util.js', 'u')}`)]), 'app.tar.gz');
      await store.finishStaging(v);
      await store.switchTo(v, await store.current());
      await store.prune([]);
    }
    assert.equal(readlinkSync(join(dir, 'app', 'current')), 'versions/1.2.0');
    assert.equal(await store.previous(), '1.1.0');
    assert.equal(readFileSync(join(dir, 'app', 'current', 'main.js'), 'utf8'), 'app 1.2.0');
    assert.equal(readFileSync(join(dir, 'app', 'current', 'lib', 'util.js'), 'utf8'), 'u');
    assert.equal(await store.hasVersion('1.0.0'), false, 'older versions pruned');
    await assert.rejects(
      (async () => {
        await store.beginStaging();
        await store.finishStaging('1.1.0');
      })(),
      (e) => isSidewalkError(e, 'OTA_VERSION_INSTALLED'),
    );
  });

  test('refuses paths outside the bundle, links, and unsafe version names', async () => {
    const store = new VersionStore(nodeFs, join(dir, 'evil'), 'app');
    await store.beginStaging();
    await assert.rejects(store.stageTar(Readable.from([tarOf(addFile('../../etc/passwd', 'x'))]), 'evil.tar.gz'), (e) => isSidewalkError(e, 'OTA_BUNDLE_PATH'));
    await store.beginStaging();
    const link = `i=tarfile.TarInfo('bin'); i.type=tarfile.SYMTYPE; i.linkname='/usr/bin'; t.addfile(i)`;
    await assert.rejects(store.stageTar(Readable.from([tarOf(link)]), 'link.tar.gz'), /bin \(header at byte 0\) is tar type "2"/);
    await assert.rejects(store.finishStaging('../x'), (e) => isSidewalkError(e, 'OTA_VERSION_INVALID'));
  });
});
