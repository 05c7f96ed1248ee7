/** `sidewalk data synth`: labelled synthetic rides, deterministic from a seed. */
import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { SidewalkError } from '../../../lib/errors.js';
import { wholeNumber } from '../cli-common.js';
import { synthesizeRides } from '../synth.js';

export function registerSynth(data: Command): void {
  data
    .command('synth')
    .description('write labelled synthetic rides (street, sidewalk, crosswalk, bike lane scenes with a plausible sensor log) in the ride format, deterministic from --seed')
    .requiredOption('--out <dir>', 'folder to write ride folders into')
    .option('--rides <n>', 'number of rides', wholeNumber('--rides'), 4)
    .option('--seed <n>', 'seed', wholeNumber('--seed'), 1)
    .option('--script <kind:seconds,...>', 'scene script for every ride, e.g. "side:4,street:3,crosswalk:2" (default: random per ride)')
    .option('--fps <n>', 'frames per second', wholeNumber('--fps'), 5)
    .option('--size <WxH>', 'frame size', '160x120')
    .option('--location <name>', 'location written to ride.json', 'synth')
    .action(async (o: { out: string; rides: number; seed: number; script?: string; fps: number; size: string; location: string }) => {
      const m = /^(\d+)x(\d+)$/.exec(o.size);
      if (!m) throw new SidewalkError('DATA_BAD_OPTION', `--size must be WxH, got "${o.size}"`);
      await mkdir(o.out, { recursive: true }).catch((err: Error) => {
        throw new SidewalkError('DATA_OUTPUT_UNWRITABLE', `--out ${o.out}: cannot create the folder (${err.message})`, { cause: err });
      });
      const dirs = await synthesizeRides({
        outDir: o.out,
        rides: o.rides,
        seed: o.seed,
        fps: o.fps,
        width: Number(m[1]),
        height: Number(m[2]),
        location: o.location,
        ...(o.script ? { script: o.script } : {}),
      });
      process.stdout.write(`${dirs.join('\n')}\n`);
    });
}
