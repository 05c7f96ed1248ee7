import { createHash } from 'node:crypto';

/**
 * A device's rollout cohort: a stable bucket 0..99 from the sha256 of its id. A rollout at P percent
 * takes the devices with cohort < P, so raising P only ever adds devices.
 */
export function cohortOf(deviceId: string): number {
  return createHash('sha256').update(deviceId, 'utf8').digest().readUInt32BE(0) % 100;
}

export function inCohort(deviceId: string, percent: number): boolean {
  return cohortOf(deviceId) < percent;
}
