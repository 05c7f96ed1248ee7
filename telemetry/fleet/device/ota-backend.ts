/**
 * The agent's backend on a real device: the OTA updater (ota/install/updater.ts) with its journal,
 * update lock and health window. `withUpdater` is supplied by the host (the updater daemon), which
 * serializes it with its own work so only one thing drives the journal at a time.
 */
import { errorMessage, isSidewalkError } from '../../../lib/errors.js';
import type { Outcome, ProgressEvent, Updater, UpdateKind } from '../../../ota/install/updater.js';
import type { ArtifactKind, ArtifactRef, ReportedState, Versions } from '../protocol/messages.js';
import { codeOf, fetchVerified, type BackendResult, type FetchOptions, type StepReport, type UpdaterBackend } from './backend.js';

export interface OtaBackendOptions {
  downloadDir: string;
  withUpdater<T>(onProgress: (e: ProgressEvent) => void, fn: (u: Updater) => Promise<T>): Promise<T>;
  /** The updater's state without taking the lock (it only reads the journal). */
  status(): Promise<ReturnType<Updater['status']>>;
  versions(): Promise<Versions>;
  fetch?: FetchOptions;
  /** A download completed and matched desired state (its size in bytes): the daemon's metrics. */
  onDownloaded?(bytes: number): void;
}

const UPDATE_KIND: Record<ArtifactKind, UpdateKind> = { os: 'rootfs', model: 'model', app: 'app' };
const FORWARD_STATES = ['download', 'install', 'switch', 'reboot', 'verify', 'commit'];

/** An updater outcome as the fleet sees it: refused before anything was written = rejected. */
export function resultOf(out: Outcome, okStep: string): BackendResult {
  if (out.kind === 'reboot') return { outcome: 'reboot', step: 'reboot', code: null, error: null };
  if (out.result !== 'failure') return { outcome: 'succeeded', step: okStep, code: null, error: null };
  const error = out.error ?? 'unknown error';
  const stage = /^(\w+):/.exec(error)?.[1] ?? 'install';
  const step = FORWARD_STATES.includes(stage) ? stage : 'install';
  const code = /health check failed/.test(error) ? 'OTA_HEALTH_FAILED' : codeOf(error, 'OTA_UPDATE_FAILED');
  return { outcome: step === 'download' ? 'rejected' : 'failed', step, code, error };
}

export class OtaUpdaterBackend implements UpdaterBackend {
  #o: OtaBackendOptions;

  constructor(options: OtaBackendOptions) {
    this.#o = options;
  }

  versions(): Promise<Versions> {
    return this.#o.versions();
  }

  async otaState(): Promise<ReportedState['ota']> {
    const s = await this.#o.status();
    return { state: s.state, last: s.last ? { artifact: s.last.artifactName, result: s.last.result, error: s.last.error } : null };
  }

  async install(a: ArtifactRef, onStep: (s: StepReport) => void): Promise<BackendResult> {
    const fetched = await fetchVerified(a, this.#o.downloadDir, onStep, this.#o.fetch);
    if (!('path' in fetched)) return fetched;
    this.#o.onDownloaded?.(a.size);
    onStep({ step: 'install', done_bytes: 0, total_bytes: null });
    let lastPct = -1;
    const progress = (e: ProgressEvent) => {
      const pct = e.totalBytes ? Math.floor((e.doneBytes / e.totalBytes) * 4) : 0;
      if (pct !== lastPct) {
        lastPct = pct;
        onStep({ step: 'install', done_bytes: e.doneBytes, total_bytes: e.totalBytes });
      }
    };
    try {
      return resultOf(await this.#o.withUpdater(progress, (u) => u.install(fetched.path, { ownsArtifact: true })), 'committed');
    } catch (err) {
      return { outcome: 'failed', step: 'install', code: isSidewalkError(err) ? err.code : 'OTA_UPDATE_FAILED', error: errorMessage(err) };
    }
  }

  async rollback(kind: ArtifactKind, onStep: (s: StepReport) => void): Promise<BackendResult> {
    onStep({ step: 'rollback' });
    try {
      return resultOf(
        await this.#o.withUpdater(
          () => {},
          (u) => u.rollbackNow(UPDATE_KIND[kind]),
        ),
        'rolled_back',
      );
    } catch (err) {
      return { outcome: 'failed', step: 'rollback', code: isSidewalkError(err) ? err.code : 'OTA_UPDATE_FAILED', error: errorMessage(err) };
    }
  }
}
