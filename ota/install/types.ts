/** The updater's journaled context (a union by update kind, with its narrowing checks), outcomes and dependencies. */
import type { OpenedArtifact } from '../artifact/types.js';
import { SidewalkError } from '../../lib/errors.js';
import type { BootControl, SlotName } from '../boot/types.js';
import type { OtaFs } from '../fs.js';
import type { OtaState } from '../journal.js';
import type { HealthResult } from './health.js';
import type { SlotVerify } from './slot-verify.js';
import type { StoreKind, VersionStore } from './store.js';

export type UpdateKind = 'rootfs' | StoreKind;

/** What every update journals, whatever its kind. */
interface UpdateBase {
  id: string;
  artifactName: string;
  /** The artifact file on the data partition (null for a manual rollback). */
  artifactPath: string | null;
  /** Delete artifactPath at cleanup (it was downloaded by us). */
  ownsArtifact: boolean;
  provides: Record<string, string>;
  clearsProvides: string[];
  /** Why the update failed (set on the way to rollback or failure). */
  error?: string;
}

/** In `download`: the artifact is not read yet, so its kind is not known. */
export interface UnreadUpdate extends UpdateBase {
  kind: 'unknown';
}

/** An OS image for the inactive slot, tried once with tryboot. */
export interface RootfsUpdate extends UpdateBase {
  kind: 'rootfs';
  /** The committed slot the update started from (what a rollback returns to). */
  fromSlot: SlotName;
  targetSlot: SlotName;
  verifyAttempts?: number;
  rebootAttempts?: number;
}

/** A model or app bundle for its A/B store. */
export interface StoreUpdate extends UpdateBase {
  kind: StoreKind;
  /** The version staged; null until the bundle is in the store (only then may current have moved). */
  version: string | null;
  /** The store's current and previous before the switch (null: none). */
  fromVersion: string | null;
  fromPrevious: string | null;
  verifyAttempts?: number;
}

/** The journaled update, a union by kind: each kind carries only what it uses. */
export type UpdateContext = UnreadUpdate | RootfsUpdate | StoreUpdate;

export interface LastResult {
  id: string;
  kind: UpdateContext['kind'];
  artifactName: string;
  result: 'success' | 'failure';
  error: string | null;
  atMs: number;
}

export interface JournalData {
  update: UpdateContext | null;
  last: LastResult | null;
}

export type Outcome = { kind: 'idle'; result: 'success' | 'failure' | 'nothing'; error?: string } | { kind: 'reboot' };

export interface ProgressEvent {
  state: OtaState;
  doneBytes: number;
  totalBytes: number | null;
}

export interface UpdaterOptions {
  fs: OtaFs;
  /** OTA state folder on the data partition: journal.log, provides.json, downloads/. */
  stateDir: string;
  stores: Record<StoreKind, VersionStore>;
  /** null when the device has no A/B OS slots (rootfs artifacts are refused). */
  boot: BootControl | null;
  openArtifact(path: string): Promise<OpenedArtifact>;
  health: {
    os(): Promise<HealthResult>;
    model(version: string): Promise<HealthResult>;
    app(version: string): Promise<HealthResult>;
  };
  /** Tells the runtime to load the switched store (reload for a model, restart for the app). */
  notifyRuntime(kind: StoreKind): Promise<void>;
  /** Update lock: nothing is installed, switched or rebooted while this says true. */
  isMoving(): Promise<boolean>;
  lockPollMs?: number;
  /** Give up waiting for the scooter to stop after this long (0 = wait forever). */
  lockTimeoutMs?: number;
  /** Default MAX_VERIFY_ATTEMPTS (states.ts). */
  maxVerifyAttempts?: number;
  sleep?(ms: number): Promise<void>;
  now?(): number;
  onProgress?(event: ProgressEvent): void;
  /** How a written OS slot is read back (ota.yaml boot.verify_slot); default sampled. */
  verifySlot?: SlotVerify;
  /** Provides of a device that has never committed an update (provides.json missing). */
  factoryProvides?: Record<string, string>;
}

/** The version a store artifact declares in its provides, if any. */
export function declaredVersion(u: StoreUpdate): string | null {
  const type = u.kind === 'model' ? 'sidewalk-model' : 'sidewalk-app';
  return u.provides[`rootfs-image.${type}.version`] ?? u.provides[`${type}.version`] ?? null;
}

/** A journaled update of the kind `state` needs; anything else is a damaged or foreign journal. */
export function wrongKind(u: UpdateContext, state: OtaState): SidewalkError {
  return new SidewalkError('OTA_JOURNAL_STATE', `journal: state ${state} with a ${u.kind} update (${u.artifactName})`);
}

export function storeUpdate(u: UpdateContext, state: OtaState): StoreUpdate {
  if (u.kind === 'model' || u.kind === 'app') return u;
  throw wrongKind(u, state);
}

export function rootfsUpdate(u: UpdateContext, state: OtaState): RootfsUpdate {
  if (u.kind === 'rootfs') return u;
  throw wrongKind(u, state);
}

/** An update whose artifact has been read (its kind is known). */
export function checkedUpdate(u: UpdateContext, state: OtaState): RootfsUpdate | StoreUpdate {
  if (u.kind !== 'unknown') return u;
  throw wrongKind(u, state);
}

/** The version a store update switched to; set from the install on. */
export function switchedVersion(u: StoreUpdate): string {
  if (u.version) return u.version;
  throw new SidewalkError('OTA_JOURNAL_STATE', `journal: ${u.kind} update ${u.artifactName} has no staged version`);
}
