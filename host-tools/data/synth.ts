/**
 * Labelled synthetic rides in the sidewalk-ride/1 format, deterministic from a seed: scenes from the
 * camera room's renderer (runtime/camera/scenes.ts), recorded through the same RideRecorder the device
 * uses, with a plausible sensor log (smooth speed, GPS track along a heading, rider presses).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPrng, parseSceneScript, renderScene, SCENE_KINDS, segmentAt, sceneScriptDurationS, type SceneScript } from '../../runtime/camera/scenes.js';
import { RIDE_META_FILE, type RideMeta } from '../../runtime/recorder/ride-format.js';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { RideRecorder } from '../../runtime/recorder/ride-recorder.js';
import type { Frame } from '../../runtime/types.js';

export interface SynthOptions {
  outDir: string;
  rides: number;
  seed: number;
  /** Scene script for every ride ("side:4,street:3"); default: a random script per ride. */
  script?: string;
  fps?: number;
  width?: number;
  height?: number;
  location?: string;
  /** Start of the GPS tracks (default: downtown LA). */
  origin?: { lat: number; lon: number };
  /** Share of frames where the "rider" pressed the wrong class (label noise), default 0. */
  riderNoise?: number;
}

const EPOCH_MS = Date.UTC(2026, 0, 1, 12, 0, 0);

function randomScript(rand: () => number): SceneScript {
  const n = 2 + Math.floor(rand() * 3);
  return Array.from({ length: n }, () => ({ kind: SCENE_KINDS[Math.floor(rand() * SCENE_KINDS.length)]!, durationS: 1 + Math.round(rand() * 30) / 10 }));
}

/** Writes `rides` ride folders (synth-<seed>-<n>) into outDir; returns their paths. */
export async function synthesizeRides(opts: SynthOptions): Promise<string[]> {
  const fps = opts.fps ?? 5;
  const width = opts.width ?? 160;
  const height = opts.height ?? 120;
  const origin = opts.origin ?? { lat: 34.0522, lon: -118.2437 };
  const out: string[] = [];
  for (let r = 0; r < opts.rides; r++) {
    const rand = createPrng(opts.seed * 7919 + r);
    const script = opts.script ? parseSceneScript(opts.script) : randomScript(rand);
    const frames = Math.max(1, Math.round(sceneScriptDurationS(script) * fps));
    const started = EPOCH_MS + (opts.seed % 1000) * 86_400_000 + r * 3_600_000;
    const rideId = `synth-${opts.seed}-${r}`;
    const dir = join(opts.outDir, rideId);
    const frameIndex = { n: 0 };
    const rec = await RideRecorder.open({
      dir,
      device: 'synth',
      location: opts.location ?? 'synth',
      rideId,
      labels: [...SCENE_KINDS],
      now: () => new Date(started + (frameIndex.n * 1000) / fps),
    });
    const heading = rand() * 2 * Math.PI;
    const rgb = new Uint8Array(width * height * 3);
    let lat = origin.lat + (rand() - 0.5) * 0.02;
    let lon = origin.lon + (rand() - 0.5) * 0.02;
    let offsetM = 0;
    let speedKph = 8 + rand() * 10;
    try {
      for (let i = 0; i < frames; i++) {
        const tS = i / fps;
        const seg = segmentAt(script, tS + 1e-9); // a frame on a boundary belongs to the next segment
        // Slower on sidewalks and crosswalks, smooth changes, never negative.
        const target = seg.kind === 'side' || seg.kind === 'crosswalk' ? 8 : 18;
        speedKph = Math.max(0, speedKph + (target - speedKph) * 0.15 + (rand() - 0.5) * 1.5);
        const stepM = speedKph / 3.6 / fps;
        offsetM += stepM;
        lat += (stepM * Math.cos(heading)) / 111_320;
        lon += (stepM * Math.sin(heading)) / (111_320 * Math.cos((lat * Math.PI) / 180));
        renderScene(seg.kind, { width, height, offsetM, seed: opts.seed * 1000 + r * 10 + seg.index }, rgb);
        const frame: Frame = { seq: i, capturedAtNs: BigInt(Math.round(tS * 1e9)), width, height, stride: width * 3, format: 'rgb24', data: rgb };
        const noisy = (opts.riderNoise ?? 0) > 0 && rand() < opts.riderNoise!;
        const riderLabel = noisy ? SCENE_KINDS[(SCENE_KINDS.indexOf(seg.kind) + 1) % SCENE_KINDS.length]! : seg.kind;
        await rec.addFrame(frame, {
          t_ms: Math.round(tS * 1000),
          lat: Math.round(lat * 1e7) / 1e7,
          lon: Math.round(lon * 1e7) / 1e7,
          alt_m: Math.round((80 + offsetM * 0.01) * 100) / 100,
          speed_kph: Math.round(speedKph * 100) / 100,
          rider_label: riderLabel,
          true_label: seg.kind,
        });
        frameIndex.n = i + 1;
      }
      await rec.close();
    } catch (err) {
      await rec.abort();
      throw err;
    }
    const metaPath = join(dir, RIDE_META_FILE);
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as RideMeta;
    await writeFileAtomic(metaPath, `${JSON.stringify({ ...meta, synthetic: true }, null, 2)}\n`);
    out.push(dir);
  }
  return out;
}
