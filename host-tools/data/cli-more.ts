/** `sidewalk data synth | map | watch | review`: tools around the dataset (registered by cli.ts). */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { common, withDb, type CommonOpts } from './cli.js';
import { loadDataConfig } from './config.js';
import { defaultDbPath } from './db.js';
import { findRide, ridePoints, toGeoJson, toKml } from './map.js';
import { ReviewServer } from './review-server.js';
import { synthesizeRides } from './synth.js';
import { RideWatcher } from './watch.js';

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SidewalkError('DATA_BAD_OPTION', `${name} must be a whole number >= 0, got "${v}"`);
  return n;
};

/** Resolves on SIGINT/SIGTERM (long-running commands stop cleanly). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export function registerMoreDataCommands(data: Command): void {
  data.command('synth')
    .description('write labelled synthetic rides (street, sidewalk, crosswalk, bike lane scenes with a plausible sensor log) in the ride format, deterministic from --seed')
    .requiredOption('--out <dir>', 'folder to write ride folders into')
    .option('--rides <n>', 'number of rides', int('--rides'), 4)
    .option('--seed <n>', 'seed', int('--seed'), 1)
    .option('--script <kind:seconds,...>', 'scene script for every ride, e.g. "side:4,street:3,crosswalk:2" (default: random per ride)')
    .option('--fps <n>', 'frames per second', int('--fps'), 5)
    .option('--size <WxH>', 'frame size', '160x120')
    .option('--location <name>', 'location written to ride.json', 'synth')
    .action(async (o: { out: string; rides: number; seed: number; script?: string; fps: number; size: string; location: string }) => {
      const m = /^(\d+)x(\d+)$/.exec(o.size);
      if (!m) throw new SidewalkError('DATA_BAD_OPTION', `--size must be WxH, got "${o.size}"`);
      await mkdir(o.out, { recursive: true }).catch((err: Error) => {
        throw new SidewalkError('DATA_OUTPUT_UNWRITABLE', `--out ${o.out}: cannot create the folder (${err.message})`, { cause: err });
      });
      const dirs = await synthesizeRides({ outDir: o.out, rides: o.rides, seed: o.seed, fps: o.fps, width: Number(m[1]), height: Number(m[2]), location: o.location, ...(o.script ? { script: o.script } : {}) });
      process.stdout.write(`${dirs.join('\n')}\n`);
    });

  common(data.command('map')
    .description("write a ride's frames as GeoJSON and KML, coloured by label and by prediction")
    .argument('<ride>', 'ride id, ride key or content-hash prefix (see `sidewalk data stats`)')
    .requiredOption('--out <prefix>', 'writes <prefix>.geojson and <prefix>.kml (creating the folder)'))
    .action(async (ref: string, o: CommonOpts & { out: string }) => {
      await withDb(o, async (db) => {
        const ride = findRide(db, ref);
        const points = ridePoints(db, ride.id);
        const outputs: [string, string][] = [[`${o.out}.geojson`, `${JSON.stringify(toGeoJson(ride.key, points), null, 1)}\n`], [`${o.out}.kml`, toKml(ride.key, points)]];
        await mkdir(dirname(resolve(o.out)), { recursive: true }).catch((err: Error) => {
          throw new SidewalkError('DATA_OUTPUT_UNWRITABLE', `--out ${o.out}: cannot create its folder (${err.message})`, { cause: err });
        });
        for (const [file, text] of outputs) {
          await writeFile(file, text).catch((err: Error) => {
            throw new SidewalkError('DATA_OUTPUT_UNWRITABLE', `--out ${o.out}: cannot write ${file} (${err.message})`, { cause: err });
          });
        }
        process.stdout.write(`${points.length} frames with a position -> ${o.out}.geojson, ${o.out}.kml\n`);
      }, { readOnly: true });
    });

  common(data.command('watch')
    .description('ingest rides as their uploads complete, and fire a training trigger when a location gains enough new labelled frames')
    .argument('<dir>', 'upload folder to watch')
    .option('--location <name>', 'location for legacy runs and videos')
    .option('--poll-ms <n>', 'scan interval', int('--poll-ms'), 2000)
    .option('--trigger-frames <n>', 'new labelled frames per location that trigger training (0 = never)', int('--trigger-frames'), 0)
    .option('--trigger-command <cmd>', 'shell command run on a trigger (env SIDEWALK_LOCATION, SIDEWALK_TRIGGER_ID, SIDEWALK_DATA_DB)'))
    .action(async (dir: string, o: CommonOpts & { location?: string; pollMs: number; triggerFrames: number; triggerCommand?: string }) => {
      const config = loadDataConfig(o.config);
      await withDb(o, async (db, store) => {
        const watcher = new RideWatcher({ dir, db, store, config, pollMs: o.pollMs, triggerFrames: o.triggerFrames, dbPath: o.db ?? defaultDbPath(),
          ...(o.location ? { location: o.location } : {}), ...(o.triggerCommand ? { triggerCommand: o.triggerCommand } : {}) });
        watcher.onEvent((e) => process.stdout.write(`${JSON.stringify(e.type === 'failed' || e.type === 'trigger' ? e : { type: e.type, path: e.path, frames: e.result.frames })}\n`));
        watcher.start();
        await untilSignal();
        await watcher.stop();
      });
    });

  common(data.command('review')
    .description('serve a local review page (127.0.0.1) for queued frames; keys 1-4 label the shown frame')
    .option('--location <name>', 'only frames of this location')
    .option('--port <n>', 'port (0 = any free port)', int('--port'), 8765))
    .action(async (o: CommonOpts & { location?: string; port: number }) => {
      const config = loadDataConfig(o.config);
      await withDb(o, async (db, store) => {
        const server = new ReviewServer({ db, store, config, port: o.port, ...(o.location ? { location: o.location } : {}) });
        const url = await server.start();
        process.stdout.write(`review page: ${url}\n`);
        await untilSignal();
        await server.stop();
      });
    });
}
