/**
 * The record of one pipeline run (WORK/runs/<id>/run.json plus logs/<step>.log) and the step runner.
 * A step's inputs are hashed; when the location's last successful run of that step had the same hash
 * and its outputs are still there, the step is skipped and its outputs reused. run.json is rewritten
 * (atomically) after every step, so a run that dies still leaves a record of how far it got.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { errorMessage, isSidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';

export const STEP_NAMES = ['export', 'train', 'evaluate', 'gate', 'register', 'package'] as const;
export type StepName = (typeof STEP_NAMES)[number];
export type StepStatus = 'pending' | 'done' | 'skipped' | 'failed' | 'rejected' | 'not-run';
export type RunStatus = 'running' | 'registered' | 'unchanged' | 'rejected' | 'failed';

export interface StepRecord {
  name: StepName;
  status: StepStatus;
  started_at?: string;
  finished_at?: string;
  duration_ms?: number;
  input_hash?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  /** Why the step was skipped, rejected or failed. */
  reason?: string;
  error?: { code: string; message: string };
  /** Log file, relative to the run folder. */
  log: string;
}

export interface RunRecord {
  format: 'sidewalk-pipeline-run/1';
  id: string;
  location: string;
  status: RunStatus;
  reason?: string;
  started_at: string;
  finished_at?: string;
  duration_ms?: number;
  code_revision: string | null;
  paths: { db: string; work: string; registry: string; config: string | null };
  config: unknown;
  steps: StepRecord[];
  model?: { location: string; version: string; stage: string };
}

/** What the location's last successful run of each step produced (WORK/locations/<L>/state.json). */
interface StepState {
  input_hash: string;
  outputs: Record<string, unknown>;
  run_id: string;
  finished_at: string;
}
type State = Partial<Record<StepName, StepState>>;

export interface StepContext {
  /** Appends a line to the step's log file (and to stderr at info level). */
  log(line: string): void;
  /** Appends a line to the log file only (for detail that another logger already shows). */
  write(line: string): void;
}

export interface StepDefinition<O extends Record<string, unknown>> {
  name: StepName;
  /** The step's inputs; computed inside the step, so a failure here fails the step. */
  inputs: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Are the cached outputs of an earlier run still usable (files present and unchanged)? */
  stillValid?: (outputs: O) => Promise<boolean>;
  run: (ctx: StepContext) => Promise<O>;
}

/** sha256 of a canonical JSON encoding (object keys sorted), so key order never changes a hash. */
export function hashOf(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex')}`;
}

function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export class StepFailed extends Error {
  readonly step: StepName;
  readonly error: unknown;

  constructor(step: StepName, error: unknown) {
    super(`${step}: ${errorMessage(error)}`);
    this.step = step;
    this.error = error;
  }
}

export class RunRecorder {
  readonly record: RunRecord;
  readonly runDir: string;
  readonly #statePath: string;
  readonly #log = createLogger('pipeline');
  #state: State = {};

  constructor(record: RunRecord, runDir: string, statePath: string) {
    this.record = record;
    this.runDir = runDir;
    this.#statePath = statePath;
    mkdirSync(join(runDir, 'logs'), { recursive: true });
    this.record.steps = STEP_NAMES.map((name) => ({ name, status: 'pending', log: join('logs', `${name}.log`) }));
  }

  /** Reads the location's step state; call it with the location locked. */
  async start(): Promise<void> {
    this.#state = JSON.parse(await readFile(this.#statePath, 'utf8').catch(() => '{}')) as State;
    await this.save();
  }

  step(name: StepName): StepRecord {
    return this.record.steps.find((s) => s.name === name)!;
  }

  async save(): Promise<void> {
    await writeJsonAtomic(join(this.runDir, 'run.json'), this.record);
  }

  #logger(name: StepName): StepContext {
    const file = join(this.runDir, 'logs', `${name}.log`);
    const log = createLogger(`pipeline:${name}`);
    const write = (line: string): void => appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
    return {
      write,
      log: (line: string) => {
        write(line);
        log.info(line);
      },
    };
  }

  /** Runs (or skips) one step; throws StepFailed after recording the failure. */
  async run<O extends Record<string, unknown>>(def: StepDefinition<O>): Promise<O> {
    const rec = this.step(def.name);
    const ctx = this.#logger(def.name);
    const started = Date.now();
    rec.started_at = new Date(started).toISOString();
    const finish = async (status: StepStatus): Promise<void> => {
      rec.status = status;
      rec.finished_at = new Date().toISOString();
      rec.duration_ms = Date.now() - started;
      await this.save();
    };
    try {
      rec.inputs = await def.inputs();
      rec.input_hash = hashOf(rec.inputs);
      const previous = this.#state[def.name];
      if (previous && previous.input_hash === rec.input_hash && (!def.stillValid || (await def.stillValid(previous.outputs as O)))) {
        rec.outputs = previous.outputs;
        rec.reason = `inputs unchanged since run ${previous.run_id}`;
        ctx.log(`skipped: ${rec.reason} (${rec.input_hash})`);
        await finish('skipped');
        return previous.outputs as O;
      }
      ctx.log(`running (inputs ${rec.input_hash})`);
      const outputs = await def.run(ctx);
      rec.outputs = outputs;
      this.#state[def.name] = { input_hash: rec.input_hash, outputs, run_id: this.record.id, finished_at: new Date().toISOString() };
      await mkdir(join(this.#statePath, '..'), { recursive: true });
      await writeJsonAtomic(this.#statePath, this.#state);
      ctx.log(`done in ${Date.now() - started} ms`);
      await finish('done');
      return outputs;
    } catch (err) {
      rec.error = { code: isSidewalkError(err) ? err.code : 'PIPELINE_STEP_FAILED', message: err instanceof Error ? err.message : String(err) };
      rec.reason = `${rec.error.code}: ${rec.error.message}`;
      ctx.log(`failed: ${rec.reason}`);
      await finish('failed');
      throw new StepFailed(def.name, err);
    }
  }

  /** Marks a step as not needed (e.g. the model is registered already) with the reason. */
  async skip(name: StepName, reason: string, outputs?: Record<string, unknown>): Promise<void> {
    const rec = this.step(name);
    rec.status = 'skipped';
    rec.reason = reason;
    if (outputs) rec.outputs = outputs;
    this.#logger(name).log(`skipped: ${reason}`);
    await this.save();
  }

  async reject(name: StepName, reason: string): Promise<void> {
    const rec = this.step(name);
    rec.status = 'rejected';
    rec.reason = reason;
    await this.save();
  }

  /** Ends the run; steps that never started are "not-run". */
  async finish(status: Exclude<RunStatus, 'running'>, reason?: string): Promise<RunRecord> {
    for (const s of this.record.steps) if (s.status === 'pending') s.status = 'not-run';
    this.record.status = status;
    if (reason) this.record.reason = reason;
    this.record.finished_at = new Date().toISOString();
    this.record.duration_ms = Date.parse(this.record.finished_at) - Date.parse(this.record.started_at);
    await this.save();
    this.#log.info(`run ${this.record.id}: ${status}${reason ? `: ${reason}` : ''} (record: ${relative(process.cwd(), join(this.runDir, 'run.json'))})`);
    return this.record;
  }
}
