/**
 * The scenarios the power-cut table test (power-cut-table.test.ts) walks, and per table row the outcome
 * each may end in after a cut.
 */
import assert from 'node:assert/strict';
import type { OtaState } from '../../ota/journal.js';
import type { Outcome, Updater } from '../../ota/install/updater.js';
import { runWithCut, type CutRun } from './power-cut-harness.js';
import { type SimDevice, appArtifact, modelArtifact, osArtifact, type FakeArtifact } from './sim-device.js';

export const ARTIFACT = '/data/ota/downloads/next.mender';
export type Result = CutRun['result'];

export interface Scenario {
  name: string;
  /** 'os' checks slots, 'model'/'app' the store. */
  kind: 'os' | 'model' | 'app';
  emptyStores?: boolean;
  artifact: FakeArtifact;
  unhealthy?: string;
  /** Uncut work before the run that is cut (a committed update to roll back). */
  prepare?: (dev: SimDevice) => Promise<void>;
  start: (u: Updater) => Promise<Outcome>;
  /** The version running after success, after failure, and when the run never started. */
  versions: { success: string; failure: string; none: string };
  expect: 'success' | 'failure';
  /** Also kill the updater (no power cut) at every operation. */
  kills?: boolean;
  /** Run only uncut (for its edges): its cuts would repeat another scenario's. */
  uncutOnly?: boolean;
}

/**
 * How each operation is cut: always losing what was not durable (the worst case, which catches a
 * missing fsync), every 4th also keeping it (torn tails and unsynced names left behind), and for
 * some scenarios the updater killed instead. Every operation of every scenario is cut: the budget
 * of the default suite is kept by not repeating each in every mode.
 */
export function modesFor(s: Scenario, cutAt: number): ('lose' | 'keep' | 'kill')[] {
  return ['lose', ...(cutAt % 4 === 0 ? (['keep'] as const) : []), ...(s.kills ? (['kill'] as const) : [])];
}

const install = (u: Updater) => u.install(ARTIFACT);
const corrupt = (a: FakeArtifact): FakeArtifact => {
  const files = a.files.map((f, i) => (i === a.files.length - 1 ? { ...f, data: Buffer.from(f.data).fill(1, 100, 101) } : f));
  return { ...a, files };
};

async function uncut(dev: SimDevice, start: (u: Updater) => Promise<Outcome>): Promise<void> {
  const r = await runWithCut(dev, start, { cutAt: null });
  assert.notEqual(r.result, 'none');
}

export const SCENARIOS: Scenario[] = [
  { name: 'OS update', kind: 'os', artifact: osArtifact('2.0'), start: install, versions: { success: '2.0', failure: '1.0', none: '1.0' }, expect: 'success', kills: true },
  {
    name: 'OS failing its health checks',
    kind: 'os',
    artifact: osArtifact('2.0'),
    unhealthy: '2.0',
    start: install,
    versions: { success: '2.0', failure: '1.0', none: '1.0' },
    expect: 'failure',
    kills: true,
  },
  {
    name: 'OS panicking in its trial boot',
    kind: 'os',
    artifact: osArtifact('2.0', { panics: true }),
    start: install,
    versions: { success: '2.0', failure: '1.0', none: '1.0' },
    expect: 'failure',
    uncutOnly: true,
  },
  {
    name: 'OS rolled back by command',
    kind: 'os',
    artifact: osArtifact('2.0'),
    prepare: (dev) => uncut(dev, install),
    start: (u) => u.rollbackNow('rootfs'),
    versions: { success: '1.0', failure: '2.0', none: '2.0' },
    expect: 'success',
  },
  { name: 'model update', kind: 'model', artifact: modelArtifact('2.0.0'), start: install, versions: { success: '2.0.0', failure: '1.0.0', none: '1.0.0' }, expect: 'success', kills: true },
  {
    name: 'model failing its health window',
    kind: 'model',
    artifact: modelArtifact('2.0.0'),
    unhealthy: 'model-2.0.0',
    start: install,
    versions: { success: '2.0.0', failure: '1.0.0', none: '1.0.0' },
    expect: 'failure',
  },
  { name: 'model with a bad payload', kind: 'model', artifact: corrupt(modelArtifact('2.0.0')), start: install, versions: { success: '2.0.0', failure: '1.0.0', none: '1.0.0' }, expect: 'failure' },
  {
    name: 'model rolled back by command',
    kind: 'model',
    artifact: modelArtifact('2.0.0'),
    prepare: (dev) => uncut(dev, install),
    start: (u) => u.rollbackNow('model'),
    versions: { success: '1.0.0', failure: '2.0.0', none: '2.0.0' },
    expect: 'success',
  },
  { name: 'first model install', kind: 'model', emptyStores: true, artifact: modelArtifact('2.0.0'), start: install, versions: { success: '2.0.0', failure: '', none: '' }, expect: 'success' },
  { name: 'app update', kind: 'app', artifact: appArtifact('2.0.0'), start: install, versions: { success: '2.0.0', failure: '1.0.0', none: '1.0.0' }, expect: 'success' },
  { name: 'first app install', kind: 'app', emptyStores: true, artifact: appArtifact('2.0.0'), start: install, versions: { success: '2.0.0', failure: '', none: '' }, expect: 'success' },
];

/**
 * The result a cut in each row must end with (ok: any of these), given the scenario's own outcome.
 * `cleanup` carries the result already recorded; `idle` the one of a finished update or none.
 */
export function rowOutcome(state: OtaState | null, s: Scenario, killed: boolean, recorded: Result): readonly Result[] {
  const own = s.expect;
  const os = s.kind === 'os';
  switch (state) {
    case null:
      return [s.prepare ? 'success' : 'none'];
    case 'idle':
    case 'cleanup':
      return [recorded];
    case 'download':
    case 'install':
    case 'rollback':
    case 'rollback-reboot':
    case 'failure':
      return ['failure'];
    // A power cut ends an OS trial (the old slot boots); a killed updater finds it still running.
    case 'reboot':
      // Killed before the reboot, the updater finds the old slot running: rolled back; after it, the trial goes on.
      return os && !killed ? ['failure'] : os ? [own, 'failure'] : [own];
    case 'verify':
      return os && !killed ? ['failure'] : [own];
    // An OS commit cut before autoboot.txt names the new slot boots the old one: rolled back.
    case 'commit':
      return s.kind === 'os' ? ['success', 'failure'] : [own];
    case 'switch':
      return [own];
  }
}
