import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SCENE_KINDS, defaultStride, i420FrameBytes, parseSceneScript, renderScene, rgbToI420, sceneAt, sceneScriptDurationS, type SceneKind } from '../../../runtime/camera/scenes.js';
import { isSidewalkError } from '../../../lib/errors.js';

const W = 96;
const H = 72;

function render(kind: SceneKind, seed: number, offsetM = 0): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  renderScene(kind, { width: W, height: H, seed, offsetM }, out);
  return out;
}

function stats(rgb: Uint8Array): { luma: number; greenness: number; brightShare: number } {
  let luma = 0;
  let greenness = 0;
  let bright = 0;
  for (let i = 0; i < rgb.length; i += 3) {
    const y = 0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!;
    luma += y;
    greenness += rgb[i + 1]! - (rgb[i]! + rgb[i + 2]!) / 2;
    if (y > 200) bright++;
  }
  const n = rgb.length / 3;
  return { luma: luma / n, greenness: greenness / n, brightShare: bright / n };
}

describe('renderScene', () => {
  test('is deterministic for a seed and differs across seeds, offsets and kinds', () => {
    for (const kind of SCENE_KINDS) {
      assert.deepEqual(render(kind, 7, 1.5), render(kind, 7, 1.5), `${kind} not deterministic`);
      assert.notDeepEqual(render(kind, 7, 1.5), render(kind, 8, 1.5), `${kind} ignores the seed`);
      assert.notDeepEqual(render(kind, 7, 1.5), render(kind, 7, 2.5), `${kind} does not move with offsetM`);
    }
    const images = SCENE_KINDS.map((k) => Buffer.from(render(k, 3)).toString('base64'));
    assert.equal(new Set(images).size, SCENE_KINDS.length);
  });

  test('kinds have their characteristic colours, averaged over 20 seeds', () => {
    const mean = (kind: SceneKind): ReturnType<typeof stats> => {
      const acc = { luma: 0, greenness: 0, brightShare: 0 };
      for (let seed = 1; seed <= 20; seed++) {
        const s = stats(render(kind, seed, seed * 0.37));
        acc.luma += s.luma / 20;
        acc.greenness += s.greenness / 20;
        acc.brightShare += s.brightShare / 20;
      }
      return acc;
    };
    const [bike, cross, side, street] = [mean('bike_lane'), mean('crosswalk'), mean('side'), mean('street')];
    assert.ok(side.luma > street.luma + 40, `concrete (${side.luma}) should be much lighter than asphalt (${street.luma})`);
    assert.ok(bike.greenness > 20 && bike.greenness > 3 * Math.max(side.greenness, street.greenness, cross.greenness), `bike lane greenness ${bike.greenness}`);
    assert.ok(cross.brightShare > 0.15 && cross.brightShare > 5 * street.brightShare, `crosswalk stripes ${cross.brightShare} vs street ${street.brightShare}`);
  });

  test('rejects an output buffer that is too small and an unknown kind', () => {
    assert.throws(
      () => renderScene('side', { width: W, height: H }, new Uint8Array(W * H * 3 - 1)),
      (e: unknown) => isSidewalkError(e, 'CAMERA_BUFFER_TOO_SMALL'),
    );
    assert.throws(
      () => renderScene('grass' as SceneKind, { width: W, height: H }, new Uint8Array(W * H * 3)),
      (e: unknown) => isSidewalkError(e, 'CAMERA_SCENE_UNKNOWN'),
    );
  });
});

describe('rgbToI420', () => {
  // Tolerance: Y identical within 1, U/V within 1, against swscale's full-range conversion with
  // area (2x2 mean) chroma downsampling and accurate rounding.
  test('matches ffmpeg rgb24 -> yuv420p (full range) within 1 level, with a padded stride', () => {
    const width = 100;
    const height = 74;
    const stride = defaultStride(width);
    assert.equal(stride, 128);
    const rgb = new Uint8Array(width * height * 3);
    renderScene('bike_lane', { width, height, seed: 5 }, rgb);
    const ours = new Uint8Array(i420FrameBytes(stride, height));
    rgbToI420(rgb, width, height, stride, ours);
    const ff = execFileSync(
      'ffmpeg',
      [
        '-v',
        'error',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-s',
        `${width}x${height}`,
        '-i',
        '-',
        '-vf',
        'scale=out_range=full:flags=area+accurate_rnd',
        '-pix_fmt',
        'yuv420p',
        '-f',
        'rawvideo',
        '-',
      ],
      { input: rgb },
    );
    assert.equal(ff.length, width * height * 1.5);
    let maxY = 0;
    let maxC = 0;
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) maxY = Math.max(maxY, Math.abs(ff[r * width + c]! - ours[r * stride + c]!));
    const cw = width / 2;
    const ch = height / 2;
    for (let plane = 0; plane < 2; plane++) {
      for (let r = 0; r < ch; r++) {
        for (let c = 0; c < cw; c++) {
          const theirs = ff[width * height + plane * cw * ch + r * cw + c]!;
          const mine = ours[stride * height + plane * (stride / 2) * ch + r * (stride / 2) + c]!;
          maxC = Math.max(maxC, Math.abs(theirs - mine));
        }
      }
    }
    assert.ok(maxY <= 1, `Y differs by up to ${maxY}`);
    assert.ok(maxC <= 1, `U/V differ by up to ${maxC}`);
  });

  test('refuses a stride below the width', () => {
    assert.throws(
      () => rgbToI420(new Uint8Array(64 * 2 * 3), 64, 2, 62, new Uint8Array(1000)),
      (e: unknown) => isSidewalkError(e, 'CAMERA_STRIDE_INVALID'),
    );
  });
});

describe('scene scripts', () => {
  test('parse kind:seconds and answer the kind at a time, repeating after the end', () => {
    const script = parseSceneScript('side:2, street:1.5,crosswalk:0.5');
    assert.equal(sceneScriptDurationS(script), 4);
    assert.equal(sceneAt(script, 0), 'side');
    assert.equal(sceneAt(script, 1.99), 'side');
    assert.equal(sceneAt(script, 2), 'street');
    assert.equal(sceneAt(script, 3.6), 'crosswalk');
    assert.equal(sceneAt(script, 4.1), 'side');
    assert.equal(sceneAt(script, -0.25), 'crosswalk');
  });

  test('frame n at n/fps lands in the intended segment despite binary fractions', () => {
    const script = parseSceneScript('side:0.2,crosswalk:0.2,bike_lane:0.2,street:0.2');
    const kinds = Array.from({ length: 10 }, (_, n) => sceneAt(script, n / 10));
    assert.deepEqual(kinds, ['side', 'side', 'crosswalk', 'crosswalk', 'bike_lane', 'bike_lane', 'street', 'street', 'side', 'side']);
  });

  test('a bad item is named in the error', () => {
    assert.throws(
      () => parseSceneScript('side:2,grass:3'),
      (e: unknown) => isSidewalkError(e, 'CAMERA_SCENE_SCRIPT') && e.message.includes('item 2 "grass:3"'),
    );
    assert.throws(
      () => parseSceneScript('side:0'),
      (e: unknown) => isSidewalkError(e, 'CAMERA_SCENE_SCRIPT'),
    );
    assert.throws(
      () => parseSceneScript(''),
      (e: unknown) => isSidewalkError(e, 'CAMERA_SCENE_SCRIPT'),
    );
  });
});
