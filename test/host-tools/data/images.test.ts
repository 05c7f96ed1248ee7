import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GreyFrameReader, hammingHex, METRIC_HEIGHT, METRIC_WIDTH, metricsOf, sha256 } from '../../../host-tools/data/images.js';

const W = METRIC_WIDTH;
const H = METRIC_HEIGHT;

/** The metric definitions written out plainly, to check the optimised metricsOf against. */
function reference(grey: Uint8Array): { lumaMean: number; blurVar: number; dhash: string } {
  const px = (x: number, y: number): number => grey[y * W + x]!;
  let sum = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) sum += px(x, y);
  const laps: number[] = [];
  for (let y = 1; y < H - 1; y++) for (let x = 1; x < W - 1; x++) laps.push(px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4 * px(x, y));
  const mean = laps.reduce((a, b) => a + b, 0) / laps.length;
  const blurVar = laps.reduce((a, b) => a + b * b, 0) / laps.length - mean * mean;
  const cell = (tx: number, ty: number): number => {
    const [x0, x1, y0, y1] = [Math.floor((tx * W) / 9), Math.floor(((tx + 1) * W) / 9), Math.floor((ty * H) / 8), Math.floor(((ty + 1) * H) / 8)];
    let s = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += px(x, y);
    return s / ((x1 - x0) * (y1 - y0));
  };
  let bits = '';
  for (let ty = 0; ty < 8; ty++) for (let tx = 0; tx < 8; tx++) bits += cell(tx, ty) < cell(tx + 1, ty) ? '1' : '0';
  return { lumaMean: sum / (W * H), blurVar, dhash: BigInt(`0b${bits}`).toString(16).padStart(16, '0') };
}

describe('frame metrics', () => {
  test('metricsOf matches the plain definitions on noise, gradients and flat frames', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const frames = [
      Uint8Array.from({ length: W * H }, () => Math.floor(rand() * 256)),
      Uint8Array.from({ length: W * H }, (_, i) => (i % W) + (Math.floor(i / W) % 50)),
      Uint8Array.from({ length: W * H }, (_, i) => 255 - (((i % W) * 3) % 256)),
      new Uint8Array(W * H).fill(90),
    ];
    for (const f of frames) {
      const got = metricsOf(f);
      const want = reference(f);
      assert.equal(got.lumaMean, want.lumaMean);
      assert.ok(Math.abs(got.blurVar - want.blurVar) < 1e-6, `${got.blurVar} vs ${want.blurVar}`);
      assert.equal(got.dhash, want.dhash);
    }
    assert.equal(metricsOf(frames[1]!).dhash, 'ffffffffffffffff', 'brightness rising to the right sets every bit');
    assert.equal(hammingHex('ffffffffffffffff', '0000000000000000'), 64);
  });

  test('GreyFrameReader cuts a stream arriving in odd-sized chunks into whole frames', () => {
    const size = W * H;
    const stream = new Uint8Array(size * 3 + 100);
    for (let i = 0; i < stream.length; i++) stream[i] = (i * 7) % 251;
    const got: string[] = [];
    const reader = new GreyFrameReader((index, grey) => got.push(`${index}:${sha256(grey)}`));
    for (let pos = 0; pos < stream.length; pos += 4099) reader.push(stream.subarray(pos, pos + 4099));
    assert.deepEqual(
      got,
      [0, 1, 2].map((i) => `${i}:${sha256(stream.subarray(i * size, (i + 1) * size))}`),
    );
    assert.equal(reader.frames, 3);
    assert.equal(reader.partialBytes, 100);
  });
});
