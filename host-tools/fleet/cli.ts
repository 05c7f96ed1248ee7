/**
 * `sidewalk fleet devices|deploy|status|advance|pause|resume|abort|rollback|watch`: staged rollouts of
 * artifacts to the fleet over MQTT, with rollout state in fleet.db beside the model registry.
 */
import { tmpdir } from 'node:os';
import { type Command, Option } from 'commander';
import { readYamlFile, compileConfigSchema, validateConfigObject } from '../../lib/config-file.js';
import { SidewalkError, errorMessage } from '../../lib/errors.js';
import { mosquittoAcl } from '../../telemetry/fleet/acl.js';
import { serveMetrics } from '../../telemetry/runtime-metrics.js';
import { FleetController, type RolloutStatus } from './controller.js';
import { DEFAULT_FLEET_CONFIG, fleetDbPath, loadFleetConfig, registryDir, type FleetConfig } from './config.js';
import { artifactForModel } from './model-artifact.js';
import { healthPolicySchema, type HealthVerdict } from './health.js';
import { FleetToolMetrics } from './metrics.js';
import { countStep } from './policy.js';
import { PrometheusClient } from './prometheus.js';
import { publishArtifact } from './publish.js';
import type { RolloutPlan } from './store.js';

interface Common {
  config: string;
}

const configOption = () => new Option('-c, --config <file>', 'fleet tool config (YAML; default $SIDEWALK_FLEET_CONFIG or ./fleet.yaml)').default(DEFAULT_FLEET_CONFIG);

async function withController<T>(o: Common, fn: (c: FleetController, config: FleetConfig) => Promise<T>, options: { persistent?: boolean } = {}): Promise<T> {
  const config = loadFleetConfig(o.config);
  const prometheus = config.prometheus ? new PrometheusClient(config.prometheus.url, { timeoutMs: config.prometheus.timeout_s * 1000 }) : null;
  const c = await FleetController.open({ broker: { ...config.broker }, dbPath: fleetDbPath(config), prometheus, ...(options.persistent ? { persistent: true } : {}) });
  try {
    return await fn(c, config);
  } finally {
    await c.close();
  }
}

const inventorySchema = compileConfigSchema<{ id: string; location: string }[]>({
  type: 'array',
  items: { type: 'object', additionalProperties: false, required: ['id', 'location'], properties: { id: { type: 'string' }, location: { type: 'string' } } },
});

const planFileSchema = compileConfigSchema<Partial<RolloutPlan>>({
  type: 'object',
  additionalProperties: false,
  properties: {
    steps: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 100 }, minItems: 1 },
    min_finished: { type: 'integer', minimum: 0 },
    soak_s: { type: 'number', minimum: 0 },
    max_failure_percent: { type: 'number', minimum: 0, maximum: 100 },
    min_devices_before_decision: { type: 'integer', minimum: 1 },
    in_progress_timeout_s: { type: 'number', minimum: 1 },
    auto_advance: { type: 'boolean' },
    health: healthPolicySchema,
  },
});

function planFor(config: FleetConfig, o: { plan?: string; percent?: string }): RolloutPlan {
  if (o.plan && o.percent) throw new SidewalkError('FLEET_PLAN_INVALID', 'give --percent or --plan, not both');
  const fromFile = o.plan ? validateConfigObject(planFileSchema, readYamlFile(o.plan, 'FLEET_PLAN_UNREADABLE', 'FLEET_PLAN_INVALID'), o.plan, 'FLEET_PLAN_INVALID') : {};
  const plan: RolloutPlan = { ...config.policy, ...fromFile };
  if (plan.health && !config.prometheus) {
    process.stderr.write('note: no prometheus.url in the fleet config, so this rollout has no health checks (failure rates only)\n');
    plan.health = null;
  }
  if (o.percent !== undefined) {
    const p = Number(o.percent);
    if (!Number.isInteger(p) || p < 1 || p > 100) throw new SidewalkError('FLEET_PLAN_INVALID', `--percent ${o.percent}: an integer 1..100`);
    plan.steps = [p];
  }
  return plan;
}

function statusJson(s: RolloutStatus): Record<string, unknown> {
  const r = s.rollout;
  return {
    id: r.id,
    location: r.location,
    state: r.state,
    reason: r.reason,
    artifact: r.artifact,
    plan: r.plan,
    step: r.step + 1,
    percent: r.plan.steps[r.step],
    step_started_ms: r.stepStartedMs,
    decision: s.decision,
    counts: s.counts,
    devices: s.outcomes,
  };
}

function statusText(s: RolloutStatus, c: FleetController): string {
  const r = s.rollout;
  const lines = [`${r.id}: ${r.artifact.kind} ${r.artifact.version} to ${r.location}, ${r.state}${r.reason ? ` (${r.reason})` : ''}`];
  const devices = c.store.devices(r.location);
  for (let i = 0; i <= r.step; i++) {
    const k = countStep({ ...r, step: i }, devices, Date.now());
    lines.push(
      `  step ${i + 1} (${k.percent}%): targeted ${k.targeted}, succeeded ${k.succeeded}, failed ${k.failed}, rejected ${k.rejected}, in progress ${k.in_progress}, timed out ${k.timed_out}, pending ${k.pending}`,
    );
  }
  lines.push(`  next: ${s.decision.action}${'reason' in s.decision ? ` (${s.decision.reason})` : ''}`);
  return `${lines.join('\n')}\n`;
}

function rolloutCommand(fleet: Command, name: string, description: string, act: (c: FleetController, id: string, o: Record<string, unknown>) => Promise<{ id: string; state: string }>): Command {
  return fleet
    .command(name)
    .description(description)
    .argument('<rollout>', 'rollout id (see sidewalk fleet status)')
    .addOption(configOption())
    .action(async (id: string, o: Common & Record<string, unknown>) => {
      await withController(o, async (c) => {
        const r = await act(c, id, o);
        process.stdout.write(`${r.id}: ${r.state}\n`);
      });
    });
}

export function registerFleetCommands(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('The fleet over MQTT: devices and their versions, staged rollouts by location (cohort percentages, soak times, abort on failure rates), rollback.');

  fleet
    .command('devices')
    .description('Every device seen on the broker: online or offline, versions, location, cohort, OTA state, last seen.')
    .addOption(configOption())
    .option('--location <name>', 'only this location')
    .option('--json', 'machine-readable output')
    .action(async (o: Common & { location?: string; json?: boolean }) => {
      await withController(o, async (c) => {
        const list = c.store.devices(o.location).map((d) => ({
          id: d.id,
          online: d.online,
          location: d.location,
          cohort: d.cohort,
          versions: d.reported?.versions ?? null,
          ota: d.reported?.ota.state ?? null,
          rollout: d.reported?.rollout ?? null,
          last_seen: d.lastSeenMs ? new Date(d.lastSeenMs).toISOString() : null,
        }));
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        const rows = [
          ['DEVICE', 'STATE', 'LOCATION', 'OS', 'MODEL', 'APP', 'OTA', 'LAST SEEN'],
          ...list.map((d) => [d.id, d.online ? 'online' : 'offline', d.location ?? '-', d.versions?.os ?? '-', d.versions?.model ?? '-', d.versions?.app ?? '-', d.ota ?? '-', d.last_seen ?? '-']),
        ];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        process.stdout.write(
          list.length
            ? `${rows
                .map((r) =>
                  r
                    .map((x, i) => x.padEnd(widths[i]!))
                    .join('  ')
                    .trimEnd(),
                )
                .join('\n')}\n`
            : 'no devices seen yet\n',
        );
      });
    });

  fleet
    .command('deploy')
    .description('Publish an artifact to the static host and start a staged rollout to a location (desired state: URL, size, sha256).')
    .argument('[artifact]', '.mender file (signed; devices refuse unsigned ones)')
    .option('--model <ref>', 'instead of a file: a registry model (LA@production, LA@canary, LA@1.2.0), built and signed through build/')
    .requiredOption('--location <name>', 'the location to roll out to')
    .option('--percent <p>', 'one step: this share of the location (cohorts 0..p-1)')
    .option('--plan <file>', 'rollout plan (YAML: steps, min_finished, soak_s, max_failure_percent, min_devices_before_decision, in_progress_timeout_s, auto_advance, health)')
    .option('--allow-unsigned', 'publish an unsigned artifact anyway (to test that devices refuse it)')
    .option('--json', 'print the rollout as JSON')
    .addOption(configOption())
    .action(async (given: string | undefined, o: Common & { location: string; model?: string; percent?: string; plan?: string; allowUnsigned?: boolean; json?: boolean }) => {
      const config = loadFleetConfig(o.config);
      const plan = planFor(config, o);
      if ((given === undefined) === (o.model === undefined)) throw new SidewalkError('FLEET_INVALID_OPTION', 'give an artifact file or --model, one of the two');
      const built = o.model
        ? await artifactForModel(o.model, { registryDir: registryDir(config), signingKey: config.build.signing_key, deviceTypes: config.build.device_types, workDir: tmpdir() })
        : null;
      if (built && built.location !== o.location) process.stderr.write(`note: a model of ${built.location} deployed to ${o.location}\n`);
      const artifact = await publishArtifact(built?.file ?? given!, config.artifacts.publish_dir, config.artifacts.base_url, { allowUnsigned: o.allowUnsigned ?? false }).finally(() =>
        built?.cleanup(),
      );
      await withController(o, async (c) => {
        const r = await c.deploy({ location: o.location, artifact, plan });
        process.stdout.write(
          o.json ? `${JSON.stringify(statusJson(c.status(r.id)), null, 2)}\n` : `${r.id}: ${artifact.kind} ${artifact.version} to ${plan.steps[0]}% of ${o.location} (${artifact.url})\n`,
        );
      });
    });

  fleet
    .command('status')
    .description('Rollouts with, per step, how many devices are targeted, succeeded, failed, rejected, in progress and timed out, and what the policy would do next.')
    .argument('[rollout]', 'one rollout (default: all)')
    .addOption(configOption())
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, o: Common & { json?: boolean }) => {
      await withController(o, async (c) => {
        const all = id ? [c.status(id)] : c.store.rollouts().map((r) => c.status(r.id));
        // Health only for rollouts still running: a finished one has nothing left to decide.
        const health = new Map<string, HealthVerdict | null>();
        for (const s of all) if (s.rollout.state === 'active' || s.rollout.state === 'paused') health.set(s.rollout.id, await c.health(s.rollout.id));
        const json = (s: RolloutStatus) => ({ ...statusJson(s), health: health.get(s.rollout.id) ?? null });
        const text = (s: RolloutStatus) => {
          const h = health.get(s.rollout.id);
          return `${statusText(s, c)}${h ? `  ${h.reason}\n` : ''}`;
        };
        if (o.json) process.stdout.write(`${JSON.stringify(id ? json(all[0]!) : all.map(json), null, 2)}\n`);
        else process.stdout.write(all.length ? all.map(text).join('') : 'no rollouts\n');
      });
    });

  rolloutCommand(fleet, 'advance', "Move a rollout to its next step (needs the step's finished devices and soak time, unless --force).", (c, id, o) =>
    c.advance(id, { force: o.force === true }),
  ).option('--force', 'advance before the step is done (never past a failing one)');
  rolloutCommand(fleet, 'pause', 'Stop advancing a rollout (devices already targeted keep their desired state).', (c, id) => c.pause(id));
  rolloutCommand(fleet, 'resume', 'Let a paused rollout advance again.', (c, id) => c.resume(id));
  rolloutCommand(fleet, 'abort', 'Stop a rollout and send its cohort back to the previous version.', (c, id, o) => c.abort(id, typeof o.reason === 'string' ? o.reason : undefined)).option(
    '--reason <text>',
    'why (kept with the rollout)',
  );
  rolloutCommand(fleet, 'rollback', 'Send every device of a (completed) rollout back to its previous version.', (c, id) => c.rollback(id));

  fleet
    .command('acl')
    .description("Print the Mosquitto ACL for an inventory (YAML list of {id, location}): each device writes only its own topics and reads its own and its location's desired state.")
    .argument('<inventory>', 'YAML file: [{id: sc-0042, location: LA}, ...]')
    .action((file: string) => {
      const list = validateConfigObject(inventorySchema, readYamlFile(file, 'FLEET_INVENTORY_UNREADABLE', 'FLEET_INVENTORY_INVALID'), file, 'FLEET_INVENTORY_INVALID');
      process.stdout.write(mosquittoAcl(list));
    });

  fleet
    .command('watch')
    .description(
      'Keep a persistent broker session, store every device message and apply the policy every few seconds (abort on thresholds or health, auto-advance, complete); serves the rollout metrics on metrics.host:metrics.port (127.0.0.1:9464).',
    )
    .addOption(configOption())
    .option('--interval <s>', 'seconds between policy passes', '5')
    .action(async (o: Common & { interval: string }) => {
      const interval = Number(o.interval);
      if (!(interval > 0)) throw new SidewalkError('FLEET_INVALID_OPTION', `--interval ${o.interval}: a number of seconds > 0`);
      const config = loadFleetConfig(o.config);
      const metrics = new FleetToolMetrics();
      // Listen before connecting: a second watch on the same port fails here, before its session takes over the broker's.
      const { host, port } = config.metrics;
      const server =
        port === null
          ? null
          : await serveMetrics(metrics.metrics.registry, { host, port }).catch((err: unknown) => {
              throw new SidewalkError('FLEET_METRICS_LISTEN', `${host}:${port}: cannot serve the fleet metrics (${errorMessage(err)}); set metrics.port in ${o.config} (null = off)`);
            });
      try {
        await withController(
          o,
          async (c) => {
            metrics.refresh(c.store, Date.now());
            if (server) process.stdout.write(`serving rollout metrics on ${server.url}\n`);
            let stop = false;
            let wake: (() => void) | null = null;
            const end = () => {
              stop = true;
              wake?.();
            };
            process.once('SIGINT', end);
            process.once('SIGTERM', end);
            while (!stop) {
              for (const line of await c.tick()) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
              metrics.refresh(c.store, Date.now());
              await new Promise<void>((r) => {
                wake = r;
                setTimeout(r, interval * 1000).unref();
              });
            }
          },
          { persistent: true },
        );
      } finally {
        await server?.close();
      }
    });
}
