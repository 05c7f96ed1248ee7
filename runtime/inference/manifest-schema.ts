/**
 * JSON Schema of manifest.json (sidewalk-model/1); field names are the contract in manifest-types.ts.
 * Top-level fields outside the schema are allowed (newer trainers may add some); inside `input`
 * they are not, because a misspelt preprocessing field would silently change what the model sees.
 */
import type { SchemaObject } from 'ajv';

const quantization: SchemaObject = {
  type: 'object',
  required: ['scale', 'zero_point'],
  additionalProperties: false,
  properties: {
    scale: { type: 'number', exclusiveMinimum: 0 },
    zero_point: { type: 'integer', minimum: -128, maximum: 255 },
  },
};

const fileEntry: SchemaObject = {
  type: 'object',
  required: ['sha256', 'bytes'],
  additionalProperties: false,
  properties: {
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    bytes: { type: 'integer', minimum: 0 },
  },
};

const fraction: SchemaObject = { type: 'number', minimum: 0, maximum: 1 };
const semver = '^\\d+\\.\\d+\\.\\d+(?:[-+][0-9A-Za-z.-]+)?$';
const labelList: SchemaObject = { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } };

export const MANIFEST_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['format', 'name', 'version', 'location', 'labels', 'groups', 'input', 'files'],
  properties: {
    format: { const: 'sidewalk-model/1' },
    name: { type: 'string', minLength: 1 },
    version: { type: 'string', pattern: semver },
    location: { type: 'string', minLength: 1 },
    labels: { ...labelList, minItems: 2 },
    groups: {
      type: 'object',
      required: ['sidewalk', 'road'],
      additionalProperties: false,
      properties: { sidewalk: labelList, road: labelList },
    },
    input: {
      type: 'object',
      required: ['width', 'height', 'dtype', 'color_order', 'normalization', 'crop', 'resize'],
      additionalProperties: false,
      properties: {
        width: { type: 'integer', minimum: 1, maximum: 4096 },
        height: { type: 'integer', minimum: 1, maximum: 4096 },
        dtype: { enum: ['float32', 'uint8', 'int8'] },
        color_order: { enum: ['rgb', 'bgr'] },
        normalization: {
          type: 'object',
          required: ['scale', 'offset'],
          additionalProperties: false,
          properties: { scale: { type: 'number', not: { const: 0 } }, offset: { type: 'number' } },
        },
        quantization,
        crop: {
          type: 'object',
          required: ['x', 'y', 'width', 'height'],
          additionalProperties: false,
          properties: { x: fraction, y: fraction, width: { ...fraction, exclusiveMinimum: 0 }, height: { ...fraction, exclusiveMinimum: 0 } },
        },
        pre_resize: {
          type: 'object',
          required: ['width', 'height'],
          additionalProperties: false,
          properties: { width: { type: 'integer', minimum: 1, maximum: 8192 }, height: { type: 'integer', minimum: 1, maximum: 8192 } },
        },
        resize: { enum: ['bilinear', 'area'] },
      },
    },
    output: {
      type: 'object',
      additionalProperties: false,
      properties: { quantization },
    },
    files: {
      type: 'object',
      required: ['model.tflite'],
      // Plain file names only: the bundle arrives over the air, so no paths out of its directory.
      propertyNames: { pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' },
      properties: { 'model.tflite': fileEntry },
      additionalProperties: fileEntry,
    },
    min_app_version: { type: 'string', pattern: semver },
    metrics: { type: 'object' },
    dataset_hash: { type: 'string' },
    trainer_version: { type: 'string' },
    created_at: { type: 'string' },
    demo_only: { type: 'boolean' },
  },
};
