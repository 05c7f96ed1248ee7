/**
 * VESC UART packets (vedderb/bldc comm/packet.c, comm/commands.c):
 *   short frame: 0x02, len (1 byte), payload, crc16 (big-endian), 0x03        (payload <= 255 bytes)
 *   long frame:  0x03, len (2 bytes, big-endian), payload, crc16, 0x03
 * crc16 is CRC-16/XMODEM over the payload only: poly 0x1021, init 0, no reflection, no final xor
 * (check value: "123456789" -> 0x31C3). Payload byte 0 is the command id.
 */
/** The one command the limiter sends (the keepalive repeats it rather than sending COMM_ALIVE). */
export const COMM_SET_MCCONF_TEMP_SETUP = 49;

export function crc16Xmodem(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const long = payload.length > 255;
  const header = long ? Buffer.from([0x03, payload.length >> 8, payload.length & 0xff]) : Buffer.from([0x02, payload.length]);
  const crc = crc16Xmodem(payload);
  return Buffer.concat([header, payload, Buffer.from([crc >> 8, crc & 0xff, 0x03])]);
}

/**
 * Extracts complete, CRC-valid frames from a byte stream. Returns the payloads and the unconsumed
 * tail (an incomplete frame). Garbage and frames with a bad CRC are skipped byte by byte, like packet.c.
 */
export function decodeFrames(buffer: Buffer): { payloads: Buffer[]; rest: Buffer } {
  const payloads: Buffer[] = [];
  // Earliest start byte whose frame is not complete yet; kept for the next chunk unless a valid frame
  // follows it (then it was garbage). Never waiting on it alone keeps a stray 0x03 from stalling acks.
  let pendingFrom: number | null = null;
  let i = 0;
  while (i < buffer.length) {
    const start = buffer[i];
    if (start !== 0x02 && start !== 0x03) {
      i++;
      continue;
    }
    const headerLen = start === 0x02 ? 2 : 3;
    if (buffer.length - i < headerLen) {
      pendingFrom ??= i;
      i++;
      continue;
    }
    const len = start === 0x02 ? buffer[i + 1]! : buffer.readUInt16BE(i + 1);
    const total = headerLen + len + 3;
    if (len === 0) {
      i++;
      continue;
    }
    if (buffer.length - i < total) {
      pendingFrom ??= i;
      i++;
      continue;
    }
    const payload = buffer.subarray(i + headerLen, i + headerLen + len);
    const crc = buffer.readUInt16BE(i + headerLen + len);
    if (buffer[i + total - 1] === 0x03 && crc === crc16Xmodem(payload)) {
      payloads.push(Buffer.from(payload));
      i += total;
      pendingFrom = null;
    } else {
      i++;
    }
  }
  return { payloads, rest: pendingFrom === null ? Buffer.alloc(0) : buffer.subarray(pendingFrom) };
}

/**
 * buffer_append_float32_auto: for normal numbers this is exactly the IEEE-754 single-precision bit
 * pattern, big-endian (sign, exponent e+126 from frexp, 23-bit mantissa); |x| < 1.5e-38 is sent as 0.
 */
export function float32Auto(value: number): Buffer {
  const out = Buffer.alloc(4);
  // The firmware sends -0 and subnormals as +0 (frexpf gives no exponent, the sign test sig < 0 fails).
  out.writeFloatBE(Math.abs(value) < 1.5e-38 ? 0 : value);
  return out;
}

/** The limits COMM_SET_MCCONF_TEMP_SETUP sets. All of them are overwritten, so all must be given. */
export interface VescTempSetup {
  /** Keep in RAM only (false) or also store to flash (true: wears flash; do not use per command). */
  store: boolean;
  forwardCan: boolean;
  ack: boolean;
  divideByControllers: boolean;
  currentMinScale: number;
  currentMaxScale: number;
  /** Reverse speed limit (negative). Unit: m/s. */
  speedMinMps: number;
  /** Forward speed limit. Unit: m/s. The firmware converts to ERPM with motor poles, gear ratio and wheel diameter. */
  speedMaxMps: number;
  dutyMin: number;
  dutyMax: number;
  wattMin: number;
  wattMax: number;
}

export function setMcconfTempSetupPayload(s: VescTempSetup): Buffer {
  return Buffer.concat([
    Buffer.from([COMM_SET_MCCONF_TEMP_SETUP, s.store ? 1 : 0, s.forwardCan ? 1 : 0, s.ack ? 1 : 0, s.divideByControllers ? 1 : 0]),
    ...[s.currentMinScale, s.currentMaxScale, s.speedMinMps, s.speedMaxMps, s.dutyMin, s.dutyMax, s.wattMin, s.wattMax].map(float32Auto),
  ]);
}
