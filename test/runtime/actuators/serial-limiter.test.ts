import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readlink, realpath } from 'node:fs/promises';
import { createSpeedLimiter, decodeFrames, encodeFrame, SerialLimiter, type SerialLimiterConfig } from '../../../runtime/actuators/index.js';
import type { SpeedLimiter } from '../../../runtime/types.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { describeSpeedLimiterContract, settle, type LimiterHarness } from './speed-limiter-contract.js';
import { openPeer, socatPair, type PtyPeer } from './socat-pair.js';

/** Whether this process still has a file descriptor open on `device`. */
async function holdsDevice(device: string): Promise<boolean> {
  const target = await realpath(device);
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === target) return true;
  }
  return false;
}

type Reply = 'ok' | 'silent' | 'err';

/** A line-protocol controller: records each command line and answers OK (or ERR, or nothing). */
function lineResponder(peer: PtyPeer, reply: () => Reply): string[] {
  const lines: string[] = [];
  let buffer = '';
  peer.onData((chunk) => {
    buffer += chunk.toString('latin1');
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      const r = reply();
      if (r === 'ok') peer.write('OK\r\n');
      else if (r === 'err') peer.write('ERR limit out of range\n');
    }
  });
  return lines;
}

/** The firmware's float32_auto has no -0: a zero reverse limit goes out as +0. */
const reverse = (kph: number): number => (kph === 0 ? 0 : Math.fround(-kph / 3.6));

interface VescCommand {
  id: number;
  flags: number[];
  speedMinMps: number;
  speedMaxMps: number;
}

/** A VESC that acknowledges COMM_SET_MCCONF_TEMP_SETUP like the firmware (a packet holding only the id). */
function vescResponder(peer: PtyPeer): VescCommand[] {
  const commands: VescCommand[] = [];
  let bytes = Buffer.alloc(0);
  peer.onData((chunk) => {
    const { payloads, rest } = decodeFrames(Buffer.concat([bytes, chunk]));
    bytes = Buffer.from(rest);
    for (const p of payloads) {
      commands.push({ id: p[0]!, flags: [...p.subarray(1, 5)], speedMinMps: p.readFloatBE(5 + 8), speedMaxMps: p.readFloatBE(5 + 12) });
      if (p[3] === 1) peer.write(encodeFrame(Buffer.from([p[0]!])));
    }
  });
  return commands;
}

async function serialHarness(protocol: 'line' | 'vesc'): Promise<LimiterHarness> {
  const pair = await socatPair();
  const peer = await openPeer(pair.peer);
  const lines = protocol === 'line' ? lineResponder(peer, () => 'ok') : [];
  const vesc = protocol === 'vesc' ? vescResponder(peer) : [];
  const limiter = createSpeedLimiter({ kind: 'serial', device: pair.device, baud: 115200, protocol, replyTimeoutMs: 2000, keepaliveMs: 0, safeLimitKph: 6 });
  const last = (): unknown => {
    if (protocol === 'line') return lines.at(-1);
    const c = vesc.at(-1);
    return c && { id: c.id, flags: c.flags, speedMaxMps: c.speedMaxMps, speedMinMps: c.speedMinMps };
  };
  return {
    limiter,
    safeLimitKph: 6,
    fullSpeedKph: 25,
    observe: async () => last(),
    expectedFor: (kph) =>
      protocol === 'line'
        ? `LIMIT ${kph.toFixed(1)}`
        : // RAM only, no CAN forwarding, ack requested, no dividing; speeds in m/s as float32.
          { id: 49, flags: [0, 0, 1, 0], speedMaxMps: Math.fround(kph / 3.6), speedMinMps: reverse(kph) },
    assertReleased: async () => {
      assert.deepEqual(last(), (await serialHarnessExpect(protocol))(6), 'the last command was the safe limit');
      assert.equal(await holdsDevice(pair.device), false, 'the tty is closed');
    },
    cleanup: async () => {
      await peer.close();
      await pair.close();
    },
  };
}

async function serialHarnessExpect(protocol: 'line' | 'vesc'): Promise<(kph: number) => unknown> {
  return (kph) => (protocol === 'line' ? `LIMIT ${kph.toFixed(1)}` : { id: 49, flags: [0, 0, 1, 0], speedMaxMps: Math.fround(kph / 3.6), speedMinMps: reverse(kph) });
}

describeSpeedLimiterContract('serial line protocol (socat pty pair)', () => serialHarness('line'));
describeSpeedLimiterContract('serial VESC COMM_SET_MCCONF_TEMP_SETUP (socat pty pair)', () => serialHarness('vesc'));

describe('serial limiter', () => {
  const withPair = async (reply: () => Reply, config: Partial<SerialLimiterConfig>, fn: (limiter: SpeedLimiter, lines: string[], device: string, peer: PtyPeer) => Promise<void>) => {
    const pair = await socatPair();
    const peer = await openPeer(pair.peer);
    const lines = lineResponder(peer, reply);
    const limiter = new SerialLimiter({ kind: 'serial', device: pair.device, baud: 115200, protocol: 'line', safeLimitKph: 6, replyTimeoutMs: 2000, keepaliveMs: 0, ...config });
    try {
      await fn(limiter, lines, pair.device, peer);
    } finally {
      await limiter.close().catch(() => undefined);
      await peer.close();
      await pair.close();
    }
  };

  test('a silent controller fails init with LIMITER_SERIAL_TIMEOUT and the tty is released', () =>
    withPair(
      () => 'silent',
      { replyTimeoutMs: 100 },
      async (limiter, lines, device) => {
        await assert.rejects(limiter.init(), (e: unknown) => isSidewalkError(e, 'LIMITER_SERIAL_TIMEOUT') && /LIMIT 6\.0/.test((e as Error).message));
        assert.deepEqual(lines, ['LIMIT 6.0']);
        assert.equal(await holdsDevice(device), false);
      },
    ));

  test('an ERR reply rejects the command with the controller text', () => {
    let n = 0;
    return withPair(
      () => (n++ === 0 ? 'ok' : 'err'),
      {},
      async (limiter) => {
        await limiter.init();
        await assert.rejects(limiter.setLimit(25), (e: unknown) => isSidewalkError(e, 'LIMITER_SERIAL_REJECTED') && /out of range/.test((e as Error).message));
      },
    );
  });

  test('unchanged limits are not re-sent per frame; the keepalive repeats the last limit', () =>
    withPair(
      () => 'ok',
      { keepaliveMs: 40 },
      async (limiter, lines) => {
        await limiter.init();
        await limiter.setLimit(25);
        await limiter.setLimit(25.01);
        await limiter.setLimit(25);
        const seen = await settle(
          async () => lines.length,
          (n) => n >= 5,
          5000,
        );
        assert.ok(seen >= 5, `saw ${seen} lines`);
        assert.deepEqual(lines.slice(0, 2), ['LIMIT 6.0', 'LIMIT 25.0']);
        assert.ok(
          lines.slice(2).every((l) => l === 'LIMIT 25.0'),
          'keepalive repeats the current limit',
        );
      },
    ));

  test('an unplugged adapter fails commands; plugged back in, the current limit is sent again', async () => {
    const pair = await socatPair();
    let peer = await openPeer(pair.peer);
    lineResponder(peer, () => 'ok');
    const limiter = new SerialLimiter({ kind: 'serial', device: pair.device, baud: 115200, protocol: 'line', safeLimitKph: 6, replyTimeoutMs: 300, keepaliveMs: 50, reopenDelayMs: 20 });
    try {
      await limiter.init();
      await limiter.setLimit(25);
      await peer.close();
      await pair.unplug();
      await assert.rejects(limiter.setLimit(20), (e: unknown) => (['LIMITER_SERIAL_LOST', 'LIMITER_SERIAL_TIMEOUT', 'SERIAL_WRITE_FAILED'] as const).some((code) => isSidewalkError(e, code)));
      await pair.plug();
      peer = await openPeer(pair.peer);
      const lines = lineResponder(peer, () => 'ok');
      await settle(
        async () => lines.includes('LIMIT 20.0'),
        (seen) => seen,
        5000,
      );
      assert.ok(lines.includes('LIMIT 20.0'), 'the wanted limit reaches the controller after replug');
      await limiter.setLimit(21);
      assert.equal(lines.at(-1), 'LIMIT 21.0');
    } finally {
      await limiter.close().catch(() => undefined);
      await peer.close();
      await pair.close();
    }
  });

  test('an echoed OK for another value is a stale reply and does not acknowledge the command', () =>
    withPair(
      () => 'silent',
      { replyTimeoutMs: 300 },
      async (limiter, lines, _device, peer) => {
        peer.onData(() => {
          // Always "OK 6.0": right for the init command, a stale echo for LIMIT 25.0.
          peer.write('OK 6.0\n');
        });
        await limiter.init();
        await assert.rejects(limiter.setLimit(25), (e: unknown) => isSidewalkError(e, 'LIMITER_SERIAL_TIMEOUT') && /LIMIT 25\.0/.test((e as Error).message));
        assert.deepEqual(lines, ['LIMIT 6.0', 'LIMIT 25.0']);
      },
    ));

  test('a missing device fails with SERIAL_OPEN_FAILED naming it', async () => {
    const limiter = new SerialLimiter({ kind: 'serial', device: '/nonexistent/ttyX', baud: 115200, protocol: 'line', safeLimitKph: 6, replyTimeoutMs: 200 });
    await assert.rejects(limiter.init(), (e: unknown) => isSidewalkError(e, 'SERIAL_OPEN_FAILED') && /\/nonexistent\/ttyX/.test((e as Error).message));
  });
});
