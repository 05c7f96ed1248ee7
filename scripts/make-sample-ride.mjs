#!/usr/bin/env node
// Renders the bundled sample ride (demo/sample-ride.mp4) from the synthetic scene renderer and writes
// its ground truth (demo/sample-ride.json). Deterministic: same script, same seed, same frames
// (the H.264 bytes may differ between ffmpeg versions). Run after the build: node scripts/make-sample-ride.mjs
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderScene, parseSceneScript, segmentAt, sceneScriptDurationS } = await import(join(root, 'dist/runtime/camera/scenes.js'));

const WIDTH = 320;
const HEIGHT = 240;
const FPS = 15;
const SEED = 7;
// A ride: street, onto a sidewalk, across a crosswalk, back to the street, a bike lane, a sidewalk.
const SCRIPT = 'street:8,side:10,crosswalk:3,street:6,bike_lane:6,side:8,street:5';
// Plausible speeds (km/h) per scene kind for the ground truth log.
const SPEED_KPH = { street: 18, bike_lane: 16, side: 7, crosswalk: 6 };

const script = parseSceneScript(SCRIPT);
const frames = Math.round(sceneScriptDurationS(script) * FPS);
const out = join(root, 'demo/sample-ride.mp4');
const ffmpeg = spawn(
  'ffmpeg',
  [
    '-y',
    '-loglevel',
    'error',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${WIDTH}x${HEIGHT}`,
    '-r',
    String(FPS),
    '-i',
    '-',
    '-c:v',
    'libx264',
    '-preset',
    'slow',
    '-crf',
    '30',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(FPS * 2),
    '-movflags',
    '+faststart',
    out,
  ],
  { stdio: ['pipe', 'inherit', 'inherit'] },
);

const rgb = new Uint8Array(WIDTH * HEIGHT * 3);
let distanceM = 0;
for (let i = 0; i < frames; i++) {
  const tS = i / FPS;
  const { kind, index } = segmentAt(script, tS);
  renderScene(kind, { width: WIDTH, height: HEIGHT, offsetM: distanceM, seed: SEED * 100 + index }, rgb);
  distanceM += SPEED_KPH[kind] / 3.6 / FPS;
  if (!ffmpeg.stdin.write(rgb)) await new Promise((r) => ffmpeg.stdin.once('drain', r));
}
ffmpeg.stdin.end();
const code = await new Promise((r) => ffmpeg.on('close', r));
if (code !== 0) {
  console.error(`ffmpeg exited with ${code}`);
  process.exit(1);
}

let t = 0;
const segments = script.map((s) => {
  const seg = { kind: s.kind, startS: t, endS: t + s.durationS, speedKph: SPEED_KPH[s.kind] };
  t += s.durationS;
  return seg;
});
writeFileSync(
  join(root, 'demo/sample-ride.json'),
  `${JSON.stringify({ description: 'Synthetic demo ride (not real footage)', width: WIDTH, height: HEIGHT, fps: FPS, frames, seed: SEED, script: SCRIPT, segments }, null, 2)}\n`,
);
console.error(`wrote ${out} (${frames} frames) and demo/sample-ride.json`);
