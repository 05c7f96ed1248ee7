/** `sidewalk data stats`: frame counts per location, class, split, flag and label source. */
import type { Command } from 'commander';
import { common, withDb, type CommonOpts } from '../cli-common.js';
import { datasetStats, formatStats } from '../stats.js';

export function registerStats(data: Command): void {
  common(
    data.command('stats').description('frames per location, class, split, quality flag and label source').option('--location <name>', 'only this location').option('--json', 'machine-readable output'),
  ).action(async (o: CommonOpts & { location?: string; json?: boolean }) => {
    await withDb(
      o,
      async (db) => {
        const stats = datasetStats(db, o.location);
        process.stdout.write(o.json ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
      },
      { readOnly: true },
    );
  });
}
