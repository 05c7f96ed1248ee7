/**
 * Loads and validates the runtime config. Every violation is reported as `path: message`, and
 * nothing touches hardware before the whole file is known to be valid.
 */
import { resolve, dirname } from 'node:path';
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../../lib/config-file.js';
import { runtimeConfigSchema, type RuntimeConfig } from './schema.js';

const validate = compileConfigSchema<RuntimeConfig>(runtimeConfigSchema);

/** Validates a parsed config object (defaults are filled in); throws CONFIG_INVALID listing every violation. */
export function validateConfig(raw: unknown, source = 'config'): RuntimeConfig {
  return validateConfigObject(validate, raw, source);
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
