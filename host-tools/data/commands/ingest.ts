/** `sidewalk data ingest`: rides, legacy runs and videos into the dataset database. */
import { type Command, Option } from 'commander';
import type { LegacyOutLayout } from '../../../runtime/recorder/legacy-run.js';
import { common, positive, withDb, type CommonOpts } from '../cli-common.js';
import { loadDataConfig } from '../config.js';
import { ingestPaths } from '../ingest.js';

export function registerIngest(data: Command): void {
  common(
    data
      .command('ingest')
      .description(
        'ingest new-format ride folders, legacy runN/ folders, or videos (with an optional CSV/GPX sensor log); a folder of those works too.\nIdempotent by content hash; each ride lands completely or not at all.',
      )
      .argument('<path...>', 'ride folder, legacy run folder, video file, or a folder containing them')
      .option('--location <name>', 'location for inputs that do not name one (required for legacy runs and videos)')
      .option('--fps <n>', 'frame rate for extracting video frames', positive('--fps'), 5)
      .option('--sensors <file>', 'sensor log (CSV or GPX) for a video; default <video>.csv or <video>.gpx beside it')
      .addOption(new Option('--legacy-layout <layout>', "scooter.py's out_data.txt layout for legacy runs whose file fits both (DATA_LEGACY_LAYOUT_AMBIGUOUS)").choices(['live', 'post-process'])),
  ).action(async (paths: string[], o: CommonOpts & { location?: string; fps: number; sensors?: string; legacyLayout?: LegacyOutLayout }) => {
    const config = loadDataConfig(o.config);
    await withDb(o, async (db, store) => {
      const results = await ingestPaths(paths, {
        db,
        store,
        config,
        fps: o.fps,
        ...(o.location ? { location: o.location } : {}),
        ...(o.sensors ? { sensorLog: o.sensors } : {}),
        ...(o.legacyLayout ? { legacyLayout: o.legacyLayout } : {}),
      });
      const count = (s: string): number => results.filter((r) => r.status === s).length;
      process.stdout.write(`${count('added')} added (${results.reduce((n, r) => n + r.frames, 0)} frames), ${count('skipped')} already present, ${count('failed')} failed\n`);
      const failed = results.find((r) => r.status === 'failed');
      if (failed) throw failed.error;
    });
  });
}
