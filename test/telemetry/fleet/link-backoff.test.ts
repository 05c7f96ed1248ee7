/**
 * FleetLink's reconnect back-off: the delay rule itself, and a link to a real TLS Mosquitto that goes
 * away: its attempts thin out (exponential, not mqtt.js's fixed period), and it comes back and resets
 * its count once the broker is up again.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FleetLink, reconnectDelayMs } from '../../../telemetry/fleet/link.js';
import { removeBroker, startBroker, type SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../../../telemetry/fleet/sim/common.js';

describe('reconnect back-off', () => {
  test('the ceiling doubles from the base up to the cap; the delay is its upper half, by the random draw', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => [reconnectDelayMs(n, 2000, 60_000, () => 0), reconnectDelayMs(n, 2000, 60_000, () => 1)]),
      [
        [1000, 2000],
        [2000, 4000],
        [4000, 8000],
        [8000, 16000],
      ],
    );
    assert.deepEqual([reconnectDelayMs(6, 2000, 60_000, () => 0), reconnectDelayMs(6, 2000, 60_000, () => 1)], [30_000, 60_000], 'capped');
    assert.equal(
      reconnectDelayMs(5000, 2000, 60_000, () => 0.5),
      45_000,
      'no overflow after many attempts',
    );
    assert.equal(
      reconnectDelayMs(0, 2000, 60_000, () => 0),
      1000,
      'attempt numbers start at 1',
    );
    // Many devices that lost the broker together spread over the whole upper half.
    const draws = Array.from({ length: 1000 }, () => reconnectDelayMs(3, 2000, 60_000));
    assert.ok(Math.min(...draws) >= 4000 && Math.max(...draws) <= 8000);
    assert.equal(new Set(draws.map((d) => Math.min(7, Math.floor((d - 4000) / 500)))).size, 8, 'every 500 ms bucket of 4-8 s is used');
  });

  describe('against a real broker that goes away', () => {
    let root: string;
    let broker: SimBroker;
    let link: FleetLink;
    before(async () => {
      root = await tempDir('sidewalk-link-backoff-');
      broker = await startBroker([{ id: 'bk-1', location: 'oslo' }]);
      link = new FleetLink({ ...(await broker.tls('bk-1')), clientId: 'bk-1', reconnectMs: 100, reconnectMaxMs: 60_000 }, {});
      link.start();
      await link.waitConnected();
    });
    after(async () => {
      await link?.end();
      if (broker) await removeBroker(broker);
      await rm(root, { recursive: true, force: true });
    });

    test('attempts thin out while it is down; it reconnects when it is back and the count starts again', async () => {
      await broker.stop();
      await waitFor('the link saw the broker go', () => !link.connected);
      await sleep(3000);
      // Refused at once each time: a fixed 100 ms period would make about 30 attempts in 3 s; doubling
      // from 50-100 ms makes at most 6 (50 + 100 + 200 + 400 + 800 + 1600 ms before the 6th).
      const attempts = link.reconnectAttempts;
      assert.ok(attempts >= 2 && attempts <= 6, `${attempts} reconnect attempts in 3 s`);
      await broker.restart();
      // The next attempt is due within the current ceiling (at most 6.4 s after 7 attempts).
      await waitFor('the link is back', () => link.connected, 30_000);
      assert.equal(link.reconnectAttempts, 0);
    });
  });
});
