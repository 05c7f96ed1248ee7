/**
 * The config types are derived from the schemas (json-schema-to-ts FromSchema) and the defaults the
 * classes fall back on are read from the schema (RUNTIME_DEFAULTS). This checks both: the types at
 * compile time (a wrong derivation fails the build), the defaults against what the loader fills in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../runtime/config/load.js';
import { RUNTIME_DEFAULTS, type RuntimeConfig } from '../../../runtime/config/schema.js';
import { DEFAULT_DECISION_CONFIG, decisionConfigFrom } from '../../../runtime/decision/index.js';
import { DEFAULT_RAMP_CONFIG } from '../../../runtime/actuators/index.js';
import type { HealthConfig, OtaConfig, SlotYaml } from '../../../ota/config.js';
import type { FleetConfig } from '../../../host-tools/fleet/config.js';
import type { AgentConfig } from '../../../telemetry/fleet/device/host.js';
import type { RolloutPlan } from '../../../host-tools/fleet/store.js';
import { validatePipelineConfig, type PipelineConfig } from '../../../host-tools/pipeline/config.js';
import { DEFAULT_GATES } from '../../../host-tools/registry/gates.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function typeIs<_ extends true>(): void {}

// Defaulted fields are present, nullable ones include null, enums are literal unions.
typeIs<Equal<RuntimeConfig['model']['delegate'], 'xnnpack' | 'cpu' | 'edgetpu'>>();
typeIs<Equal<RuntimeConfig['model']['num_threads'], number>>();
typeIs<Equal<RuntimeConfig['camera']['rpicam']['stride'], number | null>>();
typeIs<Equal<RuntimeConfig['camera']['replay']['input'], string | null>>();
typeIs<Equal<RuntimeConfig['decision']['sidewalk_exit'], number | null>>();
typeIs<Equal<RuntimeConfig['speed_source']['kind'], 'none' | 'simulated' | 'nmea' | 'replay-log'>>();
typeIs<Equal<OtaConfig['boot']['verify_slot'], 'sampled' | 'full' | 'off'>>();
typeIs<Equal<OtaConfig['boot']['slots'], { A: SlotYaml; B: SlotYaml } | null>>();
typeIs<Equal<HealthConfig['commands'], string[][]>>();
typeIs<Equal<OtaConfig['factory_provides'], { [x: string]: string }>>();
typeIs<Equal<FleetConfig['state_dir'], string | null>>();
typeIs<Equal<AgentConfig['runtime_metrics_url'], string | null>>();
typeIs<Equal<PipelineConfig['train']['name'], string | undefined>>();
typeIs<Equal<PipelineConfig['eval']['delegate'], 'xnnpack' | 'cpu' | undefined>>();
// The fleet config's policy is what the rollout store keeps.
typeIs<Equal<FleetConfig['policy'] extends RolloutPlan ? true : false, true>>();

test('RUNTIME_DEFAULTS is exactly what the loader fills into a config that sets only the model bundle', () => {
  const { model, ...loaded } = validateConfig({ model: { bundle: 'm' } });
  const { bundle: _, ...modelDefaults } = model;
  assert.deepEqual(RUNTIME_DEFAULTS, { ...loaded, model: modelDefaults });
  assert.ok(Object.isFrozen(RUNTIME_DEFAULTS) && Object.isFrozen(RUNTIME_DEFAULTS.camera.rpicam), 'shared defaults cannot be changed by a caller');
});

test('the decision and ramp defaults are the schema defaults, through the same mapping the service uses', () => {
  const loaded = validateConfig({ model: { bundle: 'm' } });
  // failSafeLimitKph null means "the sidewalk limit", which is the schema's fail_safe_kph default too.
  assert.deepEqual({ ...DEFAULT_DECISION_CONFIG, failSafeLimitKph: loaded.speed.fail_safe_kph }, decisionConfigFrom(loaded));
  assert.equal(DEFAULT_DECISION_CONFIG.sidewalkLimitKph, loaded.speed.fail_safe_kph);
  assert.deepEqual(
    { rampS: DEFAULT_RAMP_CONFIG.rampS, fullSpeedKph: DEFAULT_RAMP_CONFIG.fullSpeedKph, sidewalkLimitKph: DEFAULT_RAMP_CONFIG.sidewalkLimitKph },
    { rampS: loaded.speed.ramp_s, fullSpeedKph: loaded.speed.full_kph, sidewalkLimitKph: loaded.speed.sidewalk_kph },
  );
});

test('the promotion gates default to the pipeline config schema defaults', () => {
  assert.deepEqual(DEFAULT_GATES, validatePipelineConfig({}).gates);
});
