/**
 * Pipeline settings (`--config pipeline.yaml`): how to export, train, evaluate, gate and package.
 * Validated with Ajv against one schema that also fills the defaults; every violation is reported as
 * `path: message`. The defaults are deliberately small (tiny CNN, no pretrained weights, 64 px) so a
 * run works anywhere; production settings live in a file (host-tools/pipeline/pipeline.example.yaml).
 */
import { dirname, resolve } from 'node:path';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { compileConfigSchema, readYamlFile, validateConfigObject } from '../../lib/config-file.js';
import { SidewalkError } from '../../lib/errors.js';
import { isWholeFrame, parseCrop } from '../data/export.js';

const rate = { type: 'number', minimum: 0, maximum: 1 } as const;

export const PIPELINE_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    export: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        width: { type: 'integer', minimum: 16, maximum: 4096, default: 160, description: 'Frames are exported at this size; the trainer and the device crop (train.crop) and resize from it.' },
        height: { type: 'integer', minimum: 16, maximum: 4096, default: 120 },
        crop: {
          type: 'string',
          pattern: '^\\s*[0-9.]+\\s*(,\\s*[0-9.]+\\s*){3}$',
          default: '0,0,1,1',
          description: '"x,y,width,height": crop applied at export instead of by the trainer (default whole frames).',
        },
        includeFlagged: { type: 'boolean', default: false },
        splitSeed: { type: 'integer', minimum: 0, default: 1, description: 'Seed for assigning new rides to train/val (the frozen test split never changes).' },
      },
    },
    train: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        arch: { enum: ['tiny', 'mobilenetv2'], default: 'tiny' },
        weights: { enum: ['none', 'imagenet'], default: 'none' },
        inputSize: { type: 'integer', minimum: 16, maximum: 512, default: 64 },
        alpha: { type: 'number', exclusiveMinimum: 0, default: 1 },
        epochs: { type: 'integer', minimum: 1, default: 10 },
        fineTuneEpochs: { type: 'integer', minimum: 0, default: 0 },
        fineTuneFrom: { type: 'integer', minimum: 0, default: 100 },
        batchSize: { type: 'integer', minimum: 1, default: 32 },
        patience: { type: 'integer', minimum: 1, default: 3 },
        seed: { type: 'integer', minimum: 0, default: 42 },
        colorOrder: { enum: ['rgb', 'bgr'], default: 'rgb' },
        crop: { type: 'string', pattern: '^\\s*[0-9.]+\\s*(,\\s*[0-9.]+\\s*){3}$', default: '0,0,1,1', description: '"x,y,width,height" fractions of the camera frame.' },
        variant: { enum: ['float32', 'int8'], default: 'float32', description: 'The TFLite export that is evaluated, registered and packaged.' },
        name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', description: 'Model name in the manifest; default sidewalk-<location in lower case>.' },
      },
    },
    eval: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { delegate: { enum: ['xnnpack', 'cpu'] } },
    },
    gates: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        accuracyTolerance: { ...rate, default: 0.01 },
        sidewalkRecallMin: { ...rate, default: 0.9 },
        roadFalseLimitMax: { ...rate, default: 0.1 },
      },
    },
    package: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        key: { type: 'string', minLength: 1, description: 'Private signing key (PEM); without it no artifact is made.' },
        deviceTypes: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' }, minItems: 1, default: ['raspberrypi4', 'raspberrypi5'] },
      },
    },
  },
} as const satisfies JSONSchema;

/** Pipeline settings with every default filled in (the type is derived from the schema, as the runtime's: runtime/config/schema.ts). */
export type PipelineConfig = FromSchema<typeof PIPELINE_CONFIG_SCHEMA>;

const validate = compileConfigSchema<PipelineConfig>(PIPELINE_CONFIG_SCHEMA);

/** Validates a parsed config (defaults filled in); PIPELINE_CONFIG_INVALID lists every violation. */
export function validatePipelineConfig(raw: unknown, source = 'pipeline config'): PipelineConfig {
  const config = validateConfigObject(validate, raw, source, 'PIPELINE_CONFIG_INVALID');
  const problems: string[] = [];
  const crops = (['export', 'train'] as const).map((step) => {
    try {
      return parseCrop(config[step].crop, `${step}.crop`);
    } catch (err) {
      problems.push((err as Error).message);
      return null;
    }
  });
  if (crops.every((c) => c !== null && !isWholeFrame(c))) {
    problems.push('export.crop and train.crop are both set: a crop is applied once, at export or by the trainer (set the other to "0,0,1,1")');
  }
  if (problems.length > 0) throw new SidewalkError('PIPELINE_CONFIG_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`, { details: { problems } });
  return config;
}

/** Reads a YAML (or JSON) config file; package.key resolves against the file's folder. No file: defaults. */
export function loadPipelineConfig(file?: string): PipelineConfig {
  if (!file) return validatePipelineConfig({});
  const config = validatePipelineConfig(readYamlFile(file, 'PIPELINE_CONFIG_UNREADABLE', 'PIPELINE_CONFIG_INVALID'), file);
  if (config.package.key) config.package.key = resolve(dirname(resolve(file)), config.package.key);
  return config;
}
