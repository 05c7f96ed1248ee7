/**
 * Rollout policy, as pure functions of a rollout, the devices' reported state and the time: which
 * targeted devices succeeded, failed, were rejected, are in progress or timed out in the current step,
 * and whether the rollout must abort (failure rate over the threshold once enough devices finished,
 * after AWS IoT Jobs' abort criteria), may advance (enough finished devices and the soak time passed,
 * after Mender's phases) or is complete.
 */
import type { DeviceRow, Rollout } from './store.js';

export type DeviceOutcome = 'succeeded' | 'failed' | 'rejected' | 'in_progress' | 'timed_out' | 'pending';

export interface StepCounts {
  percent: number;
  targeted: number;
  succeeded: number;
  failed: number;
  rejected: number;
  in_progress: number;
  timed_out: number;
  /** Targeted devices that have not acted on the rollout yet (offline, or not yet reached). */
  pending: number;
  finished: number;
  failure_percent: number;
}

export type Decision = { action: 'abort'; reason: string } | { action: 'advance' } | { action: 'complete' } | { action: 'wait'; reason: string };

export function deviceOutcome(rollout: Rollout, d: DeviceRow, nowMs: number): DeviceOutcome {
  const a = rollout.artifact;
  const r = d.reported;
  const timedOut = nowMs - rollout.stepStartedMs > rollout.plan.in_progress_timeout_s * 1000;
  if (r?.versions[a.kind] === a.version) return 'succeeded';
  const mine = r?.rollout?.rollout_id === rollout.id && r.rollout.mode === 'install' ? r.rollout : null;
  if (mine?.outcome === 'failed' || mine?.outcome === 'rolled_back') return 'failed';
  if (mine?.outcome === 'rejected') return 'rejected';
  if (mine?.outcome === 'in_progress') return timedOut ? 'timed_out' : 'in_progress';
  return timedOut ? 'timed_out' : 'pending';
}

/** Devices of the rollout's location whose cohort is inside `percent`. */
export function targeted(rollout: Rollout, devices: DeviceRow[], percent: number): DeviceRow[] {
  return devices.filter((d) => d.location === rollout.location && d.cohort !== null && d.cohort < percent);
}

export function countStep(rollout: Rollout, devices: DeviceRow[], nowMs: number): StepCounts & { outcomes: Map<string, DeviceOutcome> } {
  const percent = rollout.plan.steps[rollout.step]!;
  const outcomes = new Map<string, DeviceOutcome>();
  const c: StepCounts = { percent, targeted: 0, succeeded: 0, failed: 0, rejected: 0, in_progress: 0, timed_out: 0, pending: 0, finished: 0, failure_percent: 0 };
  for (const d of targeted(rollout, devices, percent)) {
    const o = deviceOutcome(rollout, d, nowMs);
    outcomes.set(d.id, o);
    c.targeted++;
    c[o]++;
  }
  c.finished = c.succeeded + c.failed + c.rejected + c.timed_out;
  const failures = c.failed + c.rejected + c.timed_out;
  c.failure_percent = c.finished === 0 ? 0 : (failures * 100) / c.finished;
  return { ...c, outcomes };
}

export function decide(rollout: Rollout, c: StepCounts, nowMs: number): Decision {
  const p = rollout.plan;
  if (c.finished >= p.min_devices_before_decision && c.finished > 0 && c.failure_percent > p.max_failure_percent) {
    return {
      action: 'abort',
      reason: `failure rate ${c.failure_percent.toFixed(1)}% (${c.failed} failed, ${c.rejected} rejected, ${c.timed_out} timed out of ${c.finished} finished) is over ${p.max_failure_percent}%`,
    };
  }
  const last = rollout.step === p.steps.length - 1;
  const soakLeft = rollout.stepStartedMs + p.soak_s * 1000 - nowMs;
  if (last) {
    if (c.finished < c.targeted) return { action: 'wait', reason: `${c.targeted - c.finished} of ${c.targeted} devices have not finished` };
    // With health checks the last step soaks too, so that they can still abort it (against the devices before the step).
    if (p.health && soakLeft > 0) return { action: 'wait', reason: `soaking for another ${Math.ceil(soakLeft / 1000)} s under health checks` };
    return { action: 'complete' };
  }
  const need = Math.min(p.min_finished, c.targeted);
  if (c.finished < need) return { action: 'wait', reason: `${c.finished} of the ${need} finished devices this step needs` };
  if (soakLeft > 0) return { action: 'wait', reason: `soaking for another ${Math.ceil(soakLeft / 1000)} s` };
  return { action: 'advance' };
}
