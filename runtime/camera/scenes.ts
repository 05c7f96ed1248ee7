/**
 * Deterministic synthetic ground scenes, as a scooter's forward/down camera sees them.
 *
 * Used by the synthetic frame source, the fake `rpicam-vid`, `sidewalk data synth` and demo-model
 * training, so this API is kept small and stable:
 *   renderScene(kind, { width, height, offsetM, seed, variation }, out)   -> RGB24 into `out`
 *   rgbToI420(rgb, width, height, stride, out)                           -> padded I420 (full-range BT.601; i420.ts)
 *   parseSceneScript('side:2,street:2') / sceneAt(script, tS)            -> which kind plays when
 *
 * The ground is drawn through a pinhole camera ~1 m up, pitched ~32 degrees down, over a flat ground
 * (straight ground lines stay straight). Every texture is anchored to ground coordinates, so increasing `offsetM` (metres
 * travelled) scrolls joints, stripes and grain towards the camera. `seed` picks the lighting, colours,
 * geometry and markings; the same (kind, options) always gives the same bytes.
 */
import { SidewalkError } from '../../lib/errors.js';
import { createPrng } from '../../lib/prng.js';

export { defaultStride, i420FrameBytes, rgbToI420 } from './i420.js';

/** The four ground classes (the labels the legacy models use). */
export const SCENE_KINDS = ['bike_lane', 'crosswalk', 'side', 'street'] as const;
export type SceneKind = (typeof SCENE_KINDS)[number];

export interface SceneOptions {
  width: number;
  height: number;
  /** Metres travelled; textures scroll with it. Default 0. */
  offsetM?: number;
  /** Selects lighting, colours, geometry and noise. Default 1. */
  seed?: number;
  /** 0 = canonical look, 1 = full per-seed lighting/colour/geometry variation (default 1). */
  variation?: number;
}

type Rgb = [number, number, number];

export { createPrng };

/** Integer hash of a lattice point -> [0, 1). */
function hash3(x: number, y: number, s: number): number {
  let h = Math.imul(x | 0, 0x27d4eb2d) ^ Math.imul(y | 0, 0x165667b1) ^ Math.imul(s | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Smooth value noise at ground position (x, z) in cells of `cellM` metres -> [0, 1). */
function valueNoise(x: number, z: number, cellM: number, s: number): number {
  const fx = x / cellM;
  const fz = z / cellM;
  const ix = Math.floor(fx);
  const iz = Math.floor(fz);
  const tx = fx - ix;
  const tz = fz - iz;
  const sx = tx * tx * (3 - 2 * tx);
  const sz = tz * tz * (3 - 2 * tz);
  const a = hash3(ix, iz, s);
  const b = hash3(ix + 1, iz, s);
  const c = hash3(ix, iz + 1, s);
  const d = hash3(ix + 1, iz + 1, s);
  return a + (b - a) * sx + (c - a) * sz + (a - b - c + d) * sx * sz;
}

/** Per-seed look of a scene: everything a classifier has to generalise over. */
interface Look {
  gain: number;
  tint: Rgb;
  sideLight: number;
  pitchRad: number;
  camHeightM: number;
  tanHalfFov: number;
  yaw: number;
  centreM: number;
  shadowEdgeM: number | null;
  asphalt: Rgb;
  concrete: Rgb;
  paint: Rgb;
  grainAmp: number;
  seed: number;
}

function makeLook(kind: SceneKind, seed: number, variation: number): Look {
  const rand = createPrng(Math.imul(seed, 2654435761) ^ ((SCENE_KINDS.indexOf(kind) + 1) * 0x51ed27));
  const v = Math.max(0, Math.min(1, variation));
  const jitter = (span: number): number => (rand() - 0.5) * 2 * span * v;
  const grey = 68 + jitter(16);
  const concreteGrey = 178 + jitter(20);
  return {
    gain: 1 + jitter(0.22),
    tint: [1 + jitter(0.04), 1 + jitter(0.03), 1 + jitter(0.05)],
    sideLight: jitter(0.18),
    pitchRad: ((32 + jitter(4)) * Math.PI) / 180,
    camHeightM: 1 + jitter(0.1),
    tanHalfFov: 0.55 + jitter(0.08),
    yaw: jitter(0.12),
    centreM: jitter(0.5),
    shadowEdgeM: rand() < 0.35 * v ? jitter(1.5) : null,
    asphalt: [grey, grey + jitter(2), grey + 2 + jitter(3)],
    concrete: [concreteGrey + 2, concreteGrey, concreteGrey - 6 + jitter(4)],
    paint: [60 + jitter(15), 150 + jitter(20), 92 + jitter(15)],
    grainAmp: 16 + jitter(6),
    seed: seed | 0,
  };
}

const WHITE: Rgb = [228, 228, 222];
const YELLOW: Rgb = [222, 178, 44];
const GRASS: Rgb = [72, 104, 48];

/** Paint wear: marking pixels show the surface beneath where the noise is high. */
function worn(x: number, z: number, s: number): boolean {
  return valueNoise(x, z, 0.035, s ^ 0x5bd1) > 0.86;
}

/** Colour of the ground at lateral x and forward z (metres, z includes the travelled offset). */
type Shader = (x: number, z: number, look: Look, out: Rgb) => void;

function asphaltAt(x: number, z: number, look: Look, out: Rgb): void {
  const grain = (hash3(Math.floor(x / 0.012), Math.floor(z / 0.012), look.seed) - 0.5) * look.grainAmp;
  const stain = (valueNoise(x, z, 0.6, look.seed ^ 0x1234) - 0.5) * 14;
  out[0] = look.asphalt[0] + grain + stain;
  out[1] = look.asphalt[1] + grain + stain;
  out[2] = look.asphalt[2] + grain + stain;
}

function mark(out: Rgb, paint: Rgb, x: number, z: number, s: number): void {
  if (worn(x, z, s)) return;
  const d = (hash3(Math.floor(x / 0.02), Math.floor(z / 0.02), s ^ 0x77) - 0.5) * 10;
  out[0] = paint[0] + d;
  out[1] = paint[1] + d;
  out[2] = paint[2] + d;
}

const street: Shader = (x, z, look, out) => {
  asphaltAt(x, z, look, out);
  const lx = x - look.centreM;
  // Dashed lane line on the right (3 m dash, 9 m gap), solid double yellow or white edge on the left.
  if (Math.abs(lx - 1.6) < 0.06 && ((z % 12) + 12) % 12 < 3) mark(out, WHITE, x, z, look.seed);
  if (look.seed % 2 === 0) {
    if (Math.abs(lx + 1.7) < 0.05 || Math.abs(lx + 1.9) < 0.05) mark(out, YELLOW, x, z, look.seed);
  } else if (Math.abs(lx + 1.8) < 0.07) {
    mark(out, WHITE, x, z, look.seed);
  }
};

const side: Shader = (x, z, look, out) => {
  const lx = x - look.centreM;
  const halfWidthM = 1.3 + ((look.seed >>> 3) % 5) * 0.1;
  if (lx > halfWidthM) {
    // Grass verge: strong, blotchy texture.
    const n = (valueNoise(x, z, 0.05, look.seed ^ 0x99) - 0.5) * 50;
    out[0] = GRASS[0] + n;
    out[1] = GRASS[1] + n * 1.2;
    out[2] = GRASS[2] + n * 0.6;
    return;
  }
  if (lx < -halfWidthM) {
    // Curb then street.
    if (lx > -halfWidthM - 0.15) {
      out[0] = look.concrete[0] - 25;
      out[1] = look.concrete[1] - 25;
      out[2] = look.concrete[2] - 25;
    } else asphaltAt(x, z, look, out);
    return;
  }
  const slabLenM = 1.5;
  const slab = Math.floor(z / slabLenM);
  const slabShade = (hash3(slab, 0, look.seed ^ 0x3c) - 0.5) * 16;
  const grain = (hash3(Math.floor(x / 0.01), Math.floor(z / 0.01), look.seed) - 0.5) * look.grainAmp * 0.45;
  const blotch = (valueNoise(x, z, 0.4, look.seed ^ 0x42) - 0.5) * 12;
  let shade = slabShade + grain + blotch;
  const inSlab = z - slab * slabLenM;
  if (inSlab < 0.025 || Math.abs(lx) < 0.012) shade -= 65; // transverse and centre joints
  out[0] = look.concrete[0] + shade;
  out[1] = look.concrete[1] + shade;
  out[2] = look.concrete[2] + shade;
};

const crosswalk: Shader = (x, z, look, out) => {
  asphaltAt(x, z, look, out);
  const lx = x - look.centreM;
  const periodM = 1.15;
  // Continental bars, parallel to the road, so a rider crossing meets them one after another.
  if (Math.abs(lx) < 1.6 && ((z % periodM) + periodM) % periodM < 0.6) mark(out, WHITE, x, z, look.seed);
};

/** Distance from p to segment ab. */
function segmentDistance(px: number, pz: number, ax: number, az: number, bx: number, bz: number): number {
  const dx = bx - ax;
  const dz = bz - az;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (pz - az) * dz) / (dx * dx + dz * dz)));
  return Math.hypot(px - ax - t * dx, pz - az - t * dz);
}

/** A stylised bicycle (two wheels, frame) in a 1.4 m x 0.9 m box, lying along the lane. */
function onBikeSymbol(x: number, zc: number): boolean {
  const w = 0.045;
  for (const wz of [-0.45, 0.45]) if (Math.abs(Math.hypot(x, zc - wz) - 0.28) < w) return true;
  return (
    segmentDistance(x, zc, 0, -0.45, 0, 0.05) < w || segmentDistance(x, zc, 0, 0.05, 0, 0.45) < w || segmentDistance(x, zc, 0, 0.05, 0.25, -0.2) < w || segmentDistance(x, zc, 0.25, -0.2, 0, -0.45) < w
  );
}

const bikeLane: Shader = (x, z, look, out) => {
  const lx = x - look.centreM;
  const halfWidthM = 0.9;
  if (Math.abs(lx) > halfWidthM + 0.15) {
    asphaltAt(x, z, look, out);
    return;
  }
  if (Math.abs(lx) > halfWidthM) {
    mark(out, WHITE, x, z, look.seed);
    return;
  }
  const grain = (hash3(Math.floor(x / 0.012), Math.floor(z / 0.012), look.seed) - 0.5) * look.grainAmp * 0.7;
  const patchy = (valueNoise(x, z, 0.5, look.seed ^ 0xbeef) - 0.5) * 18;
  out[0] = look.paint[0] + grain + patchy;
  out[1] = look.paint[1] + grain + patchy;
  out[2] = look.paint[2] + grain + patchy;
  const symbolEveryM = 12;
  if (look.seed % 3 !== 0) {
    const zc = (((z % symbolEveryM) + symbolEveryM) % symbolEveryM) - symbolEveryM / 2;
    if (Math.abs(zc) < 0.8 && onBikeSymbol(lx, zc)) mark(out, WHITE, x, z, look.seed);
  }
};

const SHADERS: Record<SceneKind, Shader> = { bike_lane: bikeLane, crosswalk, side, street };

export function isSceneKind(value: string): value is SceneKind {
  return (SCENE_KINDS as readonly string[]).includes(value);
}

/**
 * Renders one scene into `out` (RGB24, rows of width*3 bytes, no padding). Allocates nothing per pixel;
 * `out` must hold at least width*height*3 bytes.
 */
export function renderScene(kind: SceneKind, options: SceneOptions, out: Uint8Array): void {
  const { width, height } = options;
  if (!isSceneKind(kind)) throw new SidewalkError('CAMERA_SCENE_UNKNOWN', `unknown scene kind "${String(kind)}" (expected one of ${SCENE_KINDS.join(', ')})`);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new SidewalkError('CAMERA_SCENE_SIZE', `scene size ${width}x${height} is not a positive integer size`);
  }
  if (out.length < width * height * 3) {
    throw new SidewalkError('CAMERA_BUFFER_TOO_SMALL', `output buffer has ${out.length} bytes, ${width}x${height} RGB24 needs ${width * height * 3}`);
  }
  const offsetM = options.offsetM ?? 0;
  const seed = options.seed ?? 1;
  const look = makeLook(kind, seed, options.variation ?? 1);
  const shader = SHADERS[kind];
  const px: Rgb = [0, 0, 0];
  const cosP = Math.cos(look.pitchRad);
  const sinP = Math.sin(look.pitchRad);
  const tanHalfV = (look.tanHalfFov * height) / width;
  const frameKey = Math.floor(offsetM * 1000) ^ Math.imul(seed, 0x2f);
  const sensorAmp = 3 + 3 * (options.variation ?? 1);
  for (let row = 0; row < height; row++) {
    // Pinhole camera pitched down over a flat ground: straight ground lines stay straight.
    const yn = ((row + 0.5) / height) * 2 - 1;
    const zRel = look.camHeightM / Math.tan(look.pitchRad + Math.atan(yn * tanHalfV));
    const lateralScale = 2 * look.tanHalfFov * (zRel * cosP + look.camHeightM * sinP);
    const z = zRel + offsetM;
    const rowLight = look.gain * (0.93 + (0.07 * (yn + 1)) / 2);
    let o = row * width * 3;
    for (let col = 0; col < width; col++) {
      const u = (col + 0.5) / width - 0.5;
      const x = u * lateralScale + zRel * look.yaw;
      shader(x, z, look, px);
      let light = rowLight * (1 + look.sideLight * u);
      let blue = 1;
      if (look.shadowEdgeM !== null && x > look.shadowEdgeM) {
        light *= 0.55;
        blue = 1.12;
      }
      const noise = (hash3(col, row, frameKey) - 0.5) * sensorAmp;
      out[o++] = clamp(px[0] * light * look.tint[0] + noise);
      out[o++] = clamp(px[1] * light * look.tint[1] + noise);
      out[o++] = clamp(px[2] * light * look.tint[2] * blue + noise);
    }
  }
}

function clamp(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

/** One stretch of a scene script. */
export interface SceneSegment {
  kind: SceneKind;
  durationS: number;
}
export type SceneScript = readonly SceneSegment[];

/** Parses "side:2,street:2.5" (kind:seconds, comma separated). Throws CAMERA_SCENE_SCRIPT naming the bad item. */
export function parseSceneScript(text: string): SceneScript {
  const segments: SceneSegment[] = [];
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [index, item] of items.entries()) {
    const [kind, seconds, extra] = item.split(':');
    const durationS = Number(seconds);
    if (extra !== undefined || kind === undefined || !isSceneKind(kind) || !(durationS > 0)) {
      throw new SidewalkError('CAMERA_SCENE_SCRIPT', `scene script item ${index + 1} "${item}" is not kind:seconds with kind one of ${SCENE_KINDS.join(', ')} and seconds > 0`);
    }
    segments.push({ kind, durationS });
  }
  if (segments.length === 0) throw new SidewalkError('CAMERA_SCENE_SCRIPT', `scene script "${text}" has no segments`);
  return segments;
}

export function sceneScriptDurationS(script: SceneScript): number {
  return script.reduce((sum, s) => sum + s.durationS, 0);
}

/**
 * The segment playing at `tS` seconds (the script repeats after its end), with its index so callers
 * can vary the seed per segment.
 */
export function segmentAt(script: SceneScript, tS: number): { kind: SceneKind; index: number } {
  const total = sceneScriptDurationS(script);
  let t = tS % total;
  if (t < 0) t += total;
  // Boundaries are compared with a tolerance so frame n at n/fps lands in the intended segment
  // despite binary fractions (0.2 * 3 !== 0.6).
  let endS = 0;
  for (const [index, segment] of script.entries()) {
    endS += segment.durationS;
    if (t < endS - 1e-9) return { kind: segment.kind, index };
  }
  return { kind: script[0]!.kind, index: 0 };
}

/** The scene kind playing at `tS` seconds (the script repeats after its end). */
export function sceneAt(script: SceneScript, tS: number): SceneKind {
  return segmentAt(script, tS).kind;
}
