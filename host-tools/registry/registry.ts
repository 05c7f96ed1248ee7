/**
 * The model registry: every model per location and version with its lineage (dataset snapshot hash,
 * code revision, training parameters, eval report, gate decision, sha256 of each file) and its stage.
 *
 * SQLite (better-sqlite3, WAL) rather than a JSON file: promotions change two rows at once (the new
 * production and the one it retires) and must be atomic, a weekly timer and a person at the CLI may
 * write at the same time (busy_timeout serialises them), and partial unique indexes make "one
 * production and one canary per location" a property of the database, not of careful code.
 * Bundle files live in a content-addressed store beside it (store.ts).
 *
 * Stages: candidate -> canary -> production -> retired. Promoting to canary or production retires the
 * location's previous holder of that stage; any live stage can be retired; a retired model that once
 * was production may be promoted to production again (a rollback).
 */
import type Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { openSqlite, tableNames } from '../../lib/sqlite.js';
import { MANIFEST_FILE, loadModelBundle, parseManifest } from '../../runtime/inference/bundle.js';
import type { ModelManifest } from '../../runtime/inference/manifest-types.js';
import { compareVersions } from '../../lib/versions.js';
import type { EvalReport } from './eval-report.js';
import type { GateResult } from './gates.js';
import { BlobStore, sha256Hex } from './store.js';

const log = createLogger('registry');

export const STAGES = ['candidate', 'canary', 'production', 'retired'] as const;
export type Stage = (typeof STAGES)[number];

export interface ModelFile {
  name: string;
  sha256: string;
  bytes: number;
}

export interface RegisteredModel {
  id: number;
  location: string;
  name: string;
  version: string;
  stage: Stage;
  registeredAt: string;
  stageChangedAt: string;
  /** sha256 of the bundle's manifest.json (which itself lists every other file's sha256). */
  manifestSha256: string;
  files: ModelFile[];
  datasetHash: string | null;
  codeRevision: string | null;
  trainParams: Record<string, unknown>;
  metrics: EvalReport;
  gates: GateResult | null;
  artifact: { sha256: string; fileName: string } | null;
}

export interface StageEvent {
  from: Stage | null;
  to: Stage;
  at: string;
  reason: string;
}

export interface RegisterInput {
  bundleDir: string;
  report: EvalReport;
  /** The gate decision on this very report (checkGates): registration is refused unless it passed. */
  gates: GateResult;
  datasetHash?: string | null;
  codeRevision?: string | null;
  trainParams?: Record<string, unknown>;
}

export function defaultRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.SIDEWALK_REGISTRY ?? 'sidewalk-registry');
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    location TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('candidate', 'canary', 'production', 'retired')),
    registered_at TEXT NOT NULL,
    stage_changed_at TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    dataset_hash TEXT,
    code_revision TEXT,
    train_params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    gates TEXT,
    artifact_sha256 TEXT,
    artifact_file TEXT,
    was_production INTEGER NOT NULL DEFAULT 0,
    UNIQUE (location, version)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS one_production ON models(location) WHERE stage = 'production';
  CREATE UNIQUE INDEX IF NOT EXISTS one_canary ON models(location) WHERE stage = 'canary';
  CREATE TABLE IF NOT EXISTS model_files (
    model_id INTEGER NOT NULL REFERENCES models(id),
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (model_id, name)
  );
  CREATE TABLE IF NOT EXISTS stage_events (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT NOT NULL
  );`;

interface Row {
  id: number;
  location: string;
  name: string;
  version: string;
  stage: Stage;
  registered_at: string;
  stage_changed_at: string;
  manifest_sha256: string;
  dataset_hash: string | null;
  code_revision: string | null;
  train_params: string;
  metrics: string;
  gates: string | null;
  artifact_sha256: string | null;
  artifact_file: string | null;
  was_production: number;
}

export class Registry {
  readonly dir: string;
  readonly store: BlobStore;
  readonly #db: Database.Database;

  private constructor(dir: string, db: Database.Database) {
    this.dir = dir;
    this.#db = db;
    this.store = new BlobStore(join(dir, 'objects'));
  }

  /**
   * Opens (by default creating) the registry in `dir`. `create: false`: a missing one is an error;
   * `readOnly` (list, show, bundle): nothing is created or changed, not even the schema.
   */
  static open(dir = defaultRegistryDir(), options: { create?: boolean; readOnly?: boolean } = {}): Registry {
    const abs = resolve(dir);
    const file = join(abs, 'registry.db');
    if (statSync(abs, { throwIfNoEntry: false })?.isDirectory() === false) {
      throw new SidewalkError('REGISTRY_OPEN', `${abs}: is a file; the registry is a folder (holding registry.db and objects/)`);
    }
    if (options.create === false && !existsSync(file)) {
      throw new SidewalkError('REGISTRY_MISSING', `${abs}: no model registry here (registry.db); pass --registry or set SIDEWALK_REGISTRY`);
    }
    const db = openSqlite(file, {
      codes: { missing: 'REGISTRY_MISSING', open: 'REGISTRY_OPEN', notDatabase: 'REGISTRY_NOT_DATABASE' },
      what: 'model registry',
      ...(options.readOnly ? { readOnly: true } : {}),
      setup: (db) => {
        const tables = tableNames(db);
        const ours = ['models', 'model_files', 'stage_events'];
        if (tables.size > 0 && !ours.every((t) => tables.has(t))) {
          throw new SidewalkError('REGISTRY_NOT_DATABASE', `${file}: an SQLite file, but not a model registry (tables ${[...tables].join(', ')}); nothing was changed`);
        }
        if (!options.readOnly) db.pragma('journal_mode = WAL');
        db.pragma('foreign_keys = ON');
        db.pragma('busy_timeout = 10000');
        if (!options.readOnly) db.exec(SCHEMA);
        else if (tables.size === 0) throw new SidewalkError('REGISTRY_NOT_DATABASE', `${file}: an empty SQLite file, not a model registry`);
      },
    });
    return new Registry(abs, db);
  }

  close(): void {
    this.#db.close();
  }

  /**
   * Verifies the bundle with the device's loader, copies its files into the store and records it as a
   * candidate. The report must be about this very bundle (its model sha256 is one of the bundle's files),
   * and the gate decision (gates.ts `checkGates`) about this very report and passed: the registry itself
   * makes "gates first" the only way in, for the pipeline and any other caller.
   */
  async register(input: RegisterInput): Promise<RegisteredModel> {
    const manifestPath = join(input.bundleDir, MANIFEST_FILE);
    const manifestBytes = await readFile(manifestPath).catch((err: Error) => {
      throw new SidewalkError('REGISTRY_BUNDLE_INVALID', `${manifestPath}: ${err.message}`, { cause: err });
    });
    const declared = parseManifest(manifestBytes, manifestPath);
    const { manifest } = await loadModelBundle(input.bundleDir, { appVersion: declared.min_app_version ?? '0.0.0' });
    if (manifest.demo_only) throw new SidewalkError('REGISTRY_DEMO_MODEL', `${manifestPath}: demo_only models are never registered`);
    const r = input.report;
    const fileShas = Object.values(manifest.files).map((f) => f.sha256);
    const manifestSha = sha256Hex(manifestBytes);
    if (r.model.location !== manifest.location || r.model.version !== manifest.version || ![...fileShas, manifestSha].includes(r.model.sha256)) {
      throw new SidewalkError(
        'REGISTRY_REPORT_MISMATCH',
        `the eval report is about ${r.model.location} ${r.model.version} (sha256 ${r.model.sha256}), ` + `not about the bundle ${input.bundleDir} (${manifest.location} ${manifest.version})`,
      );
    }
    const g = input.gates;
    if (!g.passed || g.location !== manifest.location || g.candidate.version !== r.model.version || g.candidate.sha256 !== r.model.sha256) {
      throw new SidewalkError(
        'REGISTRY_GATES_NOT_PASSED',
        `${manifest.location} ${manifest.version}: ` +
          (g.passed
            ? `the gate decision is about ${g.location} ${g.candidate.version} (sha256 ${g.candidate.sha256}), not this report`
            : `the gates rejected it (${g.failures.map((f) => f.code).join(', ')}); nothing was registered`),
      );
    }
    if (this.find(manifest.location, manifest.version)) {
      throw new SidewalkError('REGISTRY_VERSION_EXISTS', `${manifest.location} ${manifest.version} is already registered; train with a new version`);
    }
    await this.store.put(manifestBytes);
    const files: ModelFile[] = [{ name: MANIFEST_FILE, sha256: manifestSha, bytes: manifestBytes.length }];
    for (const name of Object.keys(manifest.files).sort()) files.push({ name, ...(await this.store.putFile(join(input.bundleDir, name))) });
    const now = new Date().toISOString();
    const id = this.#db.transaction(() => {
      const info = this.#db
        .prepare(`INSERT INTO models (location, name, version, stage, registered_at, stage_changed_at, manifest_sha256,
          dataset_hash, code_revision, train_params, metrics, gates) VALUES (?, ?, ?, 'candidate', ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(
          manifest.location,
          manifest.name,
          manifest.version,
          now,
          now,
          manifestSha,
          input.datasetHash ?? manifest.dataset_hash ?? null,
          input.codeRevision ?? null,
          JSON.stringify(input.trainParams ?? {}),
          JSON.stringify(r),
          JSON.stringify(input.gates),
        );
      const modelId = Number(info.lastInsertRowid);
      const addFile = this.#db.prepare('INSERT INTO model_files (model_id, name, sha256, bytes) VALUES (?, ?, ?, ?)');
      for (const f of files) addFile.run(modelId, f.name, f.sha256, f.bytes);
      this.#event(modelId, null, 'candidate', now, 'registered');
      return modelId;
    })();
    log.info(`registered ${manifest.location} ${manifest.version} (${manifest.name}) as candidate`);
    return this.#byId(id);
  }

  list(options: { location?: string; stage?: Stage } = {}): RegisteredModel[] {
    const rows = this.#db
      .prepare(`SELECT * FROM models WHERE (@location IS NULL OR location = @location) AND (@stage IS NULL OR stage = @stage)`)
      .all({ location: options.location ?? null, stage: options.stage ?? null }) as Row[];
    return rows.map((row) => this.#toModel(row)).sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : compareVersions(a.version, b.version)));
  }

  find(location: string, version: string): RegisteredModel | undefined {
    const row = this.#db.prepare('SELECT * FROM models WHERE location = ? AND version = ?').get(location, version) as Row | undefined;
    return row ? this.#toModel(row) : undefined;
  }

  /** A model by location or model name, and version. */
  get(ref: string, version: string): RegisteredModel {
    const rows = this.#db.prepare('SELECT * FROM models WHERE (location = ? OR name = ?) AND version = ?').all(ref, ref, version) as Row[];
    if (rows.length === 0) throw new SidewalkError('REGISTRY_MODEL_UNKNOWN', `no model "${ref}" ${version} in ${this.dir} (see \`sidewalk models list\`)`);
    if (rows.length > 1) {
      throw new SidewalkError('REGISTRY_MODEL_AMBIGUOUS', `"${ref}" ${version} matches ${rows.map((r) => `${r.location}/${r.name}`).join(', ')}; name the location`);
    }
    return this.#toModel(rows[0]!);
  }

  /** The location's model in `stage` (production and canary have at most one). */
  current(location: string, stage: 'production' | 'canary'): RegisteredModel | undefined {
    return this.list({ location, stage })[0];
  }

  /** The registered model whose manifest.json has this sha256, if any. */
  findByManifest(location: string, manifestSha: string): RegisteredModel | undefined {
    const row = this.#db.prepare('SELECT * FROM models WHERE location = ? AND manifest_sha256 = ?').get(location, manifestSha) as Row | undefined;
    return row ? this.#toModel(row) : undefined;
  }

  /** Highest registered version of the location with its minor bumped; 1.0.0 for a new location. */
  nextVersion(location: string): string {
    const versions = this.list({ location }).map((m) => m.version);
    const top = versions.sort(compareVersions).pop();
    if (!top) return '1.0.0';
    const [major = 0, minor = 0] = top.split(/[.+-]/).map(Number);
    return `${major}.${minor + 1}.0`;
  }

  /** Moves a model to canary or production; the location's previous holder of that stage is retired. */
  promote(ref: string, version: string, to: 'canary' | 'production', reason = 'promoted'): { model: RegisteredModel; retired: RegisteredModel[] } {
    const retired: number[] = [];
    const model = this.get(ref, version);
    this.#db.transaction(() => {
      const m = this.#toModel(this.#db.prepare('SELECT * FROM models WHERE id = ?').get(model.id) as Row);
      const allowed = to === 'canary' ? m.stage === 'candidate' : m.stage === 'canary' || (m.stage === 'retired' && this.#wasProduction(m.id));
      if (!allowed) {
        const rule = to === 'canary' ? 'only a candidate can become canary' : 'only the canary (or a retired former production model, as a rollback) can become production';
        throw new SidewalkError('REGISTRY_STAGE_TRANSITION', `${m.location} ${m.version} is ${m.stage}: ${rule}`, { details: { from: m.stage, to } });
      }
      const now = new Date().toISOString();
      const previous = this.#db.prepare('SELECT id, version FROM models WHERE location = ? AND stage = ?').get(m.location, to) as { id: number; version: string } | undefined;
      if (previous) {
        this.#setStage(previous.id, to, 'retired', now, `replaced by ${m.version}`);
        retired.push(previous.id);
      }
      this.#setStage(m.id, m.stage, to, now, reason);
    })();
    const after = this.#byId(model.id);
    log.info(`${after.location} ${after.version} is now ${to}${retired.length ? ` (retired ${retired.map((id) => this.#byId(id).version).join(', ')})` : ''}`);
    return { model: after, retired: retired.map((id) => this.#byId(id)) };
  }

  retire(ref: string, version: string, reason = 'retired'): RegisteredModel {
    const model = this.get(ref, version);
    if (model.stage === 'retired') throw new SidewalkError('REGISTRY_STAGE_TRANSITION', `${model.location} ${model.version} is already retired`);
    this.#db.transaction(() => this.#setStage(model.id, model.stage, 'retired', new Date().toISOString(), reason))();
    if (model.stage === 'production') log.warn(`${model.location} has no production model now`);
    return this.#byId(model.id);
  }

  /** Records the signed artifact made from a registered model (the file goes into the store). */
  async attachArtifact(location: string, version: string, file: string, fileName: string): Promise<RegisteredModel> {
    const model = this.get(location, version);
    const { sha256 } = await this.store.putFile(file);
    this.#db.prepare('UPDATE models SET artifact_sha256 = ?, artifact_file = ? WHERE id = ?').run(sha256, fileName, model.id);
    return this.#byId(model.id);
  }

  history(model: RegisteredModel): StageEvent[] {
    return (
      this.#db.prepare('SELECT from_stage, to_stage, at, reason FROM stage_events WHERE model_id = ? ORDER BY id').all(model.id) as {
        from_stage: Stage | null;
        to_stage: Stage;
        at: string;
        reason: string;
      }[]
    ).map((e) => ({ from: e.from_stage, to: e.to_stage, at: e.at, reason: e.reason }));
  }

  /** Writes the model's bundle (every file, verified against its sha256) into `dir`; returns its manifest. */
  async materialize(model: RegisteredModel, dir: string): Promise<ModelManifest> {
    await mkdir(dir, { recursive: true });
    for (const f of model.files) await this.store.copyOut(f.sha256, join(dir, f.name));
    return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as ModelManifest;
  }

  #wasProduction(id: number): boolean {
    return (this.#db.prepare('SELECT was_production FROM models WHERE id = ?').get(id) as { was_production: number }).was_production === 1;
  }

  #setStage(id: number, from: Stage, to: Stage, at: string, reason: string): void {
    this.#db.prepare(`UPDATE models SET stage = ?, stage_changed_at = ?, was_production = was_production OR ? WHERE id = ?`).run(to, at, to === 'production' ? 1 : 0, id);
    this.#event(id, from, to, at, reason);
  }

  #event(id: number, from: Stage | null, to: Stage, at: string, reason: string): void {
    this.#db.prepare('INSERT INTO stage_events (model_id, from_stage, to_stage, at, reason) VALUES (?, ?, ?, ?, ?)').run(id, from, to, at, reason);
  }

  #byId(id: number): RegisteredModel {
    return this.#toModel(this.#db.prepare('SELECT * FROM models WHERE id = ?').get(id) as Row);
  }

  #toModel(row: Row): RegisteredModel {
    const files = this.#db.prepare('SELECT name, sha256, bytes FROM model_files WHERE model_id = ? ORDER BY name').all(row.id) as ModelFile[];
    return {
      id: row.id,
      location: row.location,
      name: row.name,
      version: row.version,
      stage: row.stage,
      registeredAt: row.registered_at,
      stageChangedAt: row.stage_changed_at,
      manifestSha256: row.manifest_sha256,
      files,
      datasetHash: row.dataset_hash,
      codeRevision: row.code_revision,
      trainParams: JSON.parse(row.train_params) as Record<string, unknown>,
      metrics: JSON.parse(row.metrics) as EvalReport,
      gates: row.gates ? (JSON.parse(row.gates) as GateResult) : null,
      artifact: row.artifact_sha256 ? { sha256: row.artifact_sha256, fileName: row.artifact_file ?? 'model.mender' } : null,
    };
  }
}
