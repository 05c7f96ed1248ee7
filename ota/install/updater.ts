/**
 * The OTA updater. Its states and transitions are the table in states.ts (after Mender's client):
 * each state is journaled (fsync'd) before its work starts, its handler here does the work and names
 * the next state, and the driver checks that edge against the table. On process start `resume()`
 * runs the last journaled state's handler again, told it was interrupted (the table's power-loss edge).
 * Rootfs updates go to the inactive slot and are tried once with the firmware's tryboot flag; model and
 * app bundles go to A/B stores and are switched without a reboot, then watched for a health window.
 */
import { join } from 'node:path';
import { SidewalkError, errorMessage } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { OpenedArtifact } from '../artifact/types.js';
import { otherSlot, type BootControl, type SlotName } from '../boot/types.js';
import { Journal, type OtaState } from '../journal.js';
import { OTA_DEFAULTS } from '../config.js';
import { commitProvides, readProvides } from './provides.js';
import { stageBundle, writeRootfsPayloads } from './payloads.js';
import type { StoreKind } from './store.js';
import { allowedNext, MAX_ROLLBACK_REBOOTS, MAX_VERIFY_ATTEMPTS, STATE_TABLE } from './states.js';
import { checkedUpdate, declaredVersion, rootfsUpdate, storeUpdate, switchedVersion } from './types.js';
import type { JournalData, LastResult, Outcome, RootfsUpdate, StoreUpdate, UpdateContext, UpdateKind, UpdaterOptions } from './types.js';

export type { JournalData, LastResult, Outcome, ProgressEvent, RootfsUpdate, StoreUpdate, UpdateContext, UpdateKind, UpdaterOptions } from './types.js';

/** What a handler decides: the next state to journal (null: stay, only to reboot), and a reboot to ask for after it. */
interface Step {
  to: OtaState | null;
  update: UpdateContext | null;
  last?: LastResult;
  reboot?: { tryboot: boolean };
}
type Handler = (u: UpdateContext, resumed: boolean) => Promise<Step>;

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
  /** One handler per journal state (STATE_TABLE says what each does and where it may go). */
  #handlers: Record<OtaState, Handler> = {
    idle: async () => {
      throw new SidewalkError('OTA_JOURNAL_STATE', 'idle has no handler');
    },
    download: (u, resumed) => this.#download(u, resumed),
    install: (u, resumed) => this.#install(u, resumed),
    switch: (u, resumed) => this.#switch(storeUpdate(u, 'switch'), resumed),
    reboot: (u, resumed) => this.#reboot(rootfsUpdate(u, 'reboot'), resumed),
    verify: (u, resumed) => this.#verify(checkedUpdate(u, 'verify'), resumed),
    commit: (u, resumed) => this.#commit(checkedUpdate(u, 'commit'), resumed),
    rollback: (u) => this.#rollback(u),
    'rollback-reboot': (u) => this.#rollback(u),
    failure: async (u) => {
      log.error(`update ${u.artifactName} failed: ${u.error ?? 'unknown error'}`);
      return { to: 'cleanup', update: u, last: this.#result(u, 'failure') };
    },
    cleanup: async (u) => {
      await this.#cleanup(u);
      return { to: 'idle', update: null };
    },
  };

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
      kind: 'unknown',
      artifactName: '(unknown)',
      artifactPath,
      ownsArtifact: options.ownsArtifact ?? false,
      provides: {},
      clearsProvides: [],
    };
    await this.#go('download', update);
    return this.#drive(false);
  }

  /** Commits a trial (an OS booted on trial, or a switched bundle in verify) without waiting for the rest of the health checks. */
  async commitNow(): Promise<Outcome> {
    const { state, update } = this.status();
    // Not from `switch`: the store may not point at the new version yet (the next start redoes the switch).
    if (!update || (state !== 'verify' && state !== 'reboot')) {
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
      const ctx: RootfsUpdate = { ...base, kind, fromSlot: from, targetSlot: otherSlot(from) };
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

  /** Runs handlers from the journaled state until idle or a reboot, along the edges of STATE_TABLE. */
  async #drive(resumed: boolean): Promise<Outcome> {
    let interrupted = resumed;
    for (;;) {
      const { state, update, last } = this.status();
      if (state === 'idle' || !update) {
        if (interrupted || !last) return { kind: 'idle', result: 'nothing' };
        return last.result === 'success' ? { kind: 'idle', result: 'success' } : { kind: 'idle', result: 'failure', error: last.error ?? '' };
      }
      const row = STATE_TABLE[state];
      const wasInterrupted = interrupted;
      interrupted = false;
      let step: Step;
      try {
        step = await this.#handlers[state](update, wasInterrupted);
      } catch (err) {
        // A power cut fails the journal write below as well, so nothing is recorded after it.
        if (row.failure === null) throw err;
        log.error(`${state} failed: ${errorMessage(err)}`);
        await this.#artifact?.close().catch(() => {});
        this.#artifact = null;
        step = { to: row.failure, update: { ...update, error: `${state}: ${errorMessage(err)}` } };
      }
      if (!allowedNext(state, step.to, wasInterrupted, step.reboot !== undefined)) throw new SidewalkError('OTA_JOURNAL_STATE', `${state} -> ${step.to ?? '(stay)'} is not an edge of the state table`);
      if (step.to !== null) await this.#go(step.to, step.update, step.last);
      if (step.reboot) {
        await this.#bootControl().reboot(step.reboot);
        return { kind: 'reboot' };
      }
    }
  }

  async #download(u: UpdateContext, resumed: boolean): Promise<Step> {
    if (resumed) return { to: 'failure', update: { ...u, error: 'interrupted while reading the artifact' } };
    return { to: 'install', update: await this.#openAndPlan(u) };
  }

  async #install(u: UpdateContext, resumed: boolean): Promise<Step> {
    if (resumed || !this.#artifact) return { to: 'rollback', update: { ...u, error: 'interrupted while installing (power loss or restart)' } };
    await this.#waitStill('install');
    if (u.kind === 'rootfs') {
      await this.#writeSlot(u);
      return { to: 'reboot', update: u };
    }
    const s = storeUpdate(u, 'install');
    return { to: 'switch', update: { ...s, version: await this.#stage(s) } };
  }

  async #switch(u: StoreUpdate, resumed: boolean): Promise<Step> {
    const version = switchedVersion(u);
    if (!resumed) await this.#waitStill('switch');
    await this.#o.stores[u.kind].switchTo(version, u.fromVersion ?? null);
    await this.#o.notifyRuntime(u.kind);
    return { to: 'verify', update: { ...u, verifyAttempts: 1 } };
  }

  async #reboot(u: RootfsUpdate, resumed: boolean): Promise<Step> {
    const boot = this.#bootControl();
    if (!resumed) {
      await this.#waitStill('reboot');
      log.info(`rebooting into slot ${u.targetSlot} once (tryboot)`);
      return { to: null, update: u, reboot: { tryboot: true } };
    }
    const booted = await boot.booted();
    if (booted.slot === u.targetSlot && booted.tryboot) return { to: 'verify', update: { ...u, verifyAttempts: 1 } };
    return { to: 'rollback', update: { ...u, error: `trial boot of slot ${u.targetSlot} did not come up (booted slot ${booted.slot})` } };
  }

  async #verify(u: RootfsUpdate | StoreUpdate, resumed: boolean): Promise<Step> {
    if (resumed) {
      // Journal the attempt before the checks run again, so interruptions are counted.
      const attempts = (u.verifyAttempts ?? 1) + 1;
      // Only an OS trial ends with the power; a store's checks simply run again.
      if (u.kind === 'rootfs' && !(await this.#inTrial(u))) return { to: 'rollback', update: { ...u, error: `power lost during the trial of slot ${u.targetSlot}` } };
      if (attempts > (this.#o.maxVerifyAttempts ?? MAX_VERIFY_ATTEMPTS)) return { to: 'rollback', update: { ...u, error: `health checks interrupted ${attempts - 1} times` } };
      return { to: 'verify', update: { ...u, verifyAttempts: attempts } };
    }
    const result = u.kind === 'rootfs' ? await this.#o.health.os() : await this.#o.health[u.kind](switchedVersion(u));
    if (result.ok) return { to: 'commit', update: u };
    return { to: 'rollback', update: { ...u, error: `health check failed: ${result.reason}` } };
  }

  /** rollback and rollback-reboot: never give up, never wait for the lock. */
  async #rollback(u: UpdateContext): Promise<Step> {
    if (u.kind === 'rootfs') {
      const boot = this.#bootControl();
      await boot.commit(u.fromSlot);
      const booted = await boot.booted();
      if (booted.slot === u.fromSlot) return { to: 'failure', update: u };
      const attempts = (u.rebootAttempts ?? 0) + 1;
      if (attempts > MAX_ROLLBACK_REBOOTS) {
        return { to: 'failure', update: { ...u, error: `${u.error ?? ''}; INCONSISTENT: slot ${u.fromSlot} did not come back after ${attempts - 1} reboots` } };
      }
      log.warn(`rolling back: rebooting into slot ${u.fromSlot}`);
      return { to: 'rollback-reboot', update: { ...u, rebootAttempts: attempts }, reboot: { tryboot: false } };
    }
    // `version` is set from the switch on: only then may current have moved and the runtime
    // have loaded the new bundle. A first install (no fromVersion) leaves no current behind.
    if (u.kind !== 'unknown' && u.version) {
      await this.#o.stores[u.kind].restore(u.fromVersion ?? null, u.fromPrevious ?? null);
      return { to: 'failure', update: { ...u, error: `${u.error ?? ''}${await this.#tellRuntime(u.kind)}` } };
    }
    return { to: 'failure', update: u };
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

  async #openAndPlan(u: UpdateContext): Promise<RootfsUpdate | StoreUpdate> {
    if (u.artifactPath === null) throw new SidewalkError('OTA_JOURNAL_STATE', `update ${u.id}: download without an artifact path`);
    this.#artifact = await this.#o.openArtifact(u.artifactPath);
    const info = this.#artifact.info;
    const kind: UpdateKind | undefined = ROOTFS_TYPES.has(info.payloadType) ? 'rootfs' : STORE_TYPES[info.payloadType];
    if (!kind)
      throw new SidewalkError(
        'OTA_PAYLOAD_TYPE',
        `${u.artifactPath}: payload type ${JSON.stringify(info.payloadType)} is not installable here (rootfs-image, rootfs-tryboot, sidewalk-model, sidewalk-app)`,
      );
    const { id, artifactPath, ownsArtifact } = u;
    const planned = { id, artifactPath, ownsArtifact, artifactName: info.name, provides: info.provides, clearsProvides: info.clearsProvides };
    if (kind === 'rootfs') {
      const from = await this.#committedBootedSlot();
      return { ...planned, kind, fromSlot: from, targetSlot: otherSlot(from) };
    }
    const store = this.#o.stores[kind];
    return { ...planned, kind, version: null, fromVersion: await store.current(), fromPrevious: await store.previous() };
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

  async #inTrial(u: RootfsUpdate): Promise<boolean> {
    const booted = await this.#bootControl().booted();
    return booted.slot === u.targetSlot && booted.tryboot;
  }

  async #writeSlot(u: RootfsUpdate): Promise<void> {
    const artifact = this.#openedArtifact();
    await writeRootfsPayloads(this.#bootControl(), u.targetSlot, artifact, (done, total) => this.#o.onProgress?.({ state: 'install', doneBytes: done, totalBytes: total }), {
      verifySlot: this.#o.verifySlot,
    });
    await artifact.close();
    this.#artifact = null;
  }

  async #stage(u: StoreUpdate): Promise<string> {
    const artifact = this.#openedArtifact();
    const version = await stageBundle(this.#o.stores[u.kind], artifact, declaredVersion(u), (done, total) => this.#o.onProgress?.({ state: 'install', doneBytes: done, totalBytes: total }));
    await artifact.close();
    this.#artifact = null;
    return version;
  }

  #openedArtifact(): OpenedArtifact {
    if (!this.#artifact) throw new SidewalkError('OTA_JOURNAL_STATE', 'installing without an opened artifact');
    return this.#artifact;
  }

  async #commit(u: RootfsUpdate | StoreUpdate, resumed: boolean): Promise<Step> {
    if (u.kind === 'rootfs') {
      const boot = this.#bootControl();
      const booted = await boot.booted();
      if (booted.slot !== u.targetSlot) {
        // Power was lost before autoboot.txt named the new slot: the old slot booted. Not committed.
        return { to: 'rollback', update: { ...u, error: `power lost before slot ${u.targetSlot} was committed` } };
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
    return { to: 'cleanup', update: u, last: this.#result(u, 'success') };
  }

  async #cleanup(u: UpdateContext): Promise<void> {
    await this.#artifact?.close().catch(() => {});
    this.#artifact = null;
    if (u.ownsArtifact && u.artifactPath && (await this.#o.fs.stat(u.artifactPath))) await this.#o.fs.unlink(u.artifactPath);
    if (u.kind === 'model' || u.kind === 'app') {
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
      await this.#sleep(this.#o.lockPollMs ?? OTA_DEFAULTS.lock.poll_s * 1000);
    }
  }
}
