/** The updater's journaled context, outcomes and dependencies. */
import type { OpenedArtifact } from '../artifact/types.js';
import type { BootControl, SlotName } from '../boot/types.js';
import type { OtaFs } from '../fs.js';
import type { OtaState } from '../journal.js';
import type { HealthResult } from './health.js';
import type { SlotVerify } from './slot-verify.js';
import type { StoreKind, VersionStore } from './store.js';

export type UpdateKind = 'rootfs' | StoreKind;

export interface UpdateContext {
  id: string;
  kind: UpdateKind;
  artifactName: string;
  /** The artifact file on the data partition (null for a manual rollback). */
  artifactPath: string | null;
  /** Delete artifactPath at cleanup (it was downloaded by us). */
  ownsArtifact: boolean;
  provides: Record<string, string>;
  clearsProvides: string[];
  fromSlot?: SlotName;
  targetSlot?: SlotName;
  version?: string;
  fromVersion?: string | null;
  fromPrevious?: string | null;
  verifyAttempts?: number;
  rebootAttempts?: number;
  error?: string;
}

export interface LastResult {
  id: string;
  kind: UpdateKind;
  artifactName: string;
  result: 'success' | 'failure';
  error: string | null;
  atMs: number;
}

export interface JournalData {
  update: UpdateContext | null;
  last: LastResult | null;
}

export type Outcome =
  | { kind: 'idle'; result: 'success' | 'failure' | 'nothing'; error?: string }
  | { kind: 'reboot' };

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
  maxVerifyAttempts?: number;
  sleep?(ms: number): Promise<void>;
  now?(): number;
  onProgress?(event: ProgressEvent): void;
  /** How a written OS slot is read back (ota.yaml boot.verify_slot); default sampled. */
  verifySlot?: SlotVerify;
  /** Provides of a device that has never committed an update (provides.json missing). */
  factoryProvides?: Record<string, string>;
}

