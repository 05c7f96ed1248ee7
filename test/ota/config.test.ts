import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSidewalkError } from '../../lib/errors.js';
import { loadOtaConfig, validateOtaConfig } from '../../ota/config.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDirSync } from '../helpers/temp.js';

describe('OTA config', () => {
  let dir: string;
  before(() => {
    dir = makeTempDirSync('sidewalk-ota-config-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('fills defaults that match the image (runtime loads /var/lib/sidewalk/models/current)', () => {
    const c = validateOtaConfig({ device_type: 'raspberrypi4', boot: { backend: 'none' } });
    assert.equal(c.state_dir, '/var/lib/sidewalk/ota');
    assert.equal(c.stores.model, '/var/lib/sidewalk/models');
    assert.equal(c.daemon.inbox_dir, '/var/lib/sidewalk/ota/inbox');
    assert.equal(c.runtime.metrics_url, 'http://127.0.0.1:9101/metrics');
    assert.equal(c.health.model.window_s, 120);
    assert.equal(c.lock.timeout_s, 0);
    assert.equal(c.allow_unsigned, false);
  });

  test('the real backend needs its slots; every violation is listed as path: message', () => {
    assert.throws(() => validateOtaConfig({ device_type: 'raspberrypi4' }), /boot\.slots: required when boot\.backend is real/);
    try {
      validateOtaConfig({ boot: { slots: { A: { boot_partition: 0, boot_device: '/dev/a' } } }, health: { os: { window_s: 'long' } } });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(isSidewalkError(err, 'CONFIG_INVALID'));
      const problems = err.details.problems as string[];
      assert.ok(problems.includes('device_type: required field is missing'), problems.join('\n'));
      assert.ok(problems.includes('boot.slots.B: required field is missing'), problems.join('\n'));
      assert.ok(problems.includes('boot.slots.A.root_device: required field is missing'), problems.join('\n'));
      assert.ok(problems.includes('boot.slots.A.boot_partition: must be >= 1'), problems.join('\n'));
      assert.ok(problems.includes('health.os.window_s: must be number'), problems.join('\n'));
    }
  });

  test('the example config in ota/ validates', () => {
    const c = loadOtaConfig(join(REPO_ROOT, 'ota', 'ota.example.yaml'));
    assert.equal(c.boot.slots?.B.boot_partition, 3);
    assert.equal(c.boot.selector_device, '/dev/disk/by-partuuid/ab12cd34-01');
    assert.equal(c.health.model.min_confidence, 0.55);
  });

  test('relative paths resolve against the file; YAML errors name the line', () => {
    const path = join(dir, 'ota.yaml');
    writeFileSync(
      path,
      'device_type: raspberrypi5\nstate_dir: state\nkeys: [keys/a.pem]\nboot:\n  slots:\n    A: { boot_partition: 2, boot_device: /dev/disk/by-partuuid/ab12cd34-02, root_device: /dev/disk/by-partuuid/ab12cd34-05 }\n    B: { boot_partition: 3, boot_device: /dev/disk/by-partuuid/ab12cd34-03, root_device: /dev/disk/by-partuuid/ab12cd34-06 }\n',
    );
    const c = loadOtaConfig(path);
    assert.equal(c.state_dir, join(dir, 'state'));
    assert.equal(c.daemon.inbox_dir, join(dir, 'state', 'inbox'));
    assert.deepEqual(c.keys, [join(dir, 'keys', 'a.pem')]);
    assert.equal(c.boot.slots?.B.root_device, '/dev/disk/by-partuuid/ab12cd34-06');
    writeFileSync(path, 'device_type: [unclosed\n');
    assert.throws(() => loadOtaConfig(path), /is not valid YAML:\n {2}line \d+:/);
  });
});

describe('updater lock', () => {
  test('one holder at a time; stale locks (dead pid or an earlier boot) are replaced', async () => {
    const { acquireLock } = await import('../../ota/device.js');
    const { configureLogging } = await import('../../lib/log.js');
    configureLogging({ level: 'silent' });
    const dir = makeTempDirSync('sidewalk-lock-');
    try {
      const release = await acquireLock(dir);
      await assert.rejects(acquireLock(dir), (e) => isSidewalkError(e, 'OTA_OTHER_UPDATER_RUNNING') && new RegExp(`pid ${process.pid}`).test(e.message));
      await release();
      writeFileSync(join(dir, 'lock'), `${process.pid} some-earlier-boot\n`);
      const again = await acquireLock(dir);
      await again();
      writeFileSync(join(dir, 'lock'), '999999999 x\n');
      await (await acquireLock(dir))();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
