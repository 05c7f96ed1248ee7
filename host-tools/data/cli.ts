/**
 * `sidewalk data ...`: ingest rides into the dataset database, flag, label, split, export, and the
 * tools around them. Every command takes --db (default $SIDEWALK_DATA_DB or ./sidewalk-data/dataset.db).
 */
import { type Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { createLogger } from '../../lib/log.js';
import { SidewalkError } from '../../lib/errors.js';
import { loadDataConfig } from './config.js';
import { defaultDbPath, openDatabase, storeRootFor, type Db } from './db.js';
import { exportDataset, exportManifest, parseCrop, readModelManifest } from './export.js';
import { reflagAll } from './filters.js';
import { ingestPaths } from './ingest.js';
import type { LegacyOutLayout } from '../../runtime/recorder/legacy-run.js';
import { relabelAll } from './labels.js';
import { scoreFrames } from './score.js';
import { createTfliteClassifier } from '../../runtime/inference/classifier.js';
import { assignSplits, unfreezeTest } from './splits.js';
import { datasetStats, formatStats } from './stats.js';
import { FrameStore } from './store.js';
import { registerMoreDataCommands } from './cli-more.js';

const log = createLogger('data');

export interface CommonOpts {
  db?: string;
  config?: string;
}

/** `readOnly`: commands that only read (stats, map) never create or change a database. */
export async function withDb<T>(opts: CommonOpts, fn: (db: Db, store: FrameStore) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const file = opts.db ?? defaultDbPath();
  const created = !existsSync(file) && !options.readOnly;
  const db = openDatabase(file, options);
  try {
    return await fn(db, new FrameStore(storeRootFor(file)));
  } catch (err) {
    // A database this very command created and failed before storing anything is removed: a failure leaves nothing behind.
    const empty = created && (db.prepare('SELECT COUNT(*) AS n FROM rides').get() as { n: number }).n === 0;
    db.close();
    if (empty) await removeNewDatabase(file);
    throw err;
  } finally {
    if (db.open) db.close();
  }
}

async function removeNewDatabase(file: string): Promise<void> {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) await rm(f, { force: true });
  await rmdir(storeRootFor(file)).catch(() => {}); // only when empty: objects are never thrown away
}

export function common(cmd: Command): Command {
  return cmd
    .option('--db <file>', 'dataset database (default $SIDEWALK_DATA_DB or ./sidewalk-data/dataset.db); images are stored in objects/ beside it')
    .option('--config <file>', 'data settings (YAML/JSON): filters thresholds, labelling.riderMap, labelling.modelThreshold');
}

const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new SidewalkError('DATA_BAD_OPTION', `${name} must be a positive number, got "${v}"`);
  return n;
};

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('ride recordings -> dataset: ingest, quality flags, labels, splits, export');

  common(data.command('ingest')
    .description('ingest new-format ride folders, legacy runN/ folders, or videos (with an optional CSV/GPX sensor log); a folder of those works too.\nIdempotent by content hash; each ride lands completely or not at all.')
    .argument('<path...>', 'ride folder, legacy run folder, video file, or a folder containing them')
    .option('--location <name>', 'location for inputs that do not name one (required for legacy runs and videos)')
    .option('--fps <n>', 'frame rate for extracting video frames', positive('--fps'), 5)
    .option('--sensors <file>', 'sensor log (CSV or GPX) for a video; default <video>.csv or <video>.gpx beside it')
    .addOption(new Option('--legacy-layout <layout>', "scooter.py's out_data.txt layout for legacy runs whose file fits both (DATA_LEGACY_LAYOUT_AMBIGUOUS)").choices(['live', 'post-process'])))
    .action(async (paths: string[], o: CommonOpts & { location?: string; fps: number; sensors?: string; legacyLayout?: LegacyOutLayout }) => {
      const config = loadDataConfig(o.config);
      await withDb(o, async (db, store) => {
        const results = await ingestPaths(paths, { db, store, config, fps: o.fps, ...(o.location ? { location: o.location } : {}), ...(o.sensors ? { sensorLog: o.sensors } : {}), ...(o.legacyLayout ? { legacyLayout: o.legacyLayout } : {}) });
        const count = (s: string): number => results.filter((r) => r.status === s).length;
        process.stdout.write(`${count('added')} added (${results.reduce((n, r) => n + r.frames, 0)} frames), ${count('skipped')} already present, ${count('failed')} failed\n`);
        const failed = results.find((r) => r.status === 'failed');
        if (failed) throw failed.error;
      });
    });

  common(data.command('stats')
    .description('frames per location, class, split, quality flag and label source')
    .option('--location <name>', 'only this location')
    .option('--json', 'machine-readable output'))
    .action(async (o: CommonOpts & { location?: string; json?: boolean }) => {
      await withDb(o, async (db) => {
        const stats = datasetStats(db, o.location);
        process.stdout.write(o.json ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
      }, { readOnly: true });
    });

  common(data.command('filter')
    .description('re-evaluate quality flags (low_speed, blurry, dark, near_duplicate within a ride, duplicate_of_other_ride across rides of a location) of every frame with the thresholds of --config; nothing is deleted'))
    .action(async (o: CommonOpts) => {
      const config = loadDataConfig(o.config);
      await withDb(o, async (db) => {
        process.stdout.write(`${reflagAll(db, config.filters)} frames flagged\n`);
      });
    });

  common(data.command('label')
    .description('re-run labelling (rider mapping + model agreement/threshold) on every frame not labelled by a person; the rest is queued for review.\nA model\'s own label (no rider input) is a proposal, never exported for training until accepted in review or with --accept-model-labels; a share (labelling.modelReviewShare) is queued for review.\nWith --model, first score the frames with that model bundle (the current model) and label with its scores.')
    .option('--model <bundle>', 'model bundle folder (model.tflite + manifest.json) to score frames with first')
    .option('--location <name>', 'with --model: only score frames of this location')
    .addOption(new Option('--delegate <d>', 'with --model: TFLite delegate').choices(['cpu', 'xnnpack']).default('cpu'))
    .option('--accept-model-labels', 'make model-proposed labels final (exported for training) without review; default: only a sample is reviewed and none is exported until accepted'))
    .action(async (o: CommonOpts & { model?: string; location?: string; delegate: 'cpu' | 'xnnpack'; acceptModelLabels?: boolean }) => {
      const config = loadDataConfig(o.config);
      if (o.acceptModelLabels) config.labelling.acceptModelLabels = true;
      await withDb(o, async (db, store) => {
        if (o.model) {
          const classifier = await createTfliteClassifier(o.model, { delegate: o.delegate });
          try {
            const n = await scoreFrames(db, store, classifier, o.location ? { location: o.location } : {});
            process.stdout.write(`${n} frames scored with ${classifier.info.name}@${classifier.info.version}\n`);
          } finally {
            await classifier.close();
          }
        }
        process.stdout.write(`${relabelAll(db, config)} frames changed\n`);
      });
    });

  common(data.command('split')
    .description('assign rides to train/val/test by ride, stratified by class; --freeze-test fixes the test split (refused when it lacks a class), --unfreeze lets it change again (recorded)')
    .requiredOption('--location <name>', 'location to split')
    .option('--seed <seed>', 'seed for the ride order', '1')
    .option('--fractions <train,val,test>', 'target shares of frames', '0.7,0.15,0.15')
    .option('--reset', 're-assign train/val (and test unless frozen) from scratch')
    .option('--freeze-test', 'freeze the test split of this location after assigning')
    .option('--unfreeze', 'unfreeze the test split (nothing is re-assigned until the next --reset); recorded with --by and the time')
    .option('--by <name>', 'who freezes or unfreezes, for the record (default: the user and host)')
    .option('--reason <text>', 'why, for the record (with --unfreeze)'))
    .action(async (o: CommonOpts & { location: string; seed: string; fractions: string; reset?: boolean; freezeTest?: boolean; unfreeze?: boolean; by?: string; reason?: string }) => {
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
          log.warn(`the test split of ${o.location} has no ${r.testMissing.join(', ')} frames: models cannot be judged on ${r.testMissing.length > 1 ? 'those classes' : 'that class'}` +
            (r.testFrozen ? ' (it is frozen: `sidewalk data split --unfreeze` then `--reset`)' : ''));
        }
      });
    });

  common(data.command('export')
    .description('write train/val/test folders per class plus dataset.json (counts, balance, rides, filters, content hash): ' +
      'whole frames at --width x --height by default (the trainer and the device then crop as the model manifest says), ' +
      'or cropped here with --crop, or as an existing model manifest says (--manifest); a crop is applied once, here or by the trainer')
    .requiredOption('--location <name>', 'location to export')
    .requiredOption('--out <dir>', 'output folder (must be empty or absent)')
    .option('--width <px>', 'image width (default 160)', positive('--width'))
    .option('--height <px>', 'image height (default 120)', positive('--height'))
    .option('--crop <x,y,w,h>', 'crop the frames here, as fractions of the frame (the trained model\'s manifest then states it)')
    .option('--manifest <file>', 'instead of --width/--height/--crop: a model manifest.json (or bundle folder) giving input size and crop')
    .addOption(new Option('--include-flagged', 'include frames with quality flags')))
    .action(async (o: CommonOpts & { location: string; out: string; manifest?: string; width?: number; height?: number; crop?: string; includeFlagged?: boolean }) => {
      if (o.manifest !== undefined && (o.width !== undefined || o.height !== undefined || o.crop !== undefined)) {
        throw new SidewalkError('DATA_BAD_OPTION', '--manifest gives size and crop; do not combine it with --width, --height or --crop');
      }
      for (const [name, v] of [['--width', o.width], ['--height', o.height]] as const) {
        if (v !== undefined && (!Number.isInteger(v) || v < 16 || v > 4096)) throw new SidewalkError('DATA_BAD_OPTION', `${name} must be a whole number of pixels 16..4096, got ${v}`);
      }
      const manifest = o.manifest !== undefined ? await readModelManifest(o.manifest)
        : exportManifest({ width: o.width ?? 160, height: o.height ?? 120, location: o.location, ...(o.crop !== undefined ? { crop: parseCrop(o.crop) } : {}) });
      await withDb(o, async (db, store) => {
        const m = await exportDataset(db, store, { location: o.location, outDir: o.out, manifest, includeFlagged: o.includeFlagged === true });
        const n = Object.values(m.counts).reduce((s, c) => s + Object.values(c).reduce((a, b) => a + b, 0), 0);
        process.stdout.write(`${n} images exported to ${o.out}; snapshot ${m.content_hash}\n`);
      });
    });

  registerMoreDataCommands(data);
}
