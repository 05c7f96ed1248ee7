import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestOne, ingestPaths } from '../../../host-tools/data/ingest.js';
import { findRide, ridePoints, toGeoJson, toKml } from '../../../host-tools/data/map.js';
import { synthesizeRides } from '../../../host-tools/data/synth.js';
import { sha256 } from '../../../host-tools/data/images.js';
import { readRide } from '../../../runtime/recorder/ride-format.js';
import { workspace, type Workspace } from './workspace.js';

async function treeHash(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const buf = await readFile(join(dir, name)).catch(() => null);
    if (buf) parts.push(`${name}:${sha256(buf)}`);
  }
  return sha256(parts.join('\n'));
}

describe('synthetic rides and maps', () => {
  let ws: Workspace;
  let rides: string[];
  before(async () => {
    ws = await workspace();
    rides = await synthesizeRides({ outDir: join(ws.dir, 'a'), rides: 2, seed: 5, script: 'side:1,street:0.6,crosswalk:0.6,bike_lane:0.6', fps: 5, width: 96, height: 64, location: 'Denver' });
  });
  after(async () => {
    await ws.close();
  });

  test('synth writes complete, labelled rides, identical for the same seed', async () => {
    assert.equal(rides.length, 2);
    const ride = await readRide(rides[0]!);
    assert.equal(ride.meta.status, 'complete');
    assert.equal(ride.meta.synthetic, true);
    assert.equal(ride.meta.frames.count, 14);
    assert.deepEqual(
      ride.records.map((r) => r.true_label),
      [...Array(5).fill('side'), ...Array(3).fill('street'), ...Array(3).fill('crosswalk'), ...Array(3).fill('bike_lane')],
    );
    const speeds = ride.records.map((r) => r.speed_kph!);
    assert.ok(speeds.every((s) => s > 0 && s < 40));
    assert.ok(ride.records[13]!.lat !== ride.records[0]!.lat || ride.records[13]!.lon !== ride.records[0]!.lon);
    const again = await synthesizeRides({ outDir: join(ws.dir, 'b'), rides: 2, seed: 5, script: 'side:1,street:0.6,crosswalk:0.6,bike_lane:0.6', fps: 5, width: 96, height: 64, location: 'Denver' });
    assert.equal(await treeHash(again[1]!), await treeHash(rides[1]!));
    const other = await synthesizeRides({ outDir: join(ws.dir, 'c'), rides: 1, seed: 6, script: 'side:1', fps: 5, width: 96, height: 64 });
    assert.notEqual(await treeHash(other[0]!), await treeHash(rides[0]!));
  });

  test('synthetic rides ingest with their true labels; the map colours frames by label and prediction', async () => {
    const res = await ingestPaths([join(ws.dir, 'a')], { db: ws.db, store: ws.store, config: ws.config, progress: false });
    assert.deepEqual(
      res.map((r) => r.status),
      ['added', 'added'],
    );
    const bySource = ws.db.prepare('SELECT label_source AS s, COUNT(*) AS n FROM frames GROUP BY label_source').all();
    assert.deepEqual(bySource, [{ s: 'synthetic', n: 28 }]);
    const ride = findRide(ws.db, 'synth-5-0');
    const points = ridePoints(ws.db, ride.id);
    assert.equal(points.length, 14);
    const geo = toGeoJson(ride.key, points) as { features: { geometry: { coordinates: number[] }; properties: Record<string, unknown> }[] };
    assert.equal(geo.features[0]!.properties.label, 'side');
    assert.equal(geo.features[0]!.properties['marker-color'], '#1f77b4');
    assert.equal(geo.features[6]!.properties['marker-color'], '#d62728');
    assert.equal(geo.features[0]!.geometry.coordinates[0], points[0]!.lon);
    const kml = toKml(ride.key, points);
    assert.equal((kml.match(/<Placemark>/g) ?? []).length, 28);
    assert.match(kml, /<name>by prediction<\/name>/);
    assert.match(kml, /<styleUrl>#street<\/styleUrl>/);
  });

  test('a ride whose frames are a video is ingested frame by frame', async () => {
    const [src] = await synthesizeRides({ outDir: join(ws.dir, 'v'), rides: 1, seed: 9, script: 'street:1,side:1', fps: 5, width: 96, height: 64, location: 'Denver' });
    await new Promise<void>((resolve, reject) => {
      const ff = spawn('ffmpeg', ['-v', 'error', '-framerate', '5', '-i', join(src!, 'frames', '%06d.jpg'), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', join(src!, 'ride.mp4')]);
      ff.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${code}`))));
    });
    await rm(join(src!, 'frames'), { recursive: true });
    const meta = JSON.parse(await readFile(join(src!, 'ride.json'), 'utf8'));
    await writeFile(join(src!, 'ride.json'), JSON.stringify({ ...meta, frames: { kind: 'video', file: 'ride.mp4', count: 10, fps: 5 } }));
    const r = await ingestOne(src!, 'ride', { db: ws.db, store: ws.store, config: ws.config });
    assert.equal(r.frames, 10);
    const labels = (ws.db.prepare('SELECT label FROM frames WHERE ride_id = ? ORDER BY idx').all(r.rideId) as { label: string }[]).map((x) => x.label);
    assert.deepEqual(labels, [...Array(5).fill('street'), ...Array(5).fill('side')]);
  });
});
