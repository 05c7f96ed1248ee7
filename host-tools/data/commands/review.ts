/** `sidewalk data review`: the local review page for queued frames. */
import type { Command } from 'commander';
import { common, untilSignal, wholeNumber, withDb, type CommonOpts } from '../cli-common.js';
import { loadDataConfig } from '../config.js';
import { ReviewServer } from '../review-server.js';

export function registerReview(data: Command): void {
  common(
    data
      .command('review')
      .description('serve a local review page (127.0.0.1) for queued frames; keys 1-4 label the shown frame')
      .option('--location <name>', 'only frames of this location')
      .option('--port <n>', 'port (0 = any free port)', wholeNumber('--port'), 8765),
  ).action(async (o: CommonOpts & { location?: string; port: number }) => {
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
