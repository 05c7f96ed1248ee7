/**
 * Health of the runtime after an update: read from the runtime's status file or its /metrics URL,
 * judged over a window (ready with the expected version, decisions fresh, no crash loop, confidence
 * and latency within limits) plus extra check commands. Clock and sleep are injected.
 */
import { readFile } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { describeExit, outputTail, runProcess } from '../../lib/run-process.js';

const log = createLogger('ota:health');

export interface RuntimeStatus {
  ready: boolean;
  modelVersion: string | null;
  appVersion: string | null;
  /** Age of the newest decision, when the source knows it. */
  lastDecisionAgeMs: number | null;
  /** Monotonic count of decisions/frames; freshness is judged by its growth when no age is known. */
  framesTotal: number | null;
  speedKph: number | null;
  /** Process start (s since epoch): a change means the runtime restarted. */
  processStartS: number | null;
  /** Mean top-class confidence (0..1). */
  confidence: number | null;
  inferenceMs: number | null;
}

export interface RuntimeProbe {
  readonly description: string;
  /** Throws when the runtime cannot be reached (service down, file missing). */
  read(): Promise<RuntimeStatus>;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * A status file (JSON): { ready, model_version, app_version, last_decision_unix_ms, frames_total,
 * speed_kph, started_unix_ms, confidence, inference_ms }. The real runtime does not write one (it is
 * read through /metrics, metricsProbe); the simulated scooter's stand-in runtime does (ota/sim-init.ts),
 * so a host walk-through needs no HTTP server.
 */
export function statusFileProbe(path: string, now: () => number = Date.now): RuntimeProbe {
  return {
    description: `status file ${path}`,
    async read() {
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new SidewalkError('OTA_HEALTH_UNREADABLE', `${path}: ${(err as Error).message}`, { cause: err });
      }
      const last = num(raw.last_decision_unix_ms);
      const started = num(raw.started_unix_ms);
      return {
        ready: raw.ready === true,
        modelVersion: str(raw.model_version),
        appVersion: str(raw.app_version),
        lastDecisionAgeMs: last === null ? null : Math.max(0, now() - last),
        framesTotal: num(raw.frames_total),
        speedKph: num(raw.speed_kph),
        processStartS: started === null ? null : started / 1000,
        confidence: num(raw.confidence),
        inferenceMs: num(raw.inference_ms),
      };
    },
  };
}

/** Parses the Prometheus text the runtime serves (telemetry/runtime-metrics.ts names). */
export function parseRuntimeMetrics(text: string): RuntimeStatus {
  const values = new Map<string, number>();
  let modelVersion: string | null = null;
  let appVersion: string | null = null;
  let confidence: number | null = null;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, labels = '', rawValue] = m;
    const value = Number(rawValue);
    if (name === 'sidewalk_model_info' && value === 1) modelVersion = /version="([^"]*)"/.exec(labels)?.[1] ?? modelVersion;
    else if (name === 'sidewalk_app_info' && value === 1) appVersion = /version="([^"]*)"/.exec(labels)?.[1] ?? appVersion;
    else if (name === 'sidewalk_class_confidence_ratio') confidence = Math.max(confidence ?? 0, value);
    else if (!labels) values.set(name!, value);
  }
  const frames = values.get('sidewalk_frames_total') ?? null;
  const count = values.get('sidewalk_inference_duration_seconds_count');
  const sum = values.get('sidewalk_inference_duration_seconds_sum');
  return {
    ready: (frames ?? 0) > 0 && values.get('sidewalk_fail_safe_active') !== 1,
    modelVersion,
    appVersion,
    lastDecisionAgeMs: null,
    framesTotal: frames,
    speedKph: values.get('sidewalk_speed_kph') ?? null,
    processStartS: values.get('process_start_time_seconds') ?? null,
    confidence,
    inferenceMs: count && sum !== undefined ? (sum / count) * 1000 : null,
  };
}

export function metricsProbe(url: string, timeoutMs = 3000): RuntimeProbe {
  return {
    description: `metrics ${url}`,
    async read() {
      let text: string;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      } catch (err) {
        throw new SidewalkError('OTA_HEALTH_UNREADABLE', `${url}: ${(err as Error).message}`, { cause: err });
      }
      return parseRuntimeMetrics(text);
    },
  };
}

export interface HealthCriteria {
  expectModelVersion?: string;
  expectAppVersion?: string;
  readyTimeoutMs: number;
  windowMs: number;
  pollMs: number;
  /** A decision older than this (or no new frame between polls) fails the window. */
  staleAfterMs: number;
  /** Runtime restarts tolerated inside the window. */
  maxRestarts: number;
  /** Consecutive unreadable polls tolerated (a restart in progress). */
  maxUnreadable: number;
  minConfidence?: number;
  maxInferenceMs?: number;
  /** Extra commands (argv); each must exit 0. */
  commands: string[][];
}

export interface HealthClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: HealthClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export type HealthResult = { ok: true; polls: number } | { ok: false; reason: string };

function versionProblem(s: RuntimeStatus, c: HealthCriteria): string | null {
  if (c.expectModelVersion !== undefined && s.modelVersion !== c.expectModelVersion) {
    return `runtime reports model ${s.modelVersion ?? '(none)'}, expected ${c.expectModelVersion}`;
  }
  // The runtime reports its version as sidewalk_app_info{version} (or app_version in the status file).
  if (c.expectAppVersion !== undefined && s.appVersion !== c.expectAppVersion) {
    return `runtime reports app ${s.appVersion ?? '(none)'}, expected ${c.expectAppVersion}`;
  }
  return null;
}

const CHECK_COMMAND_TIMEOUT_MS = 60_000;

/** Why a health check command failed (it could not start, exited non-zero or timed out), or null when it passed. */
async function checkCommandProblem(argv: string[]): Promise<string | null> {
  try {
    const r = await runProcess(argv[0]!, argv.slice(1), { timeoutMs: CHECK_COMMAND_TIMEOUT_MS, maxOutputChars: 2000, errorCode: 'OTA_HEALTH_COMMAND' });
    if (r.code === 0 && !r.timedOut) return null;
    return `${r.code === null || r.timedOut ? describeExit(r, CHECK_COMMAND_TIMEOUT_MS) : `exited ${r.code}`}: ${outputTail(r)}`;
  } catch (err) {
    return `could not start: ${(err as Error).message}`;
  }
}

/** Waits for the runtime to be ready, watches it for the window, then runs the extra commands. */
export async function runHealthWindow(probe: RuntimeProbe, c: HealthCriteria, clock: HealthClock = realClock): Promise<HealthResult> {
  const start = clock.now();
  let status: RuntimeStatus | null = null;
  let lastProblem = 'no status yet';
  // Phase 1: ready with the expected version.
  for (;;) {
    try {
      status = await probe.read();
      lastProblem = status.ready ? (versionProblem(status, c) ?? '') : 'runtime not ready';
      if (lastProblem === '') break;
    } catch (err) {
      lastProblem = (err as Error).message;
    }
    if (clock.now() - start >= c.readyTimeoutMs) {
      return { ok: false, reason: `not ready within ${c.readyTimeoutMs} ms: ${lastProblem}` };
    }
    await clock.sleep(c.pollMs);
  }
  // Phase 2: the window.
  const windowStart = clock.now();
  let restarts = 0;
  let unreadable = 0;
  let polls = 0;
  const confidences: number[] = [];
  const latencies: number[] = [];
  let prev: RuntimeStatus = status;
  while (clock.now() - windowStart < c.windowMs) {
    await clock.sleep(c.pollMs);
    let s: RuntimeStatus;
    try {
      s = await probe.read();
    } catch (err) {
      if (++unreadable > c.maxUnreadable) return { ok: false, reason: `runtime unreachable for ${unreadable} polls: ${(err as Error).message}` };
      continue;
    }
    unreadable = 0;
    polls++;
    if (s.processStartS !== null && prev.processStartS !== null && s.processStartS !== prev.processStartS) {
      if (++restarts > c.maxRestarts) return { ok: false, reason: `runtime restarted ${restarts} times in the health window (crash loop)` };
      prev = s;
      continue;
    }
    if (!s.ready) return { ok: false, reason: 'runtime stopped being ready' };
    const vp = versionProblem(s, c);
    if (vp) return { ok: false, reason: vp };
    const stale =
      s.lastDecisionAgeMs !== null ? s.lastDecisionAgeMs > c.staleAfterMs : s.framesTotal !== null && prev.framesTotal !== null && s.framesTotal <= prev.framesTotal && c.pollMs >= c.staleAfterMs;
    if (stale) return { ok: false, reason: `decisions are stale (last ${s.lastDecisionAgeMs ?? '?'} ms ago, limit ${c.staleAfterMs} ms)` };
    if (s.confidence !== null) confidences.push(s.confidence);
    if (s.inferenceMs !== null) latencies.push(s.inferenceMs);
    prev = s;
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  if (c.minConfidence !== undefined && confidences.length > 0 && mean(confidences) < c.minConfidence) {
    return { ok: false, reason: `mean confidence ${mean(confidences).toFixed(3)} below ${c.minConfidence}` };
  }
  if (c.maxInferenceMs !== undefined && latencies.length > 0 && mean(latencies) > c.maxInferenceMs) {
    return { ok: false, reason: `mean inference ${mean(latencies).toFixed(1)} ms above ${c.maxInferenceMs} ms` };
  }
  for (const argv of c.commands) {
    const why = await checkCommandProblem(argv);
    if (why) return { ok: false, reason: `check command ${argv.join(' ')} ${why}` };
  }
  log.info(`health window passed (${polls} polls)`);
  return { ok: true, polls };
}
