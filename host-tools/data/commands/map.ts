/** `sidewalk data map`: a ride's frames as GeoJSON and KML. */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SidewalkError } from '../../../lib/errors.js';
import { common, withDb, type CommonOpts } from '../cli-common.js';
import { findRide, ridePoints, toGeoJson, toKml } from '../map.js';

export function registerMap(data: Command): void {
  common(
    data
      .command('map')
      .description("write a ride's frames as GeoJSON and KML, coloured by label and by prediction")
      .argument('<ride>', 'ride id, ride key or content-hash prefix (see `sidewalk data stats`)')
      .requiredOption('--out <prefix>', 'writes <prefix>.geojson and <prefix>.kml (creating the folder)'),
  ).action(async (ref: string, o: CommonOpts & { out: string }) => {
    await withDb(
      o,
      async (db) => {
        const ride = findRide(db, ref);
        const points = ridePoints(db, ride.id);
        const outputs: [string, string][] = [
          [`${o.out}.geojson`, `${JSON.stringify(toGeoJson(ride.key, points), null, 1)}\n`],
          [`${o.out}.kml`, toKml(ride.key, points)],
        ];
        await mkdir(dirname(resolve(o.out)), { recursive: true }).catch((err: Error) => {
          throw new SidewalkError('DATA_OUTPUT_UNWRITABLE', `--out ${o.out}: cannot create its folder (${err.message})`, { cause: err });
        });
        for (const [file, text] of outputs) {
          await writeFile(file, text).catch((err: Error) => {
            throw new SidewalkError('DATA_OUTPUT_UNWRITABLE', `--out ${o.out}: cannot write ${file} (${err.message})`, { cause: err });
          });
        }
        process.stdout.write(`${points.length} frames with a position -> ${o.out}.geojson, ${o.out}.kml\n`);
      },
      { readOnly: true },
    );
  });
}
