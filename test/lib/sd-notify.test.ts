import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNotifier } from '../../lib/sd-notify.js';
import { listenNotifySocket } from '../helpers/notify-socket.js';

test('notifier sends READY, STATUS and WATCHDOG datagrams to NOTIFY_SOCKET', async () => {
  const sock = await listenNotifySocket();
  try {
    const n = createNotifier({ NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '4000000', WATCHDOG_PID: String(process.pid) });
    assert.equal(n.enabled, true);
    assert.equal(n.watchdogIntervalMs, 4000);
    await n.notify({ READY: 1, STATUS: 'limit: 15.0 fps' });
    await n.notify({ WATCHDOG: 1 });
    // Datagrams arrive through the event loop: wait for them, not for a time.
    while (sock.messages.length < 2) await new Promise((r) => setImmediate(r));
    n.close();
    assert.deepEqual(sock.messages, ['READY=1\nSTATUS=limit: 15.0 fps', 'WATCHDOG=1']);
  } finally {
    await sock.close();
  }
});

test('watchdog interval is ignored when WATCHDOG_PID names another process', () => {
  const n = createNotifier({ NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '1' }, 4242);
  assert.equal(n.watchdogIntervalMs, 0);
  n.close();
});

test('without NOTIFY_SOCKET the notifier is a no-op', async () => {
  const n = createNotifier({});
  assert.equal(n.enabled, false);
  await n.notify({ READY: 1 });
});
