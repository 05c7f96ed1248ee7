/** `sidewalk data split`: rides to train/val/test, and freezing the test split. */
import type { Command } from 'commander';
import { hostname, userInfo } from 'node:os';
import { SidewalkError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log.js';
import { common, withDb, type CommonOpts } from '../cli-common.js';
import { assignSplits, unfreezeTest } from '../splits.js';

const log = createLogger('data');

export function registerSplit(data: Command): void {
  common(
    data
      .command('split')
      .description('assign rides to train/val/test by ride, stratified by class; --freeze-test fixes the test split (refused when it lacks a class), --unfreeze lets it change again (recorded)')
      .requiredOption('--location <name>', 'location to split')
      .option('--seed <seed>', 'seed for the ride order', '1')
      .option('--fractions <train,val,test>', 'target shares of frames', '0.7,0.15,0.15')
      .option('--reset', 're-assign train/val (and test unless frozen) from scratch')
      .option('--freeze-test', 'freeze the test split of this location after assigning')
      .option('--unfreeze', 'unfreeze the test split (nothing is re-assigned until the next --reset); recorded with --by and the time')
      .option('--by <name>', 'who freezes or unfreezes, for the record (default: the user and host)')
      .option('--reason <text>', 'why, for the record (with --unfreeze)'),
  ).action(async (o: CommonOpts & { location: string; seed: string; fractions: string; reset?: boolean; freezeTest?: boolean; unfreeze?: boolean; by?: string; reason?: string }) => {
    const f = o.fractions.split(',').map(Number);
    if (f.length !== 3 || f.some((v) => !(v >= 0))) throw new SidewalkError('DATA_BAD_OPTION', `--fractions must be three numbers, got "${o.fractions}"`);
    if (o.unfreeze && (o.freezeTest || o.reset)) throw new SidewalkError('DATA_BAD_OPTION', '--unfreeze runs alone; split again afterwards (with --reset to re-assign the test rides)');
    const by = o.by ?? `${userInfo().username}@${hostname()}`;
    await withDb(o, async (db) => {
      if (o.unfreeze) {
        const e = unfreezeTest(db, o.location, by, o.reason);
        process.stdout.write(`test split of ${o.location} unfrozen by ${e.by} at ${e.at}\n`);
        return;
      }
      const r = assignSplits(db, { location: o.location, seed: o.seed, fractions: { train: f[0]!, val: f[1]!, test: f[2]! }, reset: o.reset === true, freezeTest: o.freezeTest === true, by });
      process.stdout.write(`${r.assigned} rides assigned now; rides per split in total: train=${r.bySplit.train} val=${r.bySplit.val} test=${r.bySplit.test}${r.testFrozen ? ' (test frozen)' : ''}\n`);
      if (r.testMissing.length > 0) {
        log.warn(
          `the test split of ${o.location} has no ${r.testMissing.join(', ')} frames: models cannot be judged on ${r.testMissing.length > 1 ? 'those classes' : 'that class'}` +
            (r.testFrozen ? ' (it is frozen: `sidewalk data split --unfreeze` then `--reset`)' : ''),
        );
      }
    });
  });
}
