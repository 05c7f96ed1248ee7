/**
 * Coral probing. The Coral delegate is never passed in these tests: without libedgetpu it would
 * segfault the test process (runtime.md §0 item 5), which is exactly what the probe prevents.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../../lib/errors.js';
import { createTfliteClassifier } from '../../../runtime/inference/classifier.js';
import { findEdgeTpuLibrary, probeEdgeTpu } from '../../../runtime/inference/edgetpu.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { makeTempDir } from '../../helpers/temp.js';

let tmp: string;
before(async () => {
  tmp = await makeTempDir('sidewalk-edgetpu-');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('Edge TPU probe', () => {
  test('no libedgetpu.so.1: EDGETPU_UNAVAILABLE naming the library and where it looked', async () => {
    const empty = join(tmp, 'empty-lib');
    await mkdir(empty, { recursive: true });
    await assert.rejects(
      probeEdgeTpu({ libraryDirs: [empty], useLdconfig: false }),
      (err) => isSidewalkError(err, 'EDGETPU_UNAVAILABLE') && /libedgetpu\.so\.1 not found/.test(err.message) && err.message.includes(empty),
    );
  });

  test('library present but no accelerator: EDGETPU_UNAVAILABLE; a USB accelerator in sysfs is found', async () => {
    const lib = join(tmp, 'lib');
    const sys = join(tmp, 'root');
    await mkdir(lib, { recursive: true });
    await writeFile(join(lib, 'libedgetpu.so.1'), '');
    await mkdir(join(sys, 'dev'), { recursive: true });
    assert.equal(await findEdgeTpuLibrary({ libraryDirs: [lib] }), join(lib, 'libedgetpu.so.1'));
    await assert.rejects(probeEdgeTpu({ libraryDirs: [lib], sysRoot: sys }), (err) => isSidewalkError(err, 'EDGETPU_UNAVAILABLE') && /no Coral accelerator was found/.test(err.message));
    const usb = join(sys, 'sys/bus/usb/devices/1-1.2');
    await mkdir(usb, { recursive: true });
    await writeFile(join(usb, 'idVendor'), '18d1\n');
    await writeFile(join(usb, 'idProduct'), '9302\n');
    assert.deepEqual(await probeEdgeTpu({ libraryDirs: [lib], sysRoot: sys }), { libraryPath: join(lib, 'libedgetpu.so.1'), devices: ['usb'] });
  });

  test('createTfliteClassifier with delegate edgetpu and no library rejects before any interpreter exists', async () => {
    const empty = join(tmp, 'empty-lib-2');
    await mkdir(empty, { recursive: true });
    await assert.rejects(createTfliteClassifier(join(REPO_ROOT, 'test/fixtures/models/float'), { delegate: 'edgetpu', edgetpu: { libraryDirs: [empty], useLdconfig: false } }), (err) =>
      isSidewalkError(err, 'EDGETPU_UNAVAILABLE'),
    );
  });

  test('this machine: the default probe (ldconfig + library dirs) agrees with the filesystem', async () => {
    const found = await findEdgeTpuLibrary();
    if (found === undefined) {
      await assert.rejects(probeEdgeTpu(), (err) => isSidewalkError(err, 'EDGETPU_UNAVAILABLE'));
    } else {
      assert.match(found, /libedgetpu\.so\.1$/);
    }
  });
});
