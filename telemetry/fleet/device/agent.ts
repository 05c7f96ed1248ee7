/**
 * The device's fleet agent, hosted by the updater daemon (the runtime's frame loop never touches the
 * network). On every connection it publishes a retained `online` status (boot id + session; the last
 * will is `offline` with the same pair), its retained reported state, and drains the event spool. It
 * follows desired state (per device, else per location when its cohort is in the rollout's percent)
 * through the updater backend, one action at a time, reporting every step as an event and in reported.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { errorMessage, isSidewalkError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log.js';
import { cohortOf } from '../cohort.js';
import { FleetLink, type LinkOptions } from '../link.js';
import type { Inbound } from '../protocol/codec.js';
import type { CommandMessage, CommandResponse, DesiredState, HealthSummary, OtaEvent, ReportedState, RolloutReport, StatusMessage } from '../protocol/messages.js';
import { topics } from '../protocol/topics.js';
import type { BackendResult, StepReport, UpdaterBackend } from './backend.js';
import type { EventSpool } from './spool.js';

const log = createLogger('telemetry:fleet:agent');

export interface AgentOptions {
  device: string;
  location: string;
  bootId: string;
  link: Omit<LinkOptions, 'clientId' | 'will'>;
  backend: UpdaterBackend;
  spool: EventSpool;
  /** Remembers desired-state generations and finished rollout actions across restarts. */
  stateFile: string;
  /** Runtime health summary (the runtime's loopback endpoint); null when not configured. */
  health?: () => Promise<HealthSummary | null>;
  /** Republish reported state this often (health changes); 0 = only on changes. */
  reportIntervalMs?: number;
  /** An OS update waits for its trial boot: the host stops and reboots. */
  onReboot?(): void;
  now?(): number;
}

interface AgentState {
  /** Last connection counter used with this boot id (a restarted agent must not reuse a will's pair). */
  session: { boot_id: string; n: number };
  generations: { location: number; device: number };
  /** Finished actions by key (rollout + what), so a failed install is not retried for the same rollout. */
  done: Record<string, RolloutReport['outcome']>;
  rollout: RolloutReport | null;
}

const MAX_DONE = 100;

export class DeviceAgent {
  readonly cohort: number;
  /** Actions started (install or rollback), for tests and the benchmark. */
  actions = 0;
  #o: AgentOptions;
  #link: FleetLink;
  #session = 0;
  #state: AgentState;
  #desired: { location: DesiredState | null; device: DesiredState | null } = { location: null, device: null };
  #running: Promise<void> | null = null;
  #again = false;
  #turn: Promise<unknown> = Promise.resolve();
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #now: () => number;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.cohort = cohortOf(options.device);
    this.#state = this.#load();
    if (this.#state.session.boot_id === options.bootId) this.#session = this.#state.session.n;
    this.#link = new FleetLink(
      {
        ...options.link,
        clientId: options.device,
        will: () => {
          this.#session++;
          this.#state.session = { boot_id: options.bootId, n: this.#session };
          this.#save();
          return { topic: topics.status(options.device), payload: Buffer.from(JSON.stringify(this.#status('offline'))) };
        },
      },
      {
        onConnect: () => void this.#onConnect(),
        onMessage: (m) => this.#onMessage(m),
        onCleared: (t) => {
          if (t.kind === 'desired-device') this.#desired.device = null;
          this.#kick();
        },
      },
    );
  }

  get link(): FleetLink {
    return this.#link;
  }

  get rollout(): RolloutReport | null {
    return this.#state.rollout;
  }

  start(): void {
    this.#link.start();
    if (this.#o.reportIntervalMs) {
      this.#timer = setInterval(() => void this.publishReported(), this.#o.reportIntervalMs);
      this.#timer.unref();
    }
  }

  /** Graceful stop publishes `offline` itself; otherwise the connection drops and the broker sends the will. */
  async stop(options: { graceful?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    const graceful = options.graceful ?? true;
    if (graceful) await this.#link.publish('status', topics.status(this.#o.device), this.#status('offline'), { retain: true });
    await this.#link.end(graceful);
    await this.#running?.catch(() => {});
  }

  /** Resolves when no action is running or queued. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #status(state: StatusMessage['state']): StatusMessage {
    return { state, boot_id: this.#o.bootId, session: this.#session, ...(state === 'online' ? { at_ms: this.#now() } : {}) };
  }

  async #onConnect(): Promise<void> {
    const d = this.#o.device;
    await this.#link.publish('status', topics.status(d), this.#status('online'), { retain: true });
    await this.#link.subscribe([topics.desiredLocation(this.#o.location), topics.desiredDevice(d), topics.cmd(d, '+'), topics.status(d)]);
    await this.publishReported();
    void this.#flush();
  }

  #flush(): Promise<void> {
    return this.#o.spool.flush((e) => this.#link.publish('events', topics.events(this.#o.device), e));
  }

  #onMessage(m: Inbound): void {
    switch (m.kind) {
      case 'desired-location':
      case 'desired-device': {
        const slot = m.kind === 'desired-location' ? 'location' : 'device';
        if (slot === 'location' && m.location !== this.#o.location) return;
        if (slot === 'device' && m.device !== this.#o.device) return;
        if (m.payload.generation < this.#state.generations[slot]) {
          log.warn(`ignoring ${slot} desired state generation ${m.payload.generation} (have ${this.#state.generations[slot]})`);
          return;
        }
        this.#state.generations[slot] = m.payload.generation;
        this.#desired[slot] = m.payload;
        this.#save();
        this.#kick();
        return;
      }
      case 'status':
        // A will from an earlier session (late, retained) must not leave us looking offline.
        if (m.device === this.#o.device && m.payload.state === 'offline' && !this.#stopped && this.#link.connected) {
          if (m.payload.boot_id !== this.#o.bootId || m.payload.session !== this.#session) {
            void this.#link.publish('status', topics.status(this.#o.device), this.#status('online'), { retain: true });
          }
        }
        return;
      case 'cmd':
        if (m.device === this.#o.device) void this.#command(m.command!, m.payload);
        return;
      default:
        return;
    }
  }

  async #command(name: string, cmd: CommandMessage): Promise<void> {
    let response: CommandResponse;
    try {
      if (name === 'report') {
        const reported = await this.#reported();
        await this.#link.publish('reported', topics.reported(this.#o.device), reported, { retain: true });
        response = { request_id: cmd.request_id, ok: true, result: { versions: reported.versions } };
      } else {
        const kind = cmd.args?.kind;
        if (kind !== 'os' && kind !== 'model' && kind !== 'app') throw new Error(`args.kind must be os, model or app (got ${JSON.stringify(kind)})`);
        const r = await this.#serialized(() => this.#o.backend.rollback(kind, () => {}));
        response =
          r.outcome === 'succeeded'
            ? { request_id: cmd.request_id, ok: true, result: { step: r.step } }
            : { request_id: cmd.request_id, ok: false, error: { code: r.code ?? 'OTA_UPDATE_FAILED', message: r.error ?? '' } };
        void this.publishReported();
      }
    } catch (err) {
      response = { request_id: cmd.request_id, ok: false, error: { code: isSidewalkError(err) ? err.code : 'FLEET_COMMAND_FAILED', message: errorMessage(err) } };
    }
    await this.#link.publish('response', topics.response(this.#o.device, name), response);
  }

  /** One backend action at a time: desired-state actions and commands share the one updater. */
  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn);
    this.#turn = run.catch(() => {});
    return run;
  }

  async #reported(): Promise<ReportedState> {
    let health: HealthSummary | null = null;
    if (this.#o.health) {
      try {
        health = await this.#o.health();
      } catch (err) {
        health = { reachable: false, error: errorMessage(err) };
      }
    }
    return {
      device: this.#o.device,
      location: this.#o.location,
      cohort: this.cohort,
      boot_id: this.#o.bootId,
      at_ms: this.#now(),
      versions: await this.#o.backend.versions(),
      ota: await this.#o.backend.otaState(),
      rollout: this.#state.rollout,
      health,
      spool: { queued: this.#o.spool.queued, dropped: this.#o.spool.dropped },
    };
  }

  async publishReported(): Promise<boolean> {
    try {
      return await this.#link.publish('reported', topics.reported(this.#o.device), await this.#reported(), { retain: true });
    } catch (err) {
      log.warn(`reported state not published: ${errorMessage(err)}`);
      return false;
    }
  }

  #event(d: DesiredState, s: StepReport): void {
    const e: Omit<OtaEvent, 'seq'> = { at_ms: this.#now(), boot_id: this.#o.bootId, type: 'ota', rollout_id: d.rollout_id, generation: d.generation, ...s };
    try {
      this.#o.spool.add(e);
    } catch (err) {
      log.error(`event not spooled: ${errorMessage(err)}`);
    }
    if (this.#link.connected) void this.#flush();
  }

  /** The desired state that applies to this device: its own override, else its location's rollout if in the cohort. */
  effectiveDesired(): DesiredState | null {
    if (this.#desired.device) return this.#desired.device;
    const loc = this.#desired.location;
    return loc && this.cohort < loc.percent ? loc : null;
  }

  #kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#reconcile();
        } catch (err) {
          log.error(`desired state not applied: ${errorMessage(err)}`);
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = null;
    });
  }

  async #setRollout(d: DesiredState, outcome: RolloutReport['outcome'], step: string, r?: Pick<BackendResult, 'code' | 'error'>): Promise<void> {
    this.#state.rollout = { rollout_id: d.rollout_id, generation: d.generation, mode: d.mode, outcome, step, code: r?.code ?? null, error: r?.error ?? null, at_ms: this.#now() };
    this.#save();
    await this.publishReported();
  }

  #remember(key: string, outcome: RolloutReport['outcome']): void {
    this.#state.done[key] = outcome;
    const keys = Object.keys(this.#state.done);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_DONE))) delete this.#state.done[k];
    this.#save();
  }

  async #reconcile(): Promise<void> {
    const d = this.effectiveDesired();
    if (!d) return;
    const versions = await this.#o.backend.versions();
    const current = this.#state.rollout;
    const same = current?.rollout_id === d.rollout_id && current.mode === d.mode;
    if (d.mode === 'install') {
      const a = d.artifact;
      const key = `${d.rollout_id}:install:${a.sha256}`;
      if (versions[a.kind] === a.version) {
        if (!same || current.outcome !== 'succeeded') {
          this.#event(d, { step: 'in_sync' });
          await this.#setRollout(d, 'succeeded', 'in_sync');
        }
        return;
      }
      if (this.#state.done[key]) return;
      this.actions++;
      this.#event(d, { step: 'desired' });
      await this.#setRollout(d, 'in_progress', 'download');
      const r = await this.#serialized(() =>
        this.#o.backend.install(a, (s) => {
          this.#event(d, s);
          if (this.#state.rollout && this.#state.rollout.step !== s.step) {
            this.#state.rollout = { ...this.#state.rollout, step: s.step, at_ms: this.#now() };
            void this.publishReported();
          }
        }),
      );
      await this.#finish(d, key, r, 'committed');
      return;
    }
    const key = `${d.rollout_id}:rollback:${d.kind}:${d.version}`;
    if (versions[d.kind] !== d.version) {
      if (!same) await this.#setRollout(d, 'rolled_back', 'in_sync');
      return;
    }
    if (this.#state.done[key]) return;
    this.actions++;
    await this.#setRollout(d, 'in_progress', 'rollback');
    const r = await this.#serialized(() => this.#o.backend.rollback(d.kind, (s) => this.#event(d, s)));
    await this.#finish(d, key, r, 'rolled_back');
  }

  async #finish(d: DesiredState, key: string, r: BackendResult, okStep: 'committed' | 'rolled_back'): Promise<void> {
    if (r.outcome === 'reboot') {
      this.#event(d, { step: 'reboot' });
      await this.#setRollout(d, 'in_progress', 'reboot');
      this.#stopped = true;
      this.#o.onReboot?.();
      return;
    }
    if (r.outcome === 'succeeded') {
      this.#event(d, { step: okStep });
      await this.#setRollout(d, okStep === 'committed' ? 'succeeded' : 'rolled_back', okStep);
      return;
    }
    const outcome = r.outcome === 'rejected' ? 'rejected' : 'failed';
    this.#event(d, { step: outcome, ...(r.code ? { code: r.code } : {}), ...(r.error ? { error: r.error.slice(0, 2000) } : {}) });
    // A failed fetch is retried on the next desired-state pass; a refused or rolled-back install is not.
    if (!(outcome === 'failed' && r.step === 'download')) this.#remember(key, outcome);
    await this.#setRollout(d, outcome, r.step, r);
  }

  #load(): AgentState {
    const empty: AgentState = { session: { boot_id: '', n: 0 }, generations: { location: 0, device: 0 }, done: {}, rollout: null };
    try {
      const s = JSON.parse(readFileSync(this.#o.stateFile, 'utf8')) as AgentState;
      return { ...empty, ...s };
    } catch {
      return empty;
    }
  }

  #save(): void {
    try {
      writeFileSync(`${this.#o.stateFile}.tmp`, JSON.stringify(this.#state));
      renameSync(`${this.#o.stateFile}.tmp`, this.#o.stateFile);
    } catch (err) {
      log.error(`${this.#o.stateFile}: ${errorMessage(err)}`);
    }
  }
}
