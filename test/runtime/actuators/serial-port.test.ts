import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SerialPort } from '../../../runtime/actuators/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { socatPair } from './socat-pair.js';

const run = promisify(execFile);

test('serial: the whole line is set (8N1, no flow control, modem lines ignored), whatever the tty inherited', async () => {
  const pair = await socatPair();
  const port = new SerialPort({ device: pair.device, baud: 9600 });
  try {
    // A tty left with two stop bits, hardware flow control and modem control by whoever used it
    // before (a Linux pty forces cs8 -parenb itself, so those two are checked below but not provoked).
    await run('stty', ['-F', pair.device, 'cstopb', 'crtscts', '-clocal']).catch(() => undefined);
    const before = (await run('stty', ['-F', pair.device, '-a'])).stdout;
    assert.match(before, /(^|\s)cstopb\s/);
    assert.match(before, /(^|\s)-clocal\s/);
    await port.open();
    const { stdout } = await run('stty', ['-F', pair.device, '-a']);
    for (const flag of ['cs8', '-parenb', '-cstopb', '-crtscts', 'clocal', '-icanon', '-echo']) {
      assert.match(stdout, new RegExp(`(^|\\s)${flag.replace('-', '\\-')}(\\s|$)`), `${flag} in: ${stdout}`);
    }
    assert.match(stdout, /speed 9600 baud/);
  } finally {
    await port.close();
    await pair.close();
  }
});

test('serial: a second user of the same UART in one process (another name for it) is refused', async () => {
  const pair = await socatPair();
  const alias = join(dirname(pair.device), 'serial0-alias');
  await symlink(pair.device, alias);
  const limiter = new SerialPort({ device: pair.device, baud: 115200 });
  const gps = new SerialPort({ device: alias, baud: 9600 });
  try {
    await limiter.open();
    await assert.rejects(gps.open(), (e: unknown) => isSidewalkError(e, 'SERIAL_PORT_IN_USE') && (e as Error).message.includes(pair.device));
    await limiter.close();
    await gps.open(); // free again once closed
  } finally {
    await gps.close();
    await limiter.close();
    await pair.close();
  }
});
