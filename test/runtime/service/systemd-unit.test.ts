import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';
import { verifyUnits } from '../../helpers/systemd-verify.js';
import { makeTempDir } from '../../helpers/temp.js';

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
  const dir = await makeTempDir('unit-');
  try {
    const broken = join(dir, 'sidewalk-runtime.service');
    await writeFile(broken, (await readFile(unit, 'utf8')).replace('WatchdogSec=', 'WatchdogSecc='));
    const { output } = await verifyUnits([broken]);
    assert.match(output, /Unknown key 'WatchdogSecc'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the stop path forces the limited state after any exit, with nothing of the old run left', async () => {
  const text = await readFile(unit, 'utf8');
  assert.match(text, /^ExecStopPost=\/opt\/sidewalk\/bin\/sidewalk limiter safe --config \/etc\/sidewalk\/runtime\.yaml$/m);
  assert.equal(text.match(/^ExecStart=.* --config (\S+)$/m)?.[1], '/etc/sidewalk/runtime.yaml', 'the stop path reads the same config as the runtime');
  // control-group: the orphaned gpioset children are gone before ExecStopPost runs.
  assert.match(text, /^KillMode=control-group$/m);
});

test('libcamera can reach udev (AF_NETLINK) and the dma-heap nodes (char-dma_heap)', async () => {
  const text = await readFile(unit, 'utf8');
  assert.match(text, /^RestrictAddressFamilies=.*\bAF_NETLINK\b/m);
  assert.match(text, /^DeviceAllow=char-dma_heap rw$/m);
  assert.doesNotMatch(text, /^DeviceAllow=\/dev\/dma_heap rw$/m, 'a folder path in DeviceAllow allows nothing');
});

test('the image turns on the hardware watchdog and strict GPIO release, and frees the header UART', async () => {
  const watchdog = await readFile(join(REPO_ROOT, 'image/rootfs/etc/systemd/system.conf.d/sidewalk-watchdog.conf'), 'utf8');
  assert.match(watchdog, /^\[Manager\]$/m);
  const seconds = Number(/^RuntimeWatchdogSec=(\d+)s?$/m.exec(watchdog)?.[1]);
  assert.ok(seconds > 0 && seconds <= 15, `RuntimeWatchdogSec=${seconds}: on, and within the bcm2835 watchdog's ~15 s`);
  const config = (await readFile(join(REPO_ROOT, 'image/boot/config.txt'), 'utf8')).split('\n').map((l) => l.trim());
  for (const line of ['dtparam=strict_gpiod', 'enable_uart=1', 'dtoverlay=disable-bt']) assert.ok(config.includes(line), `config.txt lacks ${line}`);
});
