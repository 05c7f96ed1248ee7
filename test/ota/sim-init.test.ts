/**
 * `sidewalk ota sim init DIR` (the walk-through of ota/README.md): the simulated scooter it makes boots,
 * reports its state, installs a signed model as its first, and an unreachable URL says how long it is
 * retried before it fails.
 */
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectCleanFailure, runSidewalk } from '../helpers/cli-guard.js';
import { FIXTURES } from '../helpers/paths.js';
import { freePort } from '../helpers/service-process.js';
import { runCliSync } from '../helpers/cli.js';
import { makeTempDirSync } from '../helpers/temp.js';

describe('sidewalk ota sim init', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = makeTempDirSync('sidewalk-sim-init-');
    const r = await runSidewalk(['ota', 'sim', 'init', join(dir, 'scooter')]);
    assert.equal(r.code, 0, r.stderr);
    config = join(dir, 'scooter', 'ota.yaml');
    assert.match(r.stdout, /next: sidewalk ota sim-boot -c /);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the simulated scooter boots OS 1.0 from slot A, with no model yet and a private signing key kept 0600', async () => {
    const boot = await runSidewalk(['ota', 'sim-boot', '-c', config]);
    assert.equal(boot.code, 0, boot.stderr);
    assert.match(boot.stdout, /booted slot A \(partition 2\), OS 1\.0/);
    const status = JSON.parse((await runSidewalk(['ota', 'status', '--json', '-c', config])).stdout) as {
      state: string;
      stores: { model: { current: string | null } };
      provides: Record<string, string>;
    };
    assert.equal(status.state, 'idle');
    assert.equal(status.stores.model.current, null);
    assert.equal(status.provides['rootfs-image.version'], '1.0');
    assert.equal(statSync(join(dir, 'scooter', 'host-signing-key.pem')).mode & 0o777, 0o600);
  });

  test('a model artifact signed with its key installs as the first model', async () => {
    const artifact = join(dir, 'model.mender');
    const made = runCliSync(['artifact', 'model', join(FIXTURES, 'models', 'float'), '--allow-demo', '-k', join(dir, 'scooter', 'host-signing-key.pem'), '-t', 'raspberrypi4', '-o', artifact]);
    assert.equal(made.code, 0, made.stderr);
    const r = await runSidewalk(['ota', 'install', artifact, '-c', config], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /install model\.mender: done/);
    assert.equal(readlinkSync(join(dir, 'scooter', 'models', 'current')), join('versions', '1.0.0'));
    assert.match(readFileSync(join(dir, 'scooter', 'status.json'), 'utf8'), /"model_version":"1\.0\.0"/);
  });

  test('an unreachable URL is retried for a stated time, then fails with a code', async () => {
    const port = await freePort();
    const r = await expectCleanFailure({ name: 'unreachable', code: 'OTA_DOWNLOAD_FAILED', args: ['ota', 'install', `http://127.0.0.1:${port}/os.mender`, '-c', config] });
    assert.match(r.stderr, /if it cannot be reached, retrying for up to 3 s \(2 retries, back-off 1, 2 s;/);
  });
});
