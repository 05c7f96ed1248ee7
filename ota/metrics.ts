/**
 * The updater daemon's /metrics (127.0.0.1:9102 by default; ota.yaml `metrics`), scraped by the
 * device's Prometheus agent as job `sidewalk-updater` (telemetry/README.md). State and last result
 * are read from the journal at every scrape, so they are right from the daemon's first second;
 * counters count what this daemon saw finish (they restart at 0 with it, which rate() handles).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { OTA_STATES, type OtaState } from './journal.js';
import type { LastResult } from './install/types.js';

export interface OtaStatus {
  state: OtaState;
  last: LastResult | null;
}

/** From seconds to a day: a model switch takes seconds, an OS update with its trial boot many minutes. */
const DURATION_BUCKETS_S = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400];

/** A failure refused while reading the artifact changed nothing; every other failure was rolled back. */
export function wasRolledBack(last: LastResult): boolean {
  return last.result === 'failure' && !/^download: /.test(last.error ?? '');
}

export class OtaMetrics {
  readonly registry = new Registry();
  readonly downloadBytes: Counter;
  #updates: Counter<'kind' | 'result'>;
  #rollbacks: Counter<'kind'>;
  #durations: Histogram<'kind' | 'result'>;
  #seen: string | null = null;
  static readonly KINDS = ['rootfs', 'model', 'app'] as const;

  /** `read` gives the journal's state and last result (read-only; called at every scrape). */
  constructor(read: () => Promise<OtaStatus>) {
    const registers = [this.registry];
    const current = read;
    const self = this;
    new Gauge({
      name: 'sidewalk_ota_state',
      help: "The updater's journal state (1 for the current one, 0 for the others).",
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const s = await current();
        for (const state of OTA_STATES) this.set({ state }, state === s.state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sidewalk_ota_last_result_info',
      help: 'The last finished update (value 1): kind (rootfs, model, app), result (success, failure) and artifact name.',
      labelNames: ['kind', 'result', 'artifact'] as const,
      registers,
      async collect() {
        const s = await current();
        this.reset();
        if (s.last) this.set({ kind: s.last.kind, result: s.last.result, artifact: s.last.artifactName }, 1);
        self.observe(s);
      },
    });
    new Gauge({
      name: 'sidewalk_ota_last_result_timestamp_seconds',
      help: 'When the last update finished (0: none yet).',
      registers,
      async collect() {
        const s = await current();
        this.set(s.last ? s.last.atMs / 1000 : 0);
      },
    });
    this.downloadBytes = new Counter({ name: 'sidewalk_ota_download_bytes_total', help: 'Artifact bytes downloaded (completed downloads: inbox URLs and fleet desired state).', registers });
    this.#updates = new Counter({ name: 'sidewalk_ota_updates_total', help: 'Updates that finished while this daemon ran, by kind and result.', labelNames: ['kind', 'result'] as const, registers });
    this.#rollbacks = new Counter({
      name: 'sidewalk_ota_rollbacks_total',
      help: 'Updates rolled back while this daemon ran (failed after writing: install, health window, trial boot, or aborted by command).',
      labelNames: ['kind'] as const,
      registers,
    });
    this.#durations = new Histogram({
      name: 'sidewalk_ota_install_duration_seconds',
      help: 'From the start of an update to its result, across its reboots (the journal names an update by its start time).',
      labelNames: ['kind', 'result'] as const,
      buckets: DURATION_BUCKETS_S,
      registers,
    });
    // Every series exists from the start at 0: increase() cannot see a counter's first step otherwise.
    for (const kind of OtaMetrics.KINDS) {
      this.#rollbacks.inc({ kind }, 0);
      for (const result of ['success', 'failure']) this.#updates.inc({ kind, result }, 0);
    }
  }

  /** The result already in the journal when the daemon starts: shown, not counted again. */
  seed(s: OtaStatus): void {
    this.#seen = s.last ? `${s.last.id}@${s.last.atMs}` : null;
  }

  /** Counts a result not seen before (after every updater run, and at scrapes). */
  observe(s: OtaStatus): void {
    const last = s.last;
    if (!last) return;
    const key = `${last.id}@${last.atMs}`;
    if (key === this.#seen) return;
    this.#seen = key;
    const labels = { kind: last.kind, result: last.result };
    this.#updates.inc(labels);
    if (wasRolledBack(last)) this.#rollbacks.inc({ kind: last.kind });
    const startedMs = Number(last.id);
    if (Number.isFinite(startedMs) && startedMs > 0 && last.atMs >= startedMs) this.#durations.observe(labels, (last.atMs - startedMs) / 1000);
  }
}
