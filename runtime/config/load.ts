/**
 * Loads and validates the runtime config. Every violation is reported as `path: message`, and
 * nothing touches hardware before the whole file is known to be valid.
 */
import { resolve, dirname } from 'node:path';
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../../lib/config-file.js';
import { SidewalkError } from '../../lib/errors.js';
import { runtimeConfigSchema, type RuntimeConfig } from './schema.js';

const validate = compileConfigSchema<RuntimeConfig>(runtimeConfigSchema);

/** Validates a parsed config object (defaults are filled in); throws CONFIG_INVALID listing every violation. */
export function validateConfig(raw: unknown, source = 'config'): RuntimeConfig {
  const config = validateConfigObject(validate, raw, source);
  const problems = crossFieldProblems(config);
  if (problems.length > 0) throw new SidewalkError('CONFIG_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`, { details: { problems } });
  return config;
}

/** Rules between fields that a JSON Schema cannot state, in the same `path: message` form. */
export function crossFieldProblems(c: RuntimeConfig): string[] {
  const problems: string[] = [];
  const { speed, decision, camera, limiter } = c;
  if (speed.sidewalk_kph >= speed.full_kph) problems.push(`speed.sidewalk_kph: ${speed.sidewalk_kph} must be below speed.full_kph (${speed.full_kph})`);
  // Safety: losing the camera or the model must never allow more than walking speed.
  if (speed.fail_safe_kph > speed.sidewalk_kph) problems.push(`speed.fail_safe_kph: ${speed.fail_safe_kph} must not exceed speed.sidewalk_kph (${speed.sidewalk_kph})`);
  if (decision.sidewalk_exit !== null && decision.sidewalk_exit > decision.sidewalk_enter) {
    problems.push(
      `decision.sidewalk_exit: ${decision.sidewalk_exit} must not exceed decision.sidewalk_enter (${decision.sidewalk_enter}); hysteresis keeps the sidewalk state, it cannot leave it sooner`,
    );
  }
  if (decision.road_exit !== null && decision.road_exit < decision.road_below) {
    problems.push(`decision.road_exit: ${decision.road_exit} must not be below decision.road_below (${decision.road_below})`);
  }
  if (camera.rpicam.restart_min_ms > camera.rpicam.restart_max_ms) {
    problems.push(`camera.rpicam.restart_min_ms: ${camera.rpicam.restart_min_ms} must not exceed camera.rpicam.restart_max_ms (${camera.rpicam.restart_max_ms})`);
  }
  for (const field of ['duty_at_zero_ns', 'duty_at_full_ns'] as const) {
    if (limiter.pwm[field] > limiter.pwm.period_ns) problems.push(`limiter.pwm.${field}: ${limiter.pwm[field]} must not exceed limiter.pwm.period_ns (${limiter.pwm.period_ns})`);
  }
  if (camera.source === 'replay' && !camera.replay.input) problems.push('camera.replay.input: required when camera.source is replay');
  if (c.mode === 'replay' && camera.source !== 'replay') problems.push(`camera.source: mode replay needs camera.source replay (is ${camera.source})`);
  return problems;
}

/** Reads a YAML config file; relative paths inside it resolve against the file's folder. */
export function loadConfigFile(path: string): RuntimeConfig {
  const config = validateConfig(readYamlFile(path), path);
  return resolvePaths(config, dirname(resolve(path)));
}

function resolvePaths(config: RuntimeConfig, base: string): RuntimeConfig {
  const abs = (p: string) => resolve(base, p);
  config.model.bundle = abs(config.model.bundle);
  if (config.camera.replay.input) config.camera.replay.input = abs(config.camera.replay.input);
  if (config.limiter.simulated.log_file) config.limiter.simulated.log_file = abs(config.limiter.simulated.log_file);
  config.recording.dir = abs(config.recording.dir);
  return config;
}
