/**
 * The update state machine (after Mender's): download -> install -> [switch] -> reboot -> verify ->
 * commit | rollback -> failure -> cleanup -> idle. Each state is journaled (fsync'd) before its work
 * starts; on process start `resume()` picks up from the last record:
 *   download / install interrupted  -> rollback (nothing half-written is ever active)
 *   reboot                          -> verify if we are the trial slot, else rollback (trial failed)
 *   verify                          -> re-run the checks while still in the same trial, else rollback
 *   switch / commit / rollback / failure / cleanup -> redo (every step is idempotent)
 * Rootfs updates go to the inactive slot and are tried once with the firmware's tryboot flag; model and
 * app bundles go to A/B stores and are switched without a reboot, then watched for a health window.
 */
import { join } from 'node:path';
import { SidewalkError, errorMessage } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { OpenedArtifact } from '../artifact/types.js';
import { otherSlot, type BootControl, type SlotName } from '../boot/types.js';
import { Journal, type OtaState } from '../journal.js';
import { commitProvides, readProvides } from './provides.js';
import { stageBundle, writeRootfsPayloads } from './payloads.js';
import type { StoreKind } from './store.js';
import type { JournalData, LastResult, Outcome, UpdateContext, UpdateKind, UpdaterOptions } from './types.js';

export type { JournalData, LastResult, Outcome, ProgressEvent, UpdateContext, UpdateKind, UpdaterOptions } from './types.js';

const log = createLogger('ota:updater');

const ROOTFS_TYPES = new Set(['rootfs-image', 'rootfs-tryboot']);
const STORE_TYPES: Record<string, StoreKind> = { 'sidewalk-model': 'model', 'sidewalk-app': 'app' };
const STORE_PAYLOAD: Record<StoreKind, string> = { model: 'sidewalk-model', app: 'sidewalk-app' };

export class Updater {
  #o: UpdaterOptions;
  #journal!: Journal<JournalData>;
  #artifact: OpenedArtifact | null = null;
  #sleep: (ms: number) => Promise<void>;
  #now: () => number;

  constructor(options: UpdaterOptions) {
    this.#o = options;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#now = options.now ?? Date.now;
  }

  get journalPath(): string {
    return join(this.#o.stateDir, 'journal.log');
  }

  get providesPath(): string {
    return join(this.#o.stateDir, 'provides.json');
  }

  /** `readOnly`: for status only (nothing is created or repaired); such an updater must not drive updates. */
  async init(options: { readOnly?: boolean } = {}): Promise<this> {
    this.#journal = await Journal.open<JournalData>(this.#o.fs, this.journalPath, { now: this.#now, ...(options.readOnly ? { readOnly: true } : {}) });
    return this;
  }

  status(): { state: OtaState; update: UpdateContext | null; last: LastResult | null } {
    const rec = this.#journal.last;
    return { state: rec?.state ?? 'idle', update: rec?.data.update ?? null, last: rec?.data.last ?? null };
  }

  /** Continues (or rolls back) whatever the journal says was in progress. */
  async resume(): Promise<Outcome> {
    return this.#drive(true);
  }

  /** Installs an artifact file from idle; returns when idle again or when the device must reboot. */
  async install(artifactPath: string, options: { ownsArtifact?: boolean } = {}): Promise<Outcome> {
    this.#requireIdle();
    const update: UpdateContext = {
      id: `${this.#now()}`,
      kind: 'rootfs',
      artifactName: '(unknown)',
      artifactPath,
      ownsArtifact: options.ownsArtifact ?? false,
      provides: {},
      clearsProvides: [],
    };
    await this.#go('download', update);
    return this.#drive(false);
  }

  /** Commits a trial (rootfs in verify) without waiting for the rest of the health checks. */
  async commitNow(): Promise<Outcome> {
    const { state, update } = this.status();
    if (!update || (state !== 'verify' && state !== 'reboot' && state !== 'switch')) {
      throw new SidewalkError('OTA_NOTHING_TO_COMMIT', `nothing to commit (state ${state})`);
    }
    if (update.kind === 'rootfs') {
      const booted = await this.#bootControl().booted();
      if (booted.slot !== update.targetSlot) {
        throw new SidewalkError('OTA_NOT_IN_TRIAL', `slot ${update.targetSlot} is not running (booted ${booted.slot}); it cannot be committed`);
      }
    }
    await this.#go('commit', update);
    return this.#drive(false);
  }

  /**
   * Aborts an update in progress, or (when idle) returns to the previous version of `kind`: the
   * previous OS slot through a trial boot, or the store's `previous` bundle through its health window.
   */
  async rollbackNow(kind?: UpdateKind): Promise<Outcome> {
    const { state, update } = this.status();
    if (update && state !== 'idle') {
      if (['rollback', 'rollback-reboot', 'failure', 'cleanup'].includes(state)) return this.#drive(true);
      await this.#go('rollback', { ...update, error: 'rolled back by command' });
      return this.#drive(false);
    }
    if (!kind) throw new SidewalkError('OTA_NOTHING_TO_ROLL_BACK', 'no update in progress; name what to roll back (os, model or app)');
    const id = `${this.#now()}`;
    if (kind === 'rootfs') {
      // The OS provides from before the last commit; model and app keys are protected on commit.
      const provides = (await readProvides(this.#o.fs, this.providesPath, this.#o.factoryProvides)).previous ?? {};
      const base = { id, artifactName: provides.artifact_name ?? '(previous)', artifactPath: null, ownsArtifact: false, provides, clearsProvides: ['*'] };
      const from = await this.#committedBootedSlot();
      const ctx: UpdateContext = { ...base, kind, fromSlot: from, targetSlot: otherSlot(from) };
      await this.#go('reboot', ctx);
      return this.#drive(false);
    }
    const store = this.#o.stores[kind];
    const prev = await store.previous();
    const cur = await store.current();
    if (!prev || prev === cur) throw new SidewalkError('OTA_NOTHING_TO_ROLL_BACK', `${kind} store has no previous version`);
    // Only this kind's provides change: the version that will run again.
    const key = `rootfs-image.${STORE_PAYLOAD[kind]}`;
    const provides = { [`${key}.version`]: prev };
    const base = { id, artifactName: `${kind} ${prev} (rollback)`, artifactPath: null, ownsArtifact: false, provides, clearsProvides: [`${key}.*`] };
    await this.#go('switch', { ...base, kind, version: prev, fromVersion: cur, fromPrevious: prev });
    return this.#drive(false);
  }

  #requireIdle(): void {
    const { state } = this.status();
    if (state !== 'idle') throw new SidewalkError('OTA_UPDATE_IN_PROGRESS', `an update is in progress (state ${state}); finish it first (sidewalk ota status)`);
  }

  #bootControl(): BootControl {
    if (!this.#o.boot) throw new SidewalkError('OTA_NO_SLOTS', 'this device has no A/B OS slots configured (ota config "boot.slots")');
    return this.#o.boot;
  }

  async #go(state: OtaState, update: UpdateContext | null, last?: LastResult): Promise<void> {
    log.debug(`-> ${state}`, update ? { id: update.id, kind: update.kind } : {});
    await this.#journal.append(state, { update, last: last ?? this.status().last });
  }

  async #drive(resumed: boolean): Promise<Outcome> {
    let resumedStep = resumed;
    for (;;) {
      const { state, update, last } = this.status();
      if (state === 'idle' || !update) {
        if (resumedStep || !last) return { kind: 'idle', result: 'nothing' };
        return last.result === 'success' ? { kind: 'idle', result: 'success' } : { kind: 'idle', result: 'failure', error: last.error ?? '' };
      }
      const wasResumed = resumedStep;
      resumedStep = false;
      if (['download', 'install', 'switch', 'reboot', 'verify', 'commit'].includes(state)) {
        try {
          const out = await this.#forward(state, update, wasResumed);
          if (out) return out;
        } catch (err) {
          if (isPowerLoss(err)) throw err;
          log.error(`${state} failed: ${errorMessage(err)}`);
          await this.#artifact?.close().catch(() => {});
          this.#artifact = null;
          await this.#go(state === 'download' ? 'failure' : 'rollback', { ...update, error: `${state}: ${errorMessage(err)}` });
        }
      } else {
        const out = await this.#backward(state, update);
        if (out) return out;
      }
    }
  }

  /** Forward states; returns an outcome when the process must stop here (reboot). */
  async #forward(state: OtaState, u: UpdateContext, resumed: boolean): Promise<Outcome | null> {
    switch (state) {
      case 'download':
        if (resumed) {
          await this.#go('failure', { ...u, error: 'interrupted while reading the artifact' });
          return null;
        }
        await this.#go('install', await this.#openAndPlan(u));
        return null;
      case 'install':
        if (resumed || !this.#artifact) {
          await this.#go('rollback', { ...u, error: 'interrupted while installing (power loss or restart)' });
          return null;
        }
        await this.#waitStill('install');
        if (u.kind === 'rootfs') {
          await this.#writeSlot(u);
          await this.#go('reboot', u);
        } else {
          const version = await this.#stage(u);
          await this.#go('switch', { ...u, version });
        }
        return null;
      case 'switch': {
        const store = this.#o.stores[u.kind as StoreKind];
        if (!resumed) await this.#waitStill('switch');
        await store.switchTo(u.version!, u.fromVersion ?? null);
        await this.#o.notifyRuntime(u.kind as StoreKind);
        await this.#go('verify', { ...u, verifyAttempts: 1 });
        return null;
      }
      case 'reboot': {
        const boot = this.#bootControl();
        if (!resumed) {
          await this.#waitStill('reboot');
          log.info(`rebooting into slot ${u.targetSlot} once (tryboot)`);
          await boot.reboot({ tryboot: true });
          return { kind: 'reboot' };
        }
        const booted = await boot.booted();
        if (booted.slot === u.targetSlot && booted.tryboot) await this.#go('verify', { ...u, verifyAttempts: 1 });
        else await this.#go('rollback', { ...u, error: `trial boot of slot ${u.targetSlot} did not come up (booted slot ${booted.slot})` });
        return null;
      }
      case 'verify': {
        if (resumed) {
          const attempts = (u.verifyAttempts ?? 1) + 1;
          const stillTrial = u.kind !== 'rootfs' || (await this.#inTrial(u));
          if (!stillTrial || attempts > (this.#o.maxVerifyAttempts ?? 3)) {
            await this.#go('rollback', { ...u, error: stillTrial ? `health checks interrupted ${attempts - 1} times` : `power lost during the trial of slot ${u.targetSlot}` });
            return null;
          }
          await this.#go('verify', { ...u, verifyAttempts: attempts });
          u = { ...u, verifyAttempts: attempts };
        }
        const result =
          u.kind === 'rootfs' ? await this.#o.health.os() : u.kind === 'model' ? await this.#o.health.model(u.version!) : await this.#o.health.app(u.version!);
        if (result.ok) await this.#go('commit', u);
        else await this.#go('rollback', { ...u, error: `health check failed: ${result.reason}` });
        return null;
      }
      case 'commit':
        await this.#commit(u, resumed);
        return null;
      default:
        throw new SidewalkError('OTA_JOURNAL_STATE', `unexpected forward state ${state}`);
    }
  }

  /** rollback, rollback-reboot, failure, cleanup: never give up, never wait for the lock. */
  async #backward(state: OtaState, u: UpdateContext): Promise<Outcome | null> {
    switch (state) {
      case 'rollback':
      case 'rollback-reboot':
        if (u.kind === 'rootfs') {
          if (!u.fromSlot) {
            await this.#go('failure', u);
            return null;
          }
          const boot = this.#bootControl();
          await boot.commit(u.fromSlot);
          const booted = await boot.booted();
          if (booted.slot === u.fromSlot) {
            await this.#go('failure', u);
            return null;
          }
          const attempts = (u.rebootAttempts ?? 0) + 1;
          if (attempts > 3) {
            await this.#go('failure', { ...u, error: `${u.error ?? ''}; INCONSISTENT: slot ${u.fromSlot} did not come back after ${attempts - 1} reboots` });
            return null;
          }
          await this.#go('rollback-reboot', { ...u, rebootAttempts: attempts });
          log.warn(`rolling back: rebooting into slot ${u.fromSlot}`);
          await boot.reboot({ tryboot: false });
          return { kind: 'reboot' };
        }
        // `version` is set from the switch on: only then may current have moved and the runtime
        // have loaded the new bundle. A first install (no fromVersion) leaves no current behind.
        if (u.version) {
          await this.#o.stores[u.kind].restore(u.fromVersion ?? null, u.fromPrevious ?? null);
          u = { ...u, error: `${u.error ?? ''}${await this.#tellRuntime(u.kind)}` };
        }
        await this.#go('failure', u);
        return null;
      case 'failure':
        log.error(`update ${u.artifactName} failed: ${u.error ?? 'unknown error'}`);
        await this.#go('cleanup', u, this.#result(u, 'failure'));
        return null;
      case 'cleanup':
        await this.#cleanup(u);
        await this.#go('idle', null);
        return null;
      default:
        throw new SidewalkError('OTA_JOURNAL_STATE', `unexpected state ${state}`);
    }
  }

  /** During a rollback the store is what counts: a runtime that cannot be told is noted, never retried forever. */
  async #tellRuntime(kind: StoreKind): Promise<string> {
    try {
      await this.#o.notifyRuntime(kind);
      return '';
    } catch (err) {
      log.warn(`rolled back the ${kind} store, but the runtime could not be told: ${errorMessage(err)}`);
      return `; the runtime could not be told of the rollback (${errorMessage(err)}); it loads the restored ${kind} when it restarts`;
    }
  }

  #result(u: UpdateContext, result: 'success' | 'failure'): LastResult {
    return { id: u.id, kind: u.kind, artifactName: u.artifactName, result, error: result === 'failure' ? (u.error ?? 'unknown error') : null, atMs: this.#now() };
  }

  async #openAndPlan(u: UpdateContext): Promise<UpdateContext> {
    this.#artifact = await this.#o.openArtifact(u.artifactPath!);
    const info = this.#artifact.info;
    const kind: UpdateKind | undefined = ROOTFS_TYPES.has(info.payloadType) ? 'rootfs' : STORE_TYPES[info.payloadType];
    if (!kind) throw new SidewalkError('OTA_PAYLOAD_TYPE', `${u.artifactPath}: payload type ${JSON.stringify(info.payloadType)} is not installable here (rootfs-image, rootfs-tryboot, sidewalk-model, sidewalk-app)`);
    const planned: UpdateContext = { ...u, kind, artifactName: info.name, provides: info.provides, clearsProvides: info.clearsProvides };
    if (kind === 'rootfs') {
      const from = await this.#committedBootedSlot();
      return { ...planned, fromSlot: from, targetSlot: otherSlot(from) };
    }
    const store = this.#o.stores[kind];
    return { ...planned, fromVersion: await store.current(), fromPrevious: await store.previous() };
  }

  /** The booted slot, which must also be the committed default (never overwrite what the firmware boots next). */
  async #committedBootedSlot(): Promise<SlotName> {
    const boot = this.#bootControl();
    await boot.checkOsUpdateSupported?.(); // an old EEPROM cannot trial-boot the other slot (docs/hardware.md)
    const booted = await boot.booted();
    if (booted.tryboot) throw new SidewalkError('OTA_UPDATE_IN_PROGRESS', `slot ${booted.slot} is running as an uncommitted trial boot`);
    const autoboot = await boot.readAutoboot();
    if (autoboot.defaultPartition !== boot.slots[booted.slot].bootPartition) {
      throw new SidewalkError('OTA_SLOT_STATE', `booted slot ${booted.slot} is not the default in autoboot.txt (boot_partition=${autoboot.defaultPartition}); reboot first`);
    }
    return booted.slot;
  }

  async #inTrial(u: UpdateContext): Promise<boolean> {
    const booted = await this.#bootControl().booted();
    return booted.slot === u.targetSlot && booted.tryboot;
  }

  async #writeSlot(u: UpdateContext): Promise<void> {
    await writeRootfsPayloads(
      this.#bootControl(),
      u.targetSlot!,
      this.#artifact!,
      (done, total) => this.#o.onProgress?.({ state: 'install', doneBytes: done, totalBytes: total }),
      { verifySlot: this.#o.verifySlot },
    );
    await this.#artifact!.close();
    this.#artifact = null;
  }

  async #stage(u: UpdateContext): Promise<string> {
    const version = await stageBundle(this.#o.stores[u.kind as StoreKind], this.#artifact!, declaredVersion(u), (done, total) =>
      this.#o.onProgress?.({ state: 'install', doneBytes: done, totalBytes: total }),
    );
    await this.#artifact!.close();
    this.#artifact = null;
    return version;
  }

  async #commit(u: UpdateContext, resumed: boolean): Promise<void> {
    if (u.kind === 'rootfs') {
      const boot = this.#bootControl();
      const booted = await boot.booted();
      if (booted.slot !== u.targetSlot) {
        // Power was lost before autoboot.txt named the new slot: the old slot booted. Not committed.
        await this.#go('rollback', { ...u, error: `power lost before slot ${u.targetSlot} was committed` });
        return;
      }
      await boot.commit(u.targetSlot);
      log.info(`committed slot ${u.targetSlot}${resumed ? ' (resumed)' : ''}`);
    } else {
      await this.#o.stores[u.kind].prune([u.version, u.fromVersion]);
    }
    // Models and the app live on the data partition, not in the OS slot: an OS update's
    // `rootfs-image.*` clears must not erase their versions.
    const protect = u.kind === 'rootfs' ? ['rootfs-image.sidewalk-model.*', 'rootfs-image.sidewalk-app.*'] : [];
    await commitProvides(this.#o.fs, this.providesPath, u.provides, u.clearsProvides, { ...(this.#o.factoryProvides ? { factory: this.#o.factoryProvides } : {}), protect });
    await this.#go('cleanup', u, this.#result(u, 'success'));
  }

  async #cleanup(u: UpdateContext): Promise<void> {
    await this.#artifact?.close().catch(() => {});
    this.#artifact = null;
    if (u.ownsArtifact && u.artifactPath && (await this.#o.fs.stat(u.artifactPath))) await this.#o.fs.unlink(u.artifactPath);
    if (u.kind !== 'rootfs') {
      const store = this.#o.stores[u.kind];
      await this.#o.fs.rm(store.stagingDir);
      // A failed version is removed with the staging folder; a committed one is current by now.
      const succeeded = this.status().last?.id === u.id && this.status().last?.result === 'success';
      await store.prune([u.fromVersion, u.fromPrevious, succeeded ? u.version : null]);
    }
  }

  async #waitStill(what: string): Promise<void> {
    const start = this.#now();
    const limit = this.#o.lockTimeoutMs ?? 0;
    let told = false;
    while (await this.#o.isMoving()) {
      if (!told) log.info(`scooter is moving; waiting to ${what} until it stops`);
      told = true;
      if (limit > 0 && this.#now() - start >= limit) {
        throw new SidewalkError('OTA_SCOOTER_MOVING', `scooter kept moving for ${limit} ms; did not ${what}`);
      }
      await this.#sleep(this.#o.lockPollMs ?? 2000);
    }
  }
}

function declaredVersion(u: UpdateContext): string | null {
  if (u.kind === 'rootfs') return null;
  const type = u.kind === 'model' ? 'sidewalk-model' : 'sidewalk-app';
  return u.provides[`rootfs-image.${type}.version`] ?? u.provides[`${type}.version`] ?? null;
}

/** Errors that mean "the machine stopped" (simulated power cuts in tests): never handled, only propagated. */
export function isPowerLoss(err: unknown): boolean {
  return (err as { powerLoss?: boolean })?.powerLoss === true;
}
