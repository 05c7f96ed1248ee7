/**
 * A simulated updater for fleet-scale tests and the fleet benchmark: the artifact is really fetched
 * over HTTP and checked against desired state (fetchVerified), then "installed" in memory. Versions
 * listed in `unhealthy` fail their health window and are rolled back, as the real updater does.
 */
import type { ArtifactKind, ArtifactRef, ReportedState, Versions } from '../protocol/messages.js';
import { fetchVerified, type BackendResult, type StepReport, type UpdaterBackend } from './backend.js';

export class SimulatedUpdaterBackend implements UpdaterBackend {
  readonly installed: Versions;
  readonly previous: Versions = { os: null, model: null, app: null };
  /** `${kind}-${version}` values that fail their health window. */
  readonly unhealthy = new Set<string>();
  /** Every install and rollback, in order (for assertions). */
  readonly history: string[] = [];
  #downloadDir: string | null;
  #state: ReportedState['ota'] = { state: 'idle', last: null };

  constructor(initial: Versions, options: { downloadDir?: string } = {}) {
    this.installed = { ...initial };
    this.#downloadDir = options.downloadDir ?? null;
  }

  async versions(): Promise<Versions> {
    return { ...this.installed };
  }

  async otaState(): Promise<ReportedState['ota']> {
    return structuredClone(this.#state);
  }

  async install(a: ArtifactRef, onStep: (s: StepReport) => void): Promise<BackendResult> {
    this.history.push(`install ${a.kind} ${a.version}`);
    this.#state = { ...this.#state, state: 'download' };
    if (this.#downloadDir) {
      const fetched = await fetchVerified(a, this.#downloadDir, onStep, { retries: 2, backoffMs: 100 });
      if (!('path' in fetched)) return this.#end(a.name, fetched);
    }
    onStep({ step: 'install', done_bytes: a.size, total_bytes: a.size });
    if (this.unhealthy.has(`${a.kind}-${a.version}`)) {
      onStep({ step: 'rollback', code: 'OTA_HEALTH_FAILED' });
      return this.#end(a.name, { outcome: 'failed', step: 'verify', code: 'OTA_HEALTH_FAILED', error: `health check failed: ${a.kind} ${a.version} is unhealthy` });
    }
    this.previous[a.kind] = this.installed[a.kind];
    this.installed[a.kind] = a.version;
    return this.#end(a.name, { outcome: 'succeeded', step: 'committed', code: null, error: null });
  }

  async rollback(kind: ArtifactKind, onStep: (s: StepReport) => void): Promise<BackendResult> {
    this.history.push(`rollback ${kind}`);
    onStep({ step: 'rollback' });
    const prev = this.previous[kind];
    if (!prev) return { outcome: 'failed', step: 'rollback', code: 'OTA_NOTHING_TO_ROLL_BACK', error: `${kind} has no previous version` };
    this.previous[kind] = this.installed[kind];
    this.installed[kind] = prev;
    return this.#end(`${kind}-${prev}`, { outcome: 'succeeded', step: 'rolled_back', code: null, error: null });
  }

  #end(artifact: string, r: BackendResult): BackendResult {
    this.#state = { state: 'idle', last: { artifact, result: r.outcome === 'succeeded' ? 'success' : 'failure', error: r.error } };
    return r;
  }
}
