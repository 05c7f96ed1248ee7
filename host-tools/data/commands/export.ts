/** `sidewalk data export`: train/val/test folders per class plus dataset.json. */
import { type Command, Option } from 'commander';
import { SidewalkError } from '../../../lib/errors.js';
import { common, positive, withDb, type CommonOpts } from '../cli-common.js';
import { exportDataset, exportManifest, parseCrop, readModelManifest } from '../export.js';

export function registerExport(data: Command): void {
  common(
    data
      .command('export')
      .description(
        'write train/val/test folders per class plus dataset.json (counts, balance, rides, filters, content hash): ' +
          'whole frames at --width x --height by default (the trainer and the device then crop as the model manifest says), ' +
          'or cropped here with --crop, or as an existing model manifest says (--manifest); a crop is applied once, here or by the trainer',
      )
      .requiredOption('--location <name>', 'location to export')
      .requiredOption('--out <dir>', 'output folder (must be empty or absent)')
      .option('--width <px>', 'image width (default 160)', positive('--width'))
      .option('--height <px>', 'image height (default 120)', positive('--height'))
      .option('--crop <x,y,w,h>', "crop the frames here, as fractions of the frame (the trained model's manifest then states it)")
      .option('--manifest <file>', 'instead of --width/--height/--crop: a model manifest.json (or bundle folder) giving input size and crop')
      .addOption(new Option('--include-flagged', 'include frames with quality flags')),
  ).action(async (o: CommonOpts & { location: string; out: string; manifest?: string; width?: number; height?: number; crop?: string; includeFlagged?: boolean }) => {
    if (o.manifest !== undefined && (o.width !== undefined || o.height !== undefined || o.crop !== undefined)) {
      throw new SidewalkError('DATA_BAD_OPTION', '--manifest gives size and crop; do not combine it with --width, --height or --crop');
    }
    for (const [name, v] of [
      ['--width', o.width],
      ['--height', o.height],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 16 || v > 4096)) throw new SidewalkError('DATA_BAD_OPTION', `${name} must be a whole number of pixels 16..4096, got ${v}`);
    }
    const manifest =
      o.manifest !== undefined
        ? await readModelManifest(o.manifest)
        : exportManifest({ width: o.width ?? 160, height: o.height ?? 120, location: o.location, ...(o.crop !== undefined ? { crop: parseCrop(o.crop) } : {}) });
    await withDb(o, async (db, store) => {
      const m = await exportDataset(db, store, { location: o.location, outDir: o.out, manifest, includeFlagged: o.includeFlagged === true });
      const n = Object.values(m.counts).reduce((s, c) => s + Object.values(c).reduce((a, b) => a + b, 0), 0);
      process.stdout.write(`${n} images exported to ${o.out}; snapshot ${m.content_hash}\n`);
    });
  });
}
