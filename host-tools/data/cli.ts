/**
 * `sidewalk data ...`: ingest rides into the dataset database, flag, label, split, export, and the
 * tools around them; one file per subcommand in commands/. Every command that opens the database
 * takes --db (default $SIDEWALK_DATA_DB or ./sidewalk-data/dataset.db).
 */
import type { Command } from 'commander';
import { registerExport } from './commands/export.js';
import { registerFilter } from './commands/filter.js';
import { registerIngest } from './commands/ingest.js';
import { registerLabel } from './commands/label.js';
import { registerMap } from './commands/map.js';
import { registerReview } from './commands/review.js';
import { registerSplit } from './commands/split.js';
import { registerStats } from './commands/stats.js';
import { registerSynth } from './commands/synth.js';
import { registerWatch } from './commands/watch.js';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('ride recordings -> dataset: ingest, quality flags, labels, splits, export');
  for (const register of [registerIngest, registerStats, registerFilter, registerLabel, registerSplit, registerExport, registerSynth, registerMap, registerWatch, registerReview]) {
    register(data);
  }
}
