/** `sidewalk data filter`: re-evaluate every frame's quality flags. */
import type { Command } from 'commander';
import { common, withDb, type CommonOpts } from '../cli-common.js';
import { loadDataConfig } from '../config.js';
import { reflagAll } from '../filters.js';

export function registerFilter(data: Command): void {
  common(
    data
      .command('filter')
      .description(
        're-evaluate quality flags (low_speed, blurry, dark, near_duplicate within a ride, duplicate_of_other_ride across rides of a location) of every frame with the thresholds of --config; nothing is deleted',
      ),
  ).action(async (o: CommonOpts) => {
    const config = loadDataConfig(o.config);
    await withDb(o, async (db) => {
      process.stdout.write(`${reflagAll(db, config.filters)} frames flagged\n`);
    });
  });
}
