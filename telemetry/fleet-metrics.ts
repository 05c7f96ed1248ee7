/**
 * Metrics the fleet tool exports on its own /metrics for the fleet Prometheus to scrape (job
 * `sidewalk-fleet`): the device inventory the offline alert is computed against, and the state of
 * every rollout. Names and labels are the contract with telemetry/prometheus/*.rules.yml and the
 * dashboards (telemetry/README.md "Fleet tool metrics"); the rollout ids and locations are bounded
 * (one series per rollout, location and state), device ids appear only in the inventory.
 */
import { Gauge, Registry } from 'prom-client';

/** Per-device states of a rollout, as the fleet tool counts them (AWS IoT Jobs' terminal states plus ours). */
export const ROLLOUT_DEVICE_STATES = ['targeted', 'in_progress', 'succeeded', 'failed', 'rejected', 'timed_out'] as const;
export type RolloutDeviceState = (typeof ROLLOUT_DEVICE_STATES)[number];
export const ROLLOUT_STATUSES = ['running', 'paused', 'completed', 'aborted', 'rolled_back'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

export interface FleetMetrics {
  readonly registry: Registry;
  /** 1 for every device the fleet knows (provisioned), whether or not it reports. */
  deviceInfo: Gauge<'device' | 'location'>;
  /** Devices of a rollout per state; `targeted` is the cohort size of the current step. */
  rolloutDevices: Gauge<'rollout' | 'location' | 'state'>;
  /** The current step's percentage of the location. */
  rolloutStepPercent: Gauge<'rollout' | 'location'>;
  /** 1 per rollout with its artifact and status (one status at a time: reset the rollout's series first). */
  rolloutInfo: Gauge<'rollout' | 'location' | 'artifact' | 'status'>;
}

export function createFleetMetrics(): FleetMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    deviceInfo: new Gauge({
      name: 'sidewalk_fleet_device_info',
      help: 'Devices known to the fleet (value 1), reporting or not.',
      labelNames: ['device', 'location'] as const,
      registers,
    }),
    rolloutDevices: new Gauge({
      name: 'sidewalk_rollout_devices',
      help: 'Devices of a rollout per state (targeted = cohort of the current step).',
      labelNames: ['rollout', 'location', 'state'] as const,
      registers,
    }),
    rolloutStepPercent: new Gauge({
      name: 'sidewalk_rollout_step_percent',
      help: "The rollout's current step as a percentage of the location's devices.",
      labelNames: ['rollout', 'location'] as const,
      registers,
    }),
    rolloutInfo: new Gauge({
      name: 'sidewalk_rollout_info',
      help: 'A rollout (value 1) with its artifact and status.',
      labelNames: ['rollout', 'location', 'artifact', 'status'] as const,
      registers,
    }),
  };
}

/** Sets one rollout's series from its counts (states not given are 0, so every state has a series). */
export function setRollout(
  m: FleetMetrics,
  r: { rollout: string; location: string; artifact: string; status: RolloutStatus; stepPercent: number; devices: Partial<Record<RolloutDeviceState, number>> },
): void {
  for (const status of ROLLOUT_STATUSES) m.rolloutInfo.remove({ rollout: r.rollout, location: r.location, artifact: r.artifact, status });
  m.rolloutInfo.set({ rollout: r.rollout, location: r.location, artifact: r.artifact, status: r.status }, 1);
  m.rolloutStepPercent.set({ rollout: r.rollout, location: r.location }, r.stepPercent);
  for (const state of ROLLOUT_DEVICE_STATES) m.rolloutDevices.set({ rollout: r.rollout, location: r.location, state }, r.devices[state] ?? 0);
}
