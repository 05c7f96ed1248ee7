import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16Xmodem, decodeFrames, encodeFrame, float32Auto, setMcconfTempSetupPayload } from '../../../runtime/actuators/index.js';

// Vectors derived independently with Python: binascii.crc_hqx(data, 0) is CRC-16/XMODEM, and
// struct.pack('>8f', ...) gives the float32 big-endian values (see docs/wiring.md).
test('crc16 XMODEM matches the standard check value and Python-derived frame vectors', () => {
  assert.equal(crc16Xmodem(Buffer.from('123456789')), 0x31c3);
  assert.equal(encodeFrame(Buffer.from([30])).toString('hex'), '02011ef3ff03'); // COMM_ALIVE
});

test('COMM_SET_MCCONF_TEMP_SETUP for 6 km/h encodes to the documented frame', () => {
  const payload = setMcconfTempSetupPayload({
    store: false,
    forwardCan: false,
    ack: true,
    divideByControllers: false,
    currentMinScale: 1,
    currentMaxScale: 1,
    speedMinMps: -6 / 3.6,
    speedMaxMps: 6 / 3.6,
    dutyMin: 0.005,
    dutyMax: 0.95,
    wattMin: -1.5e6,
    wattMax: 1.5e6,
  });
  assert.equal(payload.length, 37);
  assert.equal(encodeFrame(payload).toString('hex'), '022531000001003f8000003f800000bfd555553fd555553ba3d70a3f733333c9b71b0049b71b00a0c903');
});

test('float32_auto sends IEEE single bits, subnormals as zero', () => {
  assert.equal(float32Auto(1).toString('hex'), '3f800000');
  assert.equal(float32Auto(-2.5).toString('hex'), 'c0200000');
  assert.equal(float32Auto(1e-39).toString('hex'), '00000000');
});

test('decodeFrames skips garbage and bad CRCs, keeps partial frames, handles long frames', () => {
  const good = encodeFrame(Buffer.from([49]));
  const bad = Buffer.from(good);
  bad[3] ^= 0xff; // corrupt the CRC
  const long = encodeFrame(Buffer.alloc(300, 7));
  assert.equal(long[0], 0x03);
  assert.equal(long.readUInt16BE(1), 300);
  const stream = Buffer.concat([Buffer.from('noise'), bad, good, long, good.subarray(0, 3)]);
  const { payloads, rest } = decodeFrames(stream);
  assert.deepEqual(
    payloads.map((p) => p.length),
    [1, 300],
  );
  assert.equal(payloads[0]![0], 49);
  assert.deepEqual([...rest], [...good.subarray(0, 3)]);
  assert.equal(decodeFrames(Buffer.concat([rest, good.subarray(3)])).payloads.length, 1);
});
