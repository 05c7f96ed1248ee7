/**
 * The fleet tool's engine: one broker connection (its own certificate), the fleet database, and the
 * rollout operations. Every device message it receives is validated (codec) and stored; desired state
 * is written only here, retained, with a new generation each time. `tick()` applies the policy:
 * abort on failure thresholds or on the cohort's health metrics (health.ts, from the fleet
 * Prometheus), advance when allowed and the plan says auto, complete at the end.
 */
import { randomBytes } from 'node:crypto';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { FleetLink, type TlsFiles } from '../../telemetry/fleet/link.js';
import type { Inbound } from '../../telemetry/fleet/protocol/codec.js';
import type { ArtifactRef, CommandResponse, DesiredState } from '../../telemetry/fleet/protocol/messages.js';
import { topics, type CommandName } from '../../telemetry/fleet/protocol/topics.js';
import { evaluateHealth, type HealthVerdict } from './health.js';
import { countStep, decide, type StepCounts } from './policy.js';
import type { PrometheusApi } from './prometheus.js';
import { FleetStore, type Rollout, type RolloutPlan } from './store.js';

const log = createLogger('host-tools:fleet');

type WithoutGeneration<T> = T extends unknown ? Omit<T, 'generation'> : never;

export interface ControllerOptions {
  broker: TlsFiles & { client_id: string };
  dbPath: string;
  /**
   * A persistent broker session under the configured client id (for the long-running `watch`): events
   * published while the tool is away are queued for it. One-shot commands use a throwaway session and
   * rely on retained state.
   */
  persistent?: boolean;
  /** The fleet Prometheus for plans with health checks (without it their health stays unknown). */
  prometheus?: PrometheusApi | null;
  now?(): number;
}

export interface RolloutStatus {
  rollout: Rollout;
  counts: StepCounts;
  decision: ReturnType<typeof decide>;
  outcomes: Record<string, string>;
}

export class FleetController {
  readonly store: FleetStore;
  readonly link: FleetLink;
  /** Events received again (same device + seq) and dropped. */
  duplicateEvents = 0;
  #now: () => number;
  #prometheus: PrometheusApi | null;
  #clientId: string;
  #syncWaiters = new Map<string, () => void>();
  #responses = new Map<string, (r: CommandResponse) => void>();

  private constructor(o: ControllerOptions) {
    this.#now = o.now ?? Date.now;
    this.#prometheus = o.prometheus ?? null;
    this.store = new FleetStore(o.dbPath);
    this.#clientId = o.persistent ? o.broker.client_id : `${o.broker.client_id}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.link = new FleetLink(
      { ...o.broker, clientId: this.#clientId, reconnectMs: 1000, reconnectMaxMs: 10_000, ...(o.persistent ? { sessionExpiryS: 7 * 24 * 3600 } : {}) },
      { onMessage: (m) => this.#ingest(m) },
    );
  }

  /** Connects, subscribes to every device's status, reported state, events and responses, and reads the retained backlog. */
  static async open(o: ControllerOptions): Promise<FleetController> {
    const c = new FleetController(o);
    try {
      c.link.start();
      await c.link.waitConnected();
      const ok = await c.link.subscribe([topics.allStatus, topics.allReported, topics.allEvents, topics.allResponses, topics.sync(c.#clientId)]);
      if (!ok) throw new SidewalkError('FLEET_SUBSCRIBE_REFUSED', `${o.broker.url}: the broker refused the fleet tool's subscriptions (is ${o.broker.client_id} the fleet tool's certificate?)`);
      await c.sync();
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  async close(): Promise<void> {
    await this.link.end();
    this.store.close();
  }

  /**
   * Waits until everything the broker queued for us before now (the retained backlog) has arrived:
   * a marker published to our own sync topic comes after it on the same connection.
   */
  async sync(timeoutMs = 15_000): Promise<void> {
    const nonce = randomBytes(8).toString('hex');
    const arrived = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new SidewalkError('FLEET_BROKER_TIMEOUT', `no sync marker back from the broker within ${timeoutMs} ms`)), timeoutMs);
      this.#syncWaiters.set(nonce, () => {
        clearTimeout(t);
        resolve();
      });
    });
    if (!(await this.link.publish('sync', topics.sync(this.#clientId), { nonce }))) {
      this.#syncWaiters.delete(nonce);
      throw new SidewalkError('FLEET_PUBLISH_FAILED', 'could not publish the sync marker to the broker');
    }
    await arrived;
  }

  #ingest(m: Inbound): void {
    switch (m.kind) {
      case 'status':
        this.store.recordStatus(m.device!, m.payload, this.#now());
        return;
      case 'reported':
        this.store.recordReported(m.payload);
        return;
      case 'events':
        if (!this.store.recordEvent(m.device!, m.payload)) this.duplicateEvents++;
        return;
      case 'response':
        this.#responses.get(`${m.device}/${m.payload.request_id}`)?.(m.payload);
        return;
      case 'sync':
        this.#syncWaiters.get(m.payload.nonce)?.();
        this.#syncWaiters.delete(m.payload.nonce);
        return;
      default:
        return;
    }
  }

  async #writeDesired(topic: string, d: DesiredState): Promise<void> {
    if (!(await this.link.publish('desired-location', topic, d, { retain: true }))) {
      throw new SidewalkError('FLEET_PUBLISH_FAILED', `${topic}: the broker did not take the desired state (generation ${d.generation})`);
    }
  }

  async deploy(input: { location: string; artifact: ArtifactRef; plan: RolloutPlan; id?: string }): Promise<Rollout> {
    const { plan } = input;
    if (plan.steps.length === 0 || plan.steps.some((s, i) => s < 1 || s > 100 || (i > 0 && s <= plan.steps[i - 1]!))) {
      throw new SidewalkError('FLEET_PLAN_INVALID', `steps ${JSON.stringify(plan.steps)}: need ascending percentages in 1..100`);
    }
    const busy = this.store.rollouts({ location: input.location, states: ['active', 'paused'] });
    if (busy.length > 0) throw new SidewalkError('FLEET_ROLLOUT_BUSY', `${input.location} already has rollout ${busy[0]!.id} (${busy[0]!.state}); abort it or let it complete first`);
    const now = this.#now();
    const id = input.id ?? `${input.location}-${input.artifact.kind}-${input.artifact.version}-${now.toString(36)}${randomBytes(2).toString('hex')}`;
    const desired: DesiredState = { generation: this.store.nextGeneration(), rollout_id: id, percent: plan.steps[0]!, mode: 'install', artifact: input.artifact };
    const rollout: Rollout = { id, location: input.location, artifact: input.artifact, plan, step: 0, state: 'active', stepStartedMs: now, createdMs: now, updatedMs: now, reason: null, desired };
    this.store.insertRollout(rollout);
    try {
      await this.#writeDesired(topics.desiredLocation(input.location), desired);
    } catch (err) {
      this.store.deleteRollout(id);
      throw err;
    }
    log.info(`rollout ${id}: ${input.artifact.kind} ${input.artifact.version} to ${plan.steps[0]}% of ${input.location}`);
    return rollout;
  }

  status(id: string): RolloutStatus {
    const rollout = this.store.rollout(id);
    const { outcomes, ...counts } = countStep(rollout, this.store.devices(rollout.location), this.#now());
    return { rollout, counts, decision: decide(rollout, counts, this.#now()), outcomes: Object.fromEntries(outcomes) };
  }

  async #update(r: Rollout, changes: Partial<Rollout>, desired?: WithoutGeneration<DesiredState>): Promise<Rollout> {
    const next: Rollout = { ...r, ...changes, updatedMs: this.#now() };
    if (desired) {
      next.desired = { ...desired, generation: this.store.nextGeneration() } as DesiredState;
      await this.#writeDesired(topics.desiredLocation(r.location), next.desired);
    }
    this.store.updateRollout(next);
    return next;
  }

  #require(id: string, states: Rollout['state'][], what: string): Rollout {
    const r = this.store.rollout(id);
    if (!states.includes(r.state)) throw new SidewalkError('FLEET_ROLLOUT_STATE', `rollout ${id} is ${r.state}; cannot ${what} it`);
    return r;
  }

  /**
   * The current step's health: its devices that run the new version against the location's devices
   * outside the step; when fewer than `min_devices` are outside it (a last step at 100 %, a small
   * location), the devices this step added against themselves before the step began. Null when the
   * plan has no health checks.
   */
  async health(id: string): Promise<HealthVerdict | null> {
    const r = this.store.rollout(id);
    if (!r.plan.health) return null;
    if (!this.#prometheus) return { state: 'unknown', reason: 'health unknown: no fleet Prometheus configured (prometheus.url in fleet.yaml)', checks: [] };
    const devices = this.store.devices(r.location);
    const { outcomes, percent } = countStep(r, devices, this.#now());
    const succeeded = new Set([...outcomes].filter(([, o]) => o === 'succeeded').map(([d]) => d));
    const rest = new Set(devices.filter((d) => d.cohort !== null && d.cohort >= percent).map((d) => d.id));
    if (rest.size >= r.plan.health.min_devices) return evaluateHealth(this.#prometheus, r.plan.health, r.location, { cohort: succeeded, rest });
    const previous = r.step === 0 ? 0 : r.plan.steps[r.step - 1]!;
    const added = new Set(devices.filter((d) => succeeded.has(d.id) && d.cohort !== null && d.cohort >= previous).map((d) => d.id));
    return evaluateHealth(this.#prometheus, r.plan.health, r.location, { cohort: added, stepAgeS: (this.#now() - r.stepStartedMs) / 1000 });
  }

  /** Next step; refused while the policy says wait or the health is unknown (unless forced), when failing, and at the last step. */
  async advance(id: string, options: { force?: boolean } = {}): Promise<Rollout> {
    const r = this.#require(id, ['active'], 'advance');
    if (r.step >= r.plan.steps.length - 1) throw new SidewalkError('FLEET_LAST_STEP', `rollout ${id} is at its last step (${r.plan.steps.at(-1)}%)`);
    const s = this.status(id);
    if (s.decision.action === 'abort') throw new SidewalkError('FLEET_ROLLOUT_FAILING', `rollout ${id} must be aborted, not advanced: ${s.decision.reason}`);
    if (s.decision.action === 'wait' && !options.force) throw new SidewalkError('FLEET_STEP_NOT_DONE', `rollout ${id} step ${r.step + 1} (${s.counts.percent}%): ${s.decision.reason}`);
    const h = await this.health(id);
    if (h?.state === 'degraded') throw new SidewalkError('FLEET_ROLLOUT_FAILING', `rollout ${id} must be aborted, not advanced: ${h.reason}`);
    if (h?.state === 'unknown' && !options.force) throw new SidewalkError('FLEET_STEP_NOT_DONE', `rollout ${id} step ${r.step + 1} (${s.counts.percent}%): ${h.reason}`);
    return this.#nextStep(r);
  }

  async #nextStep(r: Rollout): Promise<Rollout> {
    const step = r.step + 1;
    log.info(`rollout ${r.id}: step ${step + 1} (${r.plan.steps[step]}%)`);
    return this.#update(r, { step, stepStartedMs: this.#now() }, { ...(r.desired as WithoutGeneration<DesiredState>), percent: r.plan.steps[step]! });
  }

  async pause(id: string): Promise<Rollout> {
    return this.#update(this.#require(id, ['active'], 'pause'), { state: 'paused' });
  }

  async resume(id: string): Promise<Rollout> {
    return this.#update(this.#require(id, ['paused'], 'resume'), { state: 'active' });
  }

  /** Stops the rollout and sends its cohort back: devices running the new version roll back to their previous one. */
  async abort(id: string, reason = 'aborted by the operator'): Promise<Rollout> {
    const r = this.#require(id, ['active', 'paused'], 'abort');
    log.warn(`rollout ${id} aborted: ${reason}`);
    return this.#update(r, { state: 'aborted', reason }, { rollout_id: r.id, percent: r.desired.percent, mode: 'rollback', kind: r.artifact.kind, version: r.artifact.version });
  }

  /** Rolls back a completed (or aborted) rollout's devices. */
  async rollback(id: string): Promise<Rollout> {
    const r = this.#require(id, ['completed', 'aborted', 'active', 'paused'], 'roll back');
    return this.#update(
      r,
      { state: 'rolled_back', reason: r.reason ?? 'rolled back by the operator' },
      {
        rollout_id: r.id,
        percent: r.desired.percent,
        mode: 'rollback',
        kind: r.artifact.kind,
        version: r.artifact.version,
      },
    );
  }

  /** Applies the policy to every active rollout; returns what it did. */
  async tick(): Promise<string[]> {
    const done: string[] = [];
    for (const r of this.store.rollouts({ states: ['active'] })) {
      const s = this.status(r.id);
      if (s.decision.action === 'abort') {
        await this.abort(r.id, s.decision.reason);
        done.push(`${r.id}: aborted (${s.decision.reason})`);
        continue;
      }
      const h = await this.health(r.id);
      if (h?.state === 'degraded') {
        await this.abort(r.id, h.reason);
        done.push(`${r.id}: aborted (${h.reason})`);
      } else if (s.decision.action === 'complete') {
        await this.#update(r, { state: 'completed' });
        done.push(`${r.id}: completed`);
      } else if (s.decision.action === 'advance' && r.plan.auto_advance) {
        // Unknown health holds the step: the next one would put the new version on more scooters unseen.
        if (h?.state === 'unknown') log.warn(`rollout ${r.id}: not advancing, ${h.reason}`);
        else {
          const next = await this.#nextStep(r);
          done.push(`${r.id}: advanced to ${next.plan.steps[next.step]}%`);
        }
      }
    }
    return done;
  }

  /** Sends a command and waits for the device's response. */
  async command(device: string, name: CommandName, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<CommandResponse> {
    const requestId = randomBytes(8).toString('hex');
    const key = `${device}/${requestId}`;
    const response = new Promise<CommandResponse>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#responses.delete(key);
        reject(new SidewalkError('FLEET_COMMAND_TIMEOUT', `${device} did not answer ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#responses.set(key, (r) => {
        clearTimeout(t);
        this.#responses.delete(key);
        resolve(r);
      });
    });
    if (!(await this.link.publish('cmd', topics.cmd(device, name), { request_id: requestId, args }))) {
      this.#responses.delete(key);
      throw new SidewalkError('FLEET_PUBLISH_FAILED', `${device}: command ${name} not taken by the broker`);
    }
    return response;
  }
}
