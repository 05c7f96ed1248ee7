/**
 * Runs one update on a SimDevice with the power cut at operation N, then powers the device on again
 * (as many boots as the updater asks for) and reports what state it settled in.
 */
import { configureLogging } from '../../lib/log.js';
import type { OtaFs } from '../../ota/fs.js';
import type { Outcome, Updater } from '../../ota/install/updater.js';
import { CrashFs, isPowerLoss, rng } from './crash-fs.js';
import type { SimDevice } from './sim-device.js';

export interface CutRun {
  cutOp: string | null;
  ops: number;
  /** How the update ended according to the journal; 'none' when it never started. */
  result: 'success' | 'failure' | 'none';
  error: string | null;
  bootedSlot: 'A' | 'B';
  bootedVersion: string;
  boots: number;
}

configureLogging({ level: 'silent' });

export class BrickedError extends Error {}

/** A whole OS update without a cut, booting as often as it asks; `counting` learns how many operations it makes. */
export async function runUncut(dev: SimDevice, artifact: string, counting: CrashFs): Promise<Outcome> {
  dev.boot();
  let out = await (await dev.updater(counting).init()).install(artifact);
  while (out.kind === 'reboot') {
    dev.boot();
    out = await (await dev.updater(counting).init()).resume();
  }
  return out;
}

export async function runWithCut(
  dev: SimDevice,
  start: (u: Updater) => Promise<Outcome>,
  cut: {
    cutAt: number | null;
    seed?: number;
    loseUnsynced?: boolean;
    recoveryCutAt?: number;
    /** Only the updater process dies (kill -9, OOM): no data is lost and the device keeps running; systemd restarts the updater. */
    processCrash?: boolean;
    /** Called once the cut has happened (after unsynced data is lost), before the device powers on again. */
    afterCut?: () => void;
    /** Wraps the file system the cut run's updater writes through (a user's recorder writing beside it). */
    wrapFs?: (fs: OtaFs) => OtaFs;
  },
): Promise<CutRun> {
  let boots = 0;
  const bootOnce = () => {
    boots++;
    const b = dev.boot();
    if (!b.ok) throw new BrickedError(`device does not boot: ${b.reason} (${b.log.join('; ')})`);
    return b;
  };
  bootOnce();
  const fatPaths = [dev.firmware.layout.selectorDir];
  const crash = new CrashFs({ cutAt: cut.cutAt, random: rng(cut.seed ?? 1), loseUnsynced: cut.loseUnsynced ?? false, fatPaths });
  const fs = cut.wrapFs ? cut.wrapFs(crash) : crash;
  try {
    let out = await start(await dev.updater(fs).init());
    while (out.kind === 'reboot') {
      bootOnce();
      out = await (await dev.updater(fs).init()).resume();
    }
  } catch (err) {
    if (!isPowerLoss(err)) throw err;
  }
  const restartWithoutBoot = crash.cut && cut.processCrash === true;
  if (crash.cut && !restartWithoutBoot) {
    crash.powerOff();
    dev.firmware.powerCut();
  }
  if (crash.cut) cut.afterCut?.();
  // Power on again; the updater resumes or rolls back from its journal, rebooting as often as it asks.
  // With `recoveryCutAt` the power fails once more during that first recovery.
  let updater: Updater | null = null;
  for (let i = 0; ; i++) {
    if (i > 8) throw new Error('updater keeps asking for reboots');
    if (i > 0 || !restartWithoutBoot) bootOnce();
    const fs = new CrashFs({ cutAt: i === 0 ? (cut.recoveryCutAt ?? null) : null, random: rng((cut.seed ?? 1) + 7), loseUnsynced: cut.loseUnsynced ?? false, fatPaths });
    try {
      updater = await dev.updater(fs).init();
      if ((await updater.resume()).kind !== 'reboot') break;
    } catch (err) {
      if (!isPowerLoss(err)) throw err;
      fs.powerOff();
      dev.firmware.powerCut();
      updater = null;
    }
  }
  const status = updater!.status();
  if (status.state !== 'idle') throw new Error(`updater settled in state ${status.state}, not idle`);
  const b = dev.lastBoot!;
  if (!b.ok) throw new BrickedError('not booted');
  return {
    cutOp: crash.cutOp,
    ops: crash.ops,
    result: status.last ? status.last.result : 'none',
    error: status.last?.error ?? null,
    bootedSlot: b.slot,
    bootedVersion: b.os.version,
    boots,
  };
}
