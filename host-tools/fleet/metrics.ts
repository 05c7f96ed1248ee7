/**
 * The fleet tool's /metrics (telemetry/fleet-metrics.ts names; telemetry/README.md "Fleet tool
 * metrics"), refreshed from fleet.db: the device inventory and every recent rollout's state and
 * per-state device counts of its current step. `sidewalk fleet watch` serves it on
 * 127.0.0.1:9464 by default, where telemetry/prometheus/fleet.yml scrapes it.
 */
import { createFleetMetrics, setRollout, type FleetMetrics, type RolloutStatus } from '../../telemetry/fleet-metrics.js';
import { countStep } from './policy.js';
import type { FleetStore, RolloutState } from './store.js';

/** Finished rollouts stay exported this long (the aborted alert and the dashboard's rollout table). */
export const FINISHED_ROLLOUT_KEEP_MS = 24 * 3600 * 1000;

const STATUS: Record<RolloutState, RolloutStatus> = { active: 'running', paused: 'paused', completed: 'completed', aborted: 'aborted', rolled_back: 'rolled_back' };

export class FleetToolMetrics {
  readonly metrics: FleetMetrics = createFleetMetrics();

  /** Rebuilds every series from the store (synchronous, so a scrape never sees half of it). */
  refresh(store: FleetStore, nowMs: number): void {
    const m = this.metrics;
    m.deviceInfo.reset();
    m.rolloutDevices.reset();
    m.rolloutStepPercent.reset();
    m.rolloutInfo.reset();
    const devices = store.devices();
    for (const d of devices) if (d.location) m.deviceInfo.set({ device: d.id, location: d.location }, 1);
    for (const r of store.rollouts()) {
      const live = r.state === 'active' || r.state === 'paused';
      if (!live && nowMs - r.updatedMs > FINISHED_ROLLOUT_KEEP_MS) continue;
      const c = countStep(r, devices, nowMs);
      setRollout(m, {
        rollout: r.id,
        location: r.location,
        artifact: r.artifact.name,
        status: STATUS[r.state],
        stepPercent: c.percent,
        devices: { targeted: c.targeted, in_progress: c.in_progress, succeeded: c.succeeded, failed: c.failed, rejected: c.rejected, timed_out: c.timed_out },
      });
    }
  }
}
