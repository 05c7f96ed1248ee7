import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';
import { verifyUnits } from '../../helpers/systemd-verify.js';

const unit = join(REPO_ROOT, 'image/systemd/sidewalk-runtime.service');

test('sidewalk-runtime.service passes systemd-analyze verify with no warnings', async () => {
  const { code, output } = await verifyUnits([unit]);
  assert.equal(code, 0, output);
  assert.equal(output, '');
  const text = await readFile(unit, 'utf8');
  for (const key of ['Type=notify', 'WatchdogSec=', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict']) {
    assert.ok(text.includes(key), `unit lacks ${key}`);
  }
});

test('the verification catches a misspelt key (so the check above can fail)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'unit-'));
  try {
    const broken = join(dir, 'sidewalk-runtime.service');
    await writeFile(broken, (await readFile(unit, 'utf8')).replace('WatchdogSec=', 'WatchdogSecc='));
    const { output } = await verifyUnits([broken]);
    assert.match(output, /Unknown key 'WatchdogSecc'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
