/**
 * image/systemd/sidewalk-ota.service passes `systemd-analyze verify` with no output at all
 * (its exit code alone misses unknown keys: image/README.md, "Tests"), in a root that holds the host's
 * systemd units and a stand-in for the sidewalk binary.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDirSync } from '../helpers/temp.js';

const UNIT = join(REPO_ROOT, 'image', 'systemd', 'sidewalk-ota.service');

describe('sidewalk-ota.service', () => {
  let root: string;
  before(() => {
    root = makeTempDirSync('sidewalk-unit-');
    mkdirSync(join(root, 'usr', 'lib', 'systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
    mkdirSync(join(root, 'opt', 'sidewalk', 'bin'), { recursive: true });
    writeFileSync(join(root, 'opt', 'sidewalk', 'bin', 'sidewalk'), '#!/bin/sh\n');
    chmodSync(join(root, 'opt', 'sidewalk', 'bin', 'sidewalk'), 0o755);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const verify = (text: string) => {
    writeFileSync(join(root, 'etc', 'systemd', 'system', 'sidewalk-ota.service'), text);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', '/etc/systemd/system/sidewalk-ota.service'], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  };

  test('verifies cleanly', () => {
    assert.deepEqual(verify(readFileSync(UNIT, 'utf8')), { status: 0, output: '' });
  });

  test('the check would catch a misspelt key (so the clean result means something)', () => {
    const r = verify(readFileSync(UNIT, 'utf8').replace('WatchdogSec=', 'WatchdogSecs='));
    assert.match(r.output, /Unknown key 'WatchdogSecs'/);
  });

  test('runs the daemon as a notify service with a watchdog, after the runtime, on the data partition', () => {
    const text = readFileSync(UNIT, 'utf8');
    assert.match(text, /^Type=notify$/m);
    assert.match(text, /^WatchdogSec=\d+$/m);
    assert.match(text, /^ExecStart=\/opt\/sidewalk\/bin\/sidewalk .*ota daemon --config \/etc\/sidewalk\/ota\.yaml$/m);
    assert.match(text, /^ReadWritePaths=.*\/var\/lib\/sidewalk/m);
    // `systemctl reboot "0 tryboot"` writes /run/systemd/reboot-param atomically (temp file + rename).
    assert.match(text, /^ReadWritePaths=.*\/run\/systemd(\s|$)/m);
    assert.match(text, /^WantedBy=multi-user\.target$/m);
  });
});
