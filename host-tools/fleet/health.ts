/**
 * Health criteria of a rollout (host-tools/fleet/README.md, "Health checks"): the devices of the
 * current step that run the new version (the cohort) against the location's devices outside the
 * step (the rest), on metrics the scooters remote-write to the fleet Prometheus; where the step leaves
 * too few devices outside it (a last step at 100 %, a small location), the devices the step added
 * against themselves in the window before the step began. Each check takes one value per device over
 * `window_s`, averages it per group and calls the cohort worse when it differs from the baseline by
 * more than the plan allows. Worse = abort. A check that cannot be
 * made (Prometheus unreachable, too few devices with data) is `unknown`: never a reason to abort,
 * but the rollout does not advance by itself until it is known (`advance --force` can).
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { errorMessage } from '../../lib/errors.js';
import { schemaDefaults } from '../../lib/schema-defaults.js';
import type { PrometheusApi } from './prometheus.js';

const threshold = { type: 'number', nullable: true, minimum: 0 } as const;

/** The plan's `health` object (null: no health checks); omitted fields take the defaults. */
export const healthPolicySchema = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  properties: {
    window_s: { type: 'number', minimum: 10, default: 900, description: 'How far back each comparison looks (keep it <= soak_s so a step is judged on its own data).' },
    min_devices: { type: 'integer', minimum: 1, default: 3, description: 'Devices with data each group needs before a check can decide.' },
    max_fail_safe_increase_per_hour: { ...threshold, default: 1, description: 'Fail-safe activations per device-hour the cohort may have above the rest (null: no check).' },
    max_inference_p95_increase_ms: { ...threshold, default: 25, description: "Milliseconds the cohort's mean per-device inference p95 may be above the rest's." },
    max_confidence_drop: { ...threshold, maximum: 1, default: 0.1, description: "How much lower (0..1) the cohort's mean winning-class probability may be." },
    max_restart_increase_per_hour: { ...threshold, default: 1, description: 'Runtime plus camera restarts per device-hour the cohort may have above the rest (restart loops).' },
  },
} as const satisfies JSONSchema;

export type HealthPolicy = NonNullable<FromSchema<typeof healthPolicySchema>> & { window_s: number; min_devices: number };

export const DEFAULT_HEALTH_POLICY = schemaDefaults(healthPolicySchema) as HealthPolicy;

interface CheckDef {
  name: string;
  limit: keyof Omit<HealthPolicy, 'window_s' | 'min_devices'>;
  unit: string;
  /** Higher is worse (rates, latency) or lower is worse (confidence). */
  worse: 'higher' | 'lower';
  /** Instant queries giving one value per `device` (a device's values are summed); `range` is `[w]` plus any offset. */
  queries(selector: string, w: number, range: (subquery?: boolean) => string): string[];
}

const perHour = (w: number) => `* 3600 / ${w}`;

/** The range of a check's window, `offsetS` seconds back (PromQL's offset goes after the range). */
function rangeOf(w: number, offsetS: number): (subquery?: boolean) => string {
  return (subquery = false) => `[${w}s${subquery ? ':' : ''}]${offsetS > 0 ? ` offset ${offsetS}s` : ''}`;
}

export const HEALTH_CHECKS: readonly CheckDef[] = [
  {
    name: 'fail-safe activations',
    limit: 'max_fail_safe_increase_per_hour',
    unit: '/h',
    worse: 'higher',
    queries: (sel, w, range) => [`sum by (device) (increase(sidewalk_fail_safe_activations_total{${sel}}${range()})) ${perHour(w)}`],
  },
  {
    name: 'inference p95',
    limit: 'max_inference_p95_increase_ms',
    unit: ' ms',
    worse: 'higher',
    queries: (sel, _w, range) => [`histogram_quantile(0.95, sum by (device, le) (rate(sidewalk_inference_duration_seconds_bucket{${sel}}${range()}))) * 1000`],
  },
  {
    name: 'mean confidence',
    limit: 'max_confidence_drop',
    unit: '',
    worse: 'lower',
    queries: (sel, _w, range) => [`avg_over_time((max by (device) (sidewalk_class_confidence_ratio{${sel}}))${range(true)})`],
  },
  {
    name: 'restarts',
    limit: 'max_restart_increase_per_hour',
    unit: '/h',
    worse: 'higher',
    queries: (sel, w, range) => [
      // A new process_start_time_seconds value = the runtime process restarted.
      `sum by (device) (changes(process_start_time_seconds{job="sidewalk-runtime",${sel}}${range()})) ${perHour(w)}`,
      `sum by (device) (increase(sidewalk_camera_restarts_total{${sel}}${range()})) ${perHour(w)}`,
    ],
  },
];

export interface GroupStat {
  devices: number;
  mean: number;
}

export interface CheckResult {
  check: string;
  state: 'ok' | 'worse' | 'unknown';
  cohort: GroupStat | null;
  rest: GroupStat | null;
  detail: string;
}

export type HealthVerdict = { state: 'ok' | 'degraded' | 'unknown'; reason: string; checks: CheckResult[] };

export interface HealthGroups {
  /** Devices of the current step that run the new version. */
  cohort: ReadonlySet<string>;
  /** Devices of the location outside the current step. */
  rest: ReadonlySet<string>;
}

/** The step's own devices against themselves before the step began (no rest to compare with). */
export interface BeforeStepGroups {
  /** Devices the current step added that run the new version. */
  cohort: ReadonlySet<string>;
  /** Seconds since the step began: the baseline window ends there. */
  stepAgeS: number;
}

function stat(values: ReadonlyMap<string, number>, group: ReadonlySet<string>): GroupStat {
  let sum = 0;
  let n = 0;
  for (const [device, v] of values) {
    if (!group.has(device)) continue;
    sum += v;
    n++;
  }
  return { devices: n, mean: n === 0 ? 0 : sum / n };
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(3));

/** One check from per-device values (pure): the cohort against the rest of the location. */
export function compareCheck(def: CheckDef, limit: number, minDevices: number, values: ReadonlyMap<string, number>, groups: HealthGroups): CheckResult {
  return judge(def, limit, minDevices, stat(values, groups.cohort), stat(values, groups.rest), 'rest');
}

/** One check (pure): the cohort now against the same devices in the window before the step began. */
export function compareBeforeStep(def: CheckDef, limit: number, minDevices: number, now: ReadonlyMap<string, number>, before: ReadonlyMap<string, number>, cohort: ReadonlySet<string>): CheckResult {
  return judge(def, limit, minDevices, stat(now, cohort), stat(before, cohort), 'before');
}

/** `rest` in the result is the baseline: the rest of the location, or the cohort before the step. */
function judge(def: CheckDef, limit: number, minDevices: number, cohort: GroupStat, baseline: GroupStat, against: 'rest' | 'before'): CheckResult {
  const base = { check: def.name, cohort, rest: baseline };
  if (cohort.devices < minDevices || baseline.devices < minDevices) {
    const who = against === 'rest' ? `${baseline.devices} other devices` : `${baseline.devices} of them before the step`;
    return { ...base, state: 'unknown', detail: `${def.name}: data from ${cohort.devices} cohort and ${who}, ${minDevices} of each needed` };
  }
  const by = def.worse === 'higher' ? cohort.mean - baseline.mean : baseline.mean - cohort.mean;
  const where = against === 'rest' ? `in the rest (${baseline.devices})` : `in the same devices before the step (${baseline.devices})`;
  const said = `${def.name} ${fmt(cohort.mean)}${def.unit} in the cohort (${cohort.devices} devices) vs ${fmt(baseline.mean)}${def.unit} ${where}`;
  if (by > limit) return { ...base, state: 'worse', detail: `${said}: ${def.worse === 'higher' ? 'over' : 'under'} by more than ${fmt(limit)}${def.unit}` };
  return { ...base, state: 'ok', detail: said };
}

/** The verdict from the checks: any worse = degraded; else any unknown = unknown; else ok. */
export function verdictOf(checks: CheckResult[]): HealthVerdict {
  const worse = checks.filter((c) => c.state === 'worse');
  if (worse.length > 0) return { state: 'degraded', reason: `health: ${worse.map((c) => c.detail).join('; ')}`, checks };
  const unknown = checks.filter((c) => c.state === 'unknown');
  if (unknown.length > 0) return { state: 'unknown', reason: `health unknown: ${unknown.map((c) => c.detail).join('; ')}`, checks };
  return { state: 'ok', reason: `health ok: ${checks.map((c) => c.detail).join('; ')}`, checks };
}

/** Runs the enabled checks for one location against the fleet Prometheus. */
export async function evaluateHealth(api: PrometheusApi, policy: HealthPolicy, location: string, groups: HealthGroups | BeforeStepGroups): Promise<HealthVerdict> {
  const enabled = HEALTH_CHECKS.filter((d) => policy[d.limit] !== null);
  if (enabled.length === 0) return { state: 'ok', reason: 'health: every check is switched off', checks: [] };
  const selector = `location=${JSON.stringify(location)}`;
  const w = Math.round(policy.window_s);
  const perDevice = async (def: CheckDef, offsetS: number): Promise<Map<string, number>> => {
    const values = new Map<string, number>();
    for (const q of def.queries(selector, w, rangeOf(w, offsetS))) {
      for (const s of await api.instant(q)) {
        const device = s.labels.device;
        if (device) values.set(device, (values.get(device) ?? 0) + s.value);
      }
    }
    return values;
  };
  const checks: CheckResult[] = [];
  for (const def of enabled) {
    const limit = policy[def.limit]!;
    try {
      if ('rest' in groups) checks.push(compareCheck(def, limit, policy.min_devices, await perDevice(def, 0), groups));
      else checks.push(compareBeforeStep(def, limit, policy.min_devices, await perDevice(def, 0), await perDevice(def, Math.max(1, Math.round(groups.stepAgeS))), groups.cohort));
    } catch (err) {
      // No data is not bad data: an unreachable Prometheus never aborts a rollout.
      return { state: 'unknown', reason: `health unknown: ${errorMessage(err)}`, checks };
    }
  }
  return verdictOf(checks);
}
