/** `sidewalk data watch`: ingest uploads as they complete and fire training triggers. */
import type { Command } from 'commander';
import { common, untilSignal, wholeNumber, withDb, type CommonOpts } from '../cli-common.js';
import { loadDataConfig } from '../config.js';
import { defaultDbPath } from '../db.js';
import { RideWatcher } from '../watch.js';

export function registerWatch(data: Command): void {
  common(
    data
      .command('watch')
      .description('ingest rides as their uploads complete, and fire a training trigger when a location gains enough new labelled frames')
      .argument('<dir>', 'upload folder to watch')
      .option('--location <name>', 'location for legacy runs and videos')
      .option('--poll-ms <n>', 'scan interval', wholeNumber('--poll-ms'), 2000)
      .option('--trigger-frames <n>', 'new labelled frames per location that trigger training (0 = never)', wholeNumber('--trigger-frames'), 0)
      .option('--trigger-command <cmd>', 'shell command run on a trigger (env SIDEWALK_LOCATION, SIDEWALK_TRIGGER_ID, SIDEWALK_DATA_DB)'),
  ).action(async (dir: string, o: CommonOpts & { location?: string; pollMs: number; triggerFrames: number; triggerCommand?: string }) => {
    const config = loadDataConfig(o.config);
    await withDb(o, async (db, store) => {
      const watcher = new RideWatcher({
        dir,
        db,
        store,
        config,
        pollMs: o.pollMs,
        triggerFrames: o.triggerFrames,
        dbPath: o.db ?? defaultDbPath(),
        ...(o.location ? { location: o.location } : {}),
        ...(o.triggerCommand ? { triggerCommand: o.triggerCommand } : {}),
      });
      watcher.onEvent((e) => process.stdout.write(`${JSON.stringify(e.type === 'failed' || e.type === 'trigger' ? e : { type: e.type, path: e.path, frames: e.result.frames })}\n`));
      watcher.start();
      await untilSignal();
      await watcher.stop();
    });
  });
}
