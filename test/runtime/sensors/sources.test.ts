import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpeedSource, NmeaSpeedSource, ReplayLogSpeedSource, SimulatedSpeedSource } from '../../../runtime/sensors/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { openPeer, socatPair } from '../actuators/socat-pair.js';
import { settle } from '../actuators/speed-limiter-contract.js';

const RMC_CLASSIC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';
const GNVTG_LA = '$GNVTG,85.10,T,,M,12.150,N,22.502,K,A*1F';
const RMC_NO_FIX = '$GPRMC,235947.000,V,0000.0000,N,00000.0000,E,,,041299,,,N*7F';

describe('NMEA GPS source over a serial pty (socat)', () => {
  test('reads speed and position, ignores bad checksums, goes stale, and reports no-fix as unknown', async () => {
    const pair = await socatPair();
    const peer = await openPeer(pair.peer);
    let clockMs = 1_000;
    const source = createSpeedSource({ kind: 'nmea', device: pair.device, baud: 9600, staleAfterMs: 3000, nowMs: () => clockMs }) as NmeaSpeedSource;
    try {
      await source.start();
      assert.equal(source.current(), null, 'no reading before the first sentence');
      // A corrupted sentence first, then a valid RMC split across two writes.
      peer.write(`${RMC_CLASSIC.replace('022.4', '092.4')}\r\n`);
      peer.write(RMC_CLASSIC.slice(0, 20));
      peer.write(`${RMC_CLASSIC.slice(20)}\r\n`);
      const first = await settle(
        async () => source.current(),
        (r) => r !== null,
      );
      assert.ok(first);
      assert.ok(Math.abs(first.speedKph - 22.4 * 1.852) < 1e-9);
      assert.ok(first.position && Math.abs(first.position.lat - (48 + 7.038 / 60)) < 1e-9);
      assert.equal(first.atMs, 1_000);
      assert.equal(source.stats.badChecksum, 1);

      clockMs = 2_000;
      peer.write(`${GNVTG_LA}\r\n`);
      const vtg = await settle(
        async () => source.current(),
        (r) => r !== null && r.atMs === 2_000,
      );
      assert.ok(vtg);
      assert.equal(vtg.speedKph, 22.502);
      assert.ok(vtg.position, 'VTG keeps the last RMC position');

      clockMs = 5_000;
      assert.equal(source.current()?.speedKph, 22.502, 'exactly staleAfterMs old is still current');
      clockMs = 5_001;
      assert.equal(source.current(), null, 'older than staleAfterMs is no reading');

      peer.write(`${GNVTG_LA}\r\n${RMC_NO_FIX}\r\n`);
      await settle(
        async () => source.stats.noFix,
        (n) => n === 1,
      );
      assert.equal(source.current(), null, 'a receiver without a fix means unknown speed');
    } finally {
      await source.stop();
      await peer.close();
      await pair.close();
    }
  });
});

test('NMEA source: the GPS unplugged and plugged back in is read again', async () => {
  const pair = await socatPair();
  let peer = await openPeer(pair.peer);
  const source = new NmeaSpeedSource({ kind: 'nmea', device: pair.device, baud: 9600, staleAfterMs: 60_000, reopenDelayMs: 20 });
  try {
    await source.start();
    peer.write(`${RMC_CLASSIC}\r\n`);
    await settle(
      async () => source.current(),
      (r) => r !== null,
    );
    await peer.close();
    await pair.unplug();
    await pair.plug();
    peer = await openPeer(pair.peer);
    // Keep sending until the source has reopened its side and reads the new speed.
    const read = await settle(
      async () => {
        peer.write(`${GNVTG_LA}\r\n`);
        return source.current()?.speedKph;
      },
      (v) => v === 22.502,
      5000,
    );
    assert.equal(read, 22.502);
    assert.ok(source.reopens >= 1);
  } finally {
    await source.stop();
    await peer.close();
    await pair.close();
  }
});

describe('simulated speed source', () => {
  test('constant speed, and a script interpolated by time since start or by mediaTimeMs', async () => {
    let now = 100;
    const constant = new SimulatedSpeedSource({ kind: 'simulated', speedKph: 12, nowMs: () => now });
    assert.equal(constant.current(), null, 'nothing before start()');
    await constant.start();
    assert.deepEqual(constant.current(), { speedKph: 12, atMs: 100 });

    const scripted = createSpeedSource({
      kind: 'simulated',
      script: [
        { atMs: 0, speedKph: 0 },
        { atMs: 10_000, speedKph: 20 },
        { atMs: 20_000, speedKph: 20 },
        { atMs: 25_000, speedKph: 3 },
      ],
      nowMs: () => now,
    });
    await scripted.start();
    now += 5_000;
    assert.equal(scripted.current()?.speedKph, 10);
    assert.equal(scripted.current(22_500)?.speedKph, 11.5);
    assert.equal(scripted.current(99_000)?.speedKph, 3);
    assert.throws(
      () =>
        new SimulatedSpeedSource({
          kind: 'simulated',
          script: [
            { atMs: 5, speedKph: 1 },
            { atMs: 1, speedKph: 1 },
          ],
        }),
      (e: unknown) => isSidewalkError(e, 'SENSOR_CONFIG_INVALID'),
    );
  });
});

describe('replay-log speed source', () => {
  test('answers the last sample at or before the frame time, scaled to km/h', async () => {
    const source = new ReplayLogSpeedSource({
      kind: 'replay-log',
      // Unsorted on purpose; legacy units (not km/h).
      samples: [
        { timeMs: 2000, speedKph: 30 },
        { timeMs: 0, speedKph: 10 },
        { timeMs: 1000, speedKph: 20 },
      ],
      speedScale: 0.5,
      staleAfterMs: 1500,
      nowMs: () => 42,
    });
    await source.start();
    assert.equal(source.current(-1), null, 'before the first sample');
    assert.deepEqual(source.current(0), { speedKph: 5, atMs: 42 });
    assert.equal(source.current(999)?.speedKph, 5);
    assert.equal(source.current(1000)?.speedKph, 10);
    assert.equal(source.current(3499)?.speedKph, 15);
    assert.equal(source.current(3501), null, 'stale past the last sample');
    assert.throws(
      () => new ReplayLogSpeedSource({ kind: 'replay-log', samples: [], speedScale: 0 }),
      (e: unknown) => isSidewalkError(e, 'SENSOR_CONFIG_INVALID') && /speedScale/.test((e as Error).message),
    );
  });
});
