/**
 * The updater's state machine as data, in the shape of the Mender client's: one row per journal state
 * (OTA_STATES in ../journal.ts), saying what its handler does and where it goes on success, on failure
 * and after a power loss (or a killed updater: `resume()` reads the last journaled state and runs its
 * handler again, told it was interrupted). The updater (updater.ts) looks each state up here: it
 * refuses a transition the table does not list, and sends every handler error down the failure edge.
 * The power-cut tests (test/ota/power-cut-table.test.ts) walk this table; ota/README.md shows it
 * (`node scripts/ota-state-table.mjs` regenerates that part, a test keeps it in sync).
 */
import { OTA_STATES, type OtaState } from '../journal.js';

/** Health checks interrupted this many times (the updater restarted within one trial) roll back. */
export const MAX_VERIFY_ATTEMPTS = 3;
/** Reboots into the old slot while rolling back, before the rollback is recorded as inconsistent. */
export const MAX_ROLLBACK_REBOOTS = 3;

export interface StateRow {
  /** What the state's handler does. */
  readonly handler: string;
  /** Where the handler goes when its work succeeds. Empty: it only reboots (rebootAfter 'stay'). */
  readonly success: readonly OtaState[];
  /** Where an error (or a negative verdict) goes; null: the error propagates and the next start redoes the state. */
  readonly failure: OtaState | null;
  /** What a start finds after a power loss (or a killed updater) in this state: the states it goes to next. */
  readonly powerLoss: readonly OtaState[];
  /** Asks for a reboot (the process stops there): after journaling this state, or without a new record ('stay'). */
  readonly rebootAfter?: OtaState | 'stay';
  /** Why the power-loss edge is safe. */
  readonly why: string;
}

/** The table. A `Record` keyed by the journal's states, so a state without a row does not compile. */
export const STATE_TABLE: Readonly<Record<OtaState, StateRow>> = {
  idle: {
    handler: 'nothing (install and rollback commands start from here)',
    success: [],
    failure: null,
    powerLoss: ['idle'],
    why: 'nothing in progress',
  },
  download: {
    handler: 'open the artifact, check its payload type, plan the target slot or store versions',
    success: ['install'],
    failure: 'failure',
    powerLoss: ['failure'],
    why: 'nothing written yet; the artifact is not read again',
  },
  install: {
    handler: 'wait until still; stream the image to the inactive slot, or stage the bundle in its store',
    success: ['reboot', 'switch'],
    failure: 'rollback',
    powerLoss: ['rollback'],
    why: 'a half-written slot or staging folder is never active',
  },
  switch: {
    handler: "wait until still; point the store's current (and previous) at the new version, tell the runtime",
    success: ['verify'],
    failure: 'rollback',
    powerLoss: ['verify', 'rollback'],
    why: 'the symlink switch is idempotent: redone',
  },
  reboot: {
    handler: 'wait until still; reboot into the target slot once (tryboot)',
    success: [],
    failure: 'rollback',
    powerLoss: ['verify', 'rollback'],
    rebootAfter: 'stay',
    why: 'a power loss clears the tryboot flag: the old slot boots, and then rolls back',
  },
  verify: {
    handler: 'health checks of the new OS, model or app',
    success: ['commit'],
    failure: 'rollback',
    powerLoss: ['verify', 'rollback'],
    why: `checks run again while still in the same trial, at most ${MAX_VERIFY_ATTEMPTS} times; an OS trial that lost power rolls back`,
  },
  commit: {
    handler: 'commit the slot in autoboot.txt, or prune the store; commit the provides',
    success: ['cleanup'],
    failure: 'rollback',
    powerLoss: ['cleanup', 'rollback'],
    why: 'idempotent: redone; an OS commit whose slot did not boot rolls back',
  },
  rollback: {
    handler: 'restore the store links, or commit the old slot and reboot into it',
    success: ['failure', 'rollback-reboot'],
    failure: null,
    powerLoss: ['failure', 'rollback-reboot'],
    rebootAfter: 'rollback-reboot',
    why: 'idempotent: redone',
  },
  'rollback-reboot': {
    handler: 'as rollback, after a reboot into the old slot',
    success: ['failure', 'rollback-reboot'],
    failure: null,
    powerLoss: ['failure', 'rollback-reboot'],
    rebootAfter: 'rollback-reboot',
    why: `idempotent: redone; after ${MAX_ROLLBACK_REBOOTS} reboots that do not reach the old slot it is recorded as inconsistent`,
  },
  failure: {
    handler: 'record the failed result',
    success: ['cleanup'],
    failure: null,
    powerLoss: ['cleanup'],
    why: 'idempotent: redone',
  },
  cleanup: {
    handler: 'close and remove the downloaded artifact, remove staging, prune stale versions',
    success: ['idle'],
    failure: null,
    powerLoss: ['idle'],
    why: 'idempotent: redone',
  },
};

/** Transitions started by a command (ota install / commit / rollback) rather than by a handler. */
export const COMMAND_EDGES: readonly { command: string; from: readonly OtaState[]; to: OtaState }[] = [
  { command: 'install', from: ['idle'], to: 'download' },
  { command: 'commit', from: ['reboot', 'verify'], to: 'commit' },
  { command: 'rollback (abort)', from: ['download', 'install', 'switch', 'reboot', 'verify', 'commit'], to: 'rollback' },
  { command: 'rollback os', from: ['idle'], to: 'reboot' },
  { command: 'rollback model/app', from: ['idle'], to: 'switch' },
];

export type EdgeKind = 'success' | 'failure' | 'power loss' | 'command';

/** Every edge of the table, once per kind it is reached by. */
export function tableEdges(): { from: OtaState; to: OtaState; kind: EdgeKind }[] {
  const edges: { from: OtaState; to: OtaState; kind: EdgeKind }[] = [];
  for (const from of OTA_STATES) {
    const row = STATE_TABLE[from];
    for (const to of row.success) edges.push({ from, to, kind: 'success' });
    if (row.failure) edges.push({ from, to: row.failure, kind: 'failure' });
    for (const to of row.powerLoss) if (from !== 'idle') edges.push({ from, to, kind: 'power loss' });
  }
  for (const c of COMMAND_EDGES) for (const from of c.from) edges.push({ from, to: c.to, kind: 'command' });
  return edges;
}

/**
 * May a handler, run fresh (`resumed` false) or after an interruption, go from `from` to `to` (null:
 * stay without a record), asking for a reboot or not?
 */
export function allowedNext(from: OtaState, to: OtaState | null, resumed: boolean, reboot: boolean): boolean {
  const row = STATE_TABLE[from];
  if (reboot !== (row.rebootAfter !== undefined && row.rebootAfter === (to ?? 'stay'))) return false;
  if (to === null) return true;
  return row.success.includes(to) || row.failure === to || (resumed && row.powerLoss.includes(to));
}

/** The table as the Markdown in ota/README.md. */
export function stateTableMarkdown(): string {
  const cell = (states: readonly OtaState[]) => (states.length ? states.map((s) => `\`${s}\``).join(', ') : '-');
  const lines = ['| state | handler | success | failure | power loss (next start) |', '| --- | --- | --- | --- | --- |'];
  for (const state of OTA_STATES) {
    const r = STATE_TABLE[state];
    const reboot = r.rebootAfter === 'stay' ? 'reboot (the next start goes on)' : `\`${r.rebootAfter}\` then reboot`;
    const success = r.success.map((s) => (s === r.rebootAfter ? reboot : `\`${s}\``)).join(', ') || (r.rebootAfter ? reboot : '-');
    const failure = r.failure ? `\`${r.failure}\`` : r.success.length || r.rebootAfter ? 'the error propagates; redone at the next start' : '-';
    lines.push(`| \`${state}\` | ${r.handler} | ${success} | ${failure} | ${cell(r.powerLoss)}: ${r.why} |`);
  }
  const commands = COMMAND_EDGES.map((c) => `${c.command} (${c.from.map((s) => `\`${s}\``).join(', ')} → \`${c.to}\`)`);
  lines.push('', `Commands: ${commands.join('; ')}.`);
  return lines.join('\n');
}
