/**
 * The fleet tool's state in SQLite (fleet.db beside the model registry's registry.db): devices as last
 * seen on the broker, their OTA events (deduplicated by device + sequence number), rollouts with their
 * plan and progress, and the desired-state generation counter. Survives restarts of the tool.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import type { DesiredState, OtaEvent, ReportedState, StatusMessage } from '../../telemetry/fleet/protocol/messages.js';
import type { ArtifactRef } from '../../telemetry/fleet/protocol/messages.js';
import type { HealthPolicy } from './health.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  location TEXT,
  cohort INTEGER,
  online INTEGER NOT NULL DEFAULT 0,
  boot_id TEXT,
  session INTEGER,
  last_seen_ms INTEGER,
  reported TEXT
);
CREATE TABLE IF NOT EXISTS events (
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  rollout_id TEXT NOT NULL,
  step TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (device, seq)
);
CREATE TABLE IF NOT EXISTS rollouts (
  id TEXT PRIMARY KEY,
  location TEXT NOT NULL,
  artifact TEXT NOT NULL,
  plan TEXT NOT NULL,
  step INTEGER NOT NULL,
  state TEXT NOT NULL,
  step_started_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  reason TEXT,
  desired TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export interface RolloutPlan {
  /** Cohort percentages, ascending, the last usually 100. */
  steps: number[];
  /** Finished devices (succeeded, failed, rejected, timed out) a step needs before it may advance. */
  min_finished: number;
  /** Time a step must have run before it may advance. */
  soak_s: number;
  /** Abort when failed + rejected + timed out exceed this share of finished devices... */
  max_failure_percent: number;
  /** ...once at least this many devices have finished (AWS IoT Jobs minNumberOfExecutedThings). */
  min_devices_before_decision: number;
  /** A targeted device that has not finished after this long in a step counts as timed out. */
  in_progress_timeout_s: number;
  /** Advance by itself (in `sidewalk fleet watch`) when a step's criteria are met. */
  auto_advance: boolean;
  /** Abort on the cohort's health metrics against the rest of the location (health.ts); null or absent: off. */
  health?: HealthPolicy | null;
}

export type RolloutState = 'active' | 'paused' | 'completed' | 'aborted' | 'rolled_back';

export interface Rollout {
  id: string;
  location: string;
  artifact: ArtifactRef;
  plan: RolloutPlan;
  step: number;
  state: RolloutState;
  stepStartedMs: number;
  createdMs: number;
  updatedMs: number;
  reason: string | null;
  desired: DesiredState;
}

export interface DeviceRow {
  id: string;
  location: string | null;
  cohort: number | null;
  online: boolean;
  bootId: string | null;
  session: number | null;
  lastSeenMs: number | null;
  reported: ReportedState | null;
}

interface RolloutRowDb {
  id: string;
  location: string;
  artifact: string;
  plan: string;
  step: number;
  state: RolloutState;
  step_started_ms: number;
  created_ms: number;
  updated_ms: number;
  reason: string | null;
  desired: string;
}
interface DeviceRowDb {
  id: string;
  location: string | null;
  cohort: number | null;
  online: number;
  boot_id: string | null;
  session: number | null;
  last_seen_ms: number | null;
  reported: string | null;
}

export class FleetStore {
  readonly path: string;
  #db: Database.Database;
  #statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.path = path;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 10000');
      this.#db.exec(SCHEMA);
    } catch (err) {
      throw new SidewalkError('FLEET_DB_OPEN', `${path}: cannot open the fleet database (${(err as Error).message})`, { cause: err });
    }
  }

  close(): void {
    this.#db.close();
  }

  /** Each statement prepared once: preparing per message was the top cost of the event path (bench:fleet profile). */
  #sql(text: string): Database.Statement {
    let st = this.#statements.get(text);
    if (!st) {
      st = this.#db.prepare(text);
      this.#statements.set(text, st);
    }
    return st;
  }

  nextGeneration(): number {
    const row = this.#sql(`INSERT INTO meta (key, value) VALUES ('generation', '1')
      ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value`).get() as { value: string };
    return Number(row.value);
  }

  recordStatus(device: string, s: StatusMessage, nowMs: number): void {
    if (s.state === 'online') {
      this.#sql(`INSERT INTO devices (id, online, boot_id, session, last_seen_ms) VALUES (?, 1, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET online = 1, boot_id = excluded.boot_id, session = excluded.session, last_seen_ms = excluded.last_seen_ms`).run(device, s.boot_id, s.session, s.at_ms ?? nowMs);
      return;
    }
    // A will counts only for the session it belongs to: a late one from an older session is stale.
    const row = this.#sql('SELECT boot_id, session FROM devices WHERE id = ?').get(device) as { boot_id: string | null; session: number | null } | undefined;
    if (!row) this.#sql('INSERT INTO devices (id, online, boot_id, session) VALUES (?, 0, ?, ?)').run(device, s.boot_id, s.session);
    else if (row.boot_id === s.boot_id && row.session === s.session) this.#sql('UPDATE devices SET online = 0 WHERE id = ?').run(device);
  }

  recordReported(r: ReportedState): void {
    this.#sql(`INSERT INTO devices (id, location, cohort, last_seen_ms, reported) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET location = excluded.location, cohort = excluded.cohort,
          last_seen_ms = MAX(COALESCE(last_seen_ms, 0), excluded.last_seen_ms), reported = excluded.reported`).run(r.device, r.location, r.cohort, r.at_ms, JSON.stringify(r));
  }

  /** False when this device + seq was stored before (a resend). */
  recordEvent(device: string, e: OtaEvent): boolean {
    const r = this.#sql('INSERT OR IGNORE INTO events (device, seq, at_ms, rollout_id, step, body) VALUES (?, ?, ?, ?, ?, ?)').run(device, e.seq, e.at_ms, e.rollout_id, e.step, JSON.stringify(e));
    return r.changes === 1;
  }

  events(device: string): OtaEvent[] {
    return (this.#sql('SELECT body FROM events WHERE device = ? ORDER BY seq').all(device) as { body: string }[]).map((r) => JSON.parse(r.body) as OtaEvent);
  }

  devices(location?: string): DeviceRow[] {
    const rows = (location ? this.#sql('SELECT * FROM devices WHERE location = ? ORDER BY id').all(location) : this.#sql('SELECT * FROM devices ORDER BY id').all()) as DeviceRowDb[];
    return rows.map((r) => ({
      id: r.id,
      location: r.location,
      cohort: r.cohort,
      online: r.online === 1,
      bootId: r.boot_id,
      session: r.session,
      lastSeenMs: r.last_seen_ms,
      reported: r.reported ? (JSON.parse(r.reported) as ReportedState) : null,
    }));
  }

  insertRollout(r: Rollout): void {
    this.#sql(`INSERT INTO rollouts (id, location, artifact, plan, step, state, step_started_ms, created_ms, updated_ms, reason, desired)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      r.id,
      r.location,
      JSON.stringify(r.artifact),
      JSON.stringify(r.plan),
      r.step,
      r.state,
      r.stepStartedMs,
      r.createdMs,
      r.updatedMs,
      r.reason,
      JSON.stringify(r.desired),
    );
  }

  updateRollout(r: Rollout): void {
    this.#sql('UPDATE rollouts SET step = ?, state = ?, step_started_ms = ?, updated_ms = ?, reason = ?, desired = ? WHERE id = ?').run(
      r.step,
      r.state,
      r.stepStartedMs,
      r.updatedMs,
      r.reason,
      JSON.stringify(r.desired),
      r.id,
    );
  }

  deleteRollout(id: string): void {
    this.#sql('DELETE FROM rollouts WHERE id = ?').run(id);
  }

  rollouts(filter: { location?: string; states?: RolloutState[] } = {}): Rollout[] {
    const rows = this.#sql('SELECT * FROM rollouts ORDER BY created_ms, id').all() as RolloutRowDb[];
    return rows
      .map((r) => ({
        id: r.id,
        location: r.location,
        artifact: JSON.parse(r.artifact) as ArtifactRef,
        plan: JSON.parse(r.plan) as RolloutPlan,
        step: r.step,
        state: r.state,
        stepStartedMs: r.step_started_ms,
        createdMs: r.created_ms,
        updatedMs: r.updated_ms,
        reason: r.reason,
        desired: JSON.parse(r.desired) as DesiredState,
      }))
      .filter((r) => (!filter.location || r.location === filter.location) && (!filter.states || filter.states.includes(r.state)));
  }

  rollout(id: string): Rollout {
    const r = this.rollouts().find((x) => x.id === id);
    if (!r) throw new SidewalkError('FLEET_ROLLOUT_UNKNOWN', `no rollout ${JSON.stringify(id)} in ${this.path} (sidewalk fleet status lists them)`);
    return r;
  }
}
