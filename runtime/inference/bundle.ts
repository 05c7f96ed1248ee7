/**
 * Loads and verifies a model bundle directory (manifest.json + model.tflite [+ model_edgetpu.tflite])
 * before any interpreter sees it: schema, label/group consistency, sha256 and size of every listed
 * file, min_app_version, the model's min_runtime_version, and the model's real input/output
 * tensors against the manifest (so a manifest that lies about quantisation is refused).
 * The verified bytes are returned, so the interpreter runs exactly what was checked.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { SidewalkError } from '../../lib/errors.js';
import { lazyValidator } from '../../lib/config-file.js';
import { appVersion as thisAppVersion } from '../../lib/app-version.js';
import { meetsMinimum } from '../../lib/versions.js';
import { InferenceErrorCode } from './errors.js';
import { MANIFEST_SCHEMA } from './manifest-schema.js';
import type { ModelManifest } from './manifest-types.js';
import { assertRuntimeSupports, readTfliteModelInfo, type TfliteModelInfo, type TfliteTensorInfo } from './tflite-version.js';

export const MODEL_FILE = 'model.tflite';
export const EDGETPU_MODEL_FILE = 'model_edgetpu.tflite';
export const MANIFEST_FILE = 'manifest.json';

export interface ModelBundle {
  dir: string;
  manifest: ModelManifest;
  /** Verified contents of model.tflite. */
  model: Uint8Array;
  modelInfo: TfliteModelInfo;
  /** Verified contents of model_edgetpu.tflite, when the bundle has one. */
  edgetpuModel?: Uint8Array;
}

export interface LoadBundleOptions {
  /** This app's version, compared with min_app_version (default: package.json's version). */
  appVersion?: string;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validateSchema = lazyValidator(() => ajv.compile<ModelManifest>(MANIFEST_SCHEMA));

export async function loadModelBundle(dir: string, options: LoadBundleOptions = {}): Promise<ModelBundle> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = parseManifest(await readBundleFile(manifestPath), manifestPath);

  const appVersion = options.appVersion ?? thisAppVersion();
  if (manifest.min_app_version !== undefined && !meetsMinimum(appVersion, manifest.min_app_version)) {
    throw new SidewalkError(InferenceErrorCode.MODEL_APP_TOO_OLD, `${manifestPath}: min_app_version ${manifest.min_app_version} is newer than this app (${appVersion})`, {
      details: { required: manifest.min_app_version, app: appVersion },
    });
  }

  const contents = new Map<string, Uint8Array>();
  for (const [name, expected] of Object.entries(manifest.files)) {
    const path = join(dir, name);
    const bytes = await readBundleFile(path);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected.sha256 || bytes.length !== expected.bytes) {
      throw new SidewalkError(
        InferenceErrorCode.MODEL_SHA_MISMATCH,
        `${path}: sha256 ${actual} (${bytes.length} bytes) does not match manifest.json files["${name}"]: ` + `sha256 ${expected.sha256} (${expected.bytes} bytes)`,
        { details: { file: path, expected: expected.sha256, actual, expectedBytes: expected.bytes, actualBytes: bytes.length } },
      );
    }
    contents.set(name, bytes);
  }

  const model = contents.get(MODEL_FILE)!;
  const modelPath = join(dir, MODEL_FILE);
  const modelInfo = readTfliteModelInfo(model, modelPath);
  assertRuntimeSupports(modelInfo, modelPath);
  checkTensorsMatchManifest(modelInfo, manifest, modelPath);

  const edgetpuModel = contents.get(EDGETPU_MODEL_FILE);
  if (edgetpuModel !== undefined) {
    const edgetpuPath = join(dir, EDGETPU_MODEL_FILE);
    assertRuntimeSupports(readTfliteModelInfo(edgetpuModel, edgetpuPath), edgetpuPath);
  }
  return { dir, manifest, model, modelInfo, ...(edgetpuModel === undefined ? {} : { edgetpuModel }) };
}

/** Parses and validates manifest.json text; every violation is one `manifest.json: path: message` line. */
export function parseManifest(bytes: Uint8Array, file = MANIFEST_FILE): ModelManifest {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new SidewalkError(InferenceErrorCode.MODEL_MANIFEST_INVALID, `${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const problems = validateSchema(data) ? consistencyProblems(data) : (validateSchema.errors ?? []).map(describeAjvError);
  if (problems.length > 0) {
    throw new SidewalkError(InferenceErrorCode.MODEL_MANIFEST_INVALID, `${file}: ${problems.length} problem(s):\n${problems.map((p) => `  manifest.json: ${p}`).join('\n')}`, {
      details: { file, problems },
    });
  }
  return data as ModelManifest;
}

function describeAjvError(error: ErrorObject): string {
  const path = error.instancePath === '' ? '(root)' : error.instancePath.slice(1).replaceAll('/', '.');
  const extra =
    error.keyword === 'additionalProperties'
      ? ` '${String(error.params.additionalProperty)}'`
      : error.keyword === 'enum'
        ? ` (${(error.params.allowedValues as unknown[]).join(', ')})`
        : error.keyword === 'const'
          ? ` '${String(error.params.allowedValue)}'`
          : '';
  return `${path}: ${error.message ?? error.keyword}${extra}`;
}

/** Rules JSON Schema cannot express; same `path: message` form. */
function consistencyProblems(m: ModelManifest): string[] {
  const problems: string[] = [];
  for (const group of ['sidewalk', 'road'] as const) {
    m.groups[group].forEach((name, i) => {
      if (!m.labels.includes(name)) problems.push(`groups.${group}.${i}: '${name}' is not one of labels (${m.labels.join(', ')})`);
      if (group === 'road' && m.groups.sidewalk.includes(name)) problems.push(`groups.road.${i}: '${name}' is also in groups.sidewalk`);
    });
  }
  const { crop } = m.input;
  if (crop.x + crop.width > 1 + 1e-9) problems.push(`input.crop: x + width = ${crop.x + crop.width} exceeds 1`);
  if (crop.y + crop.height > 1 + 1e-9) problems.push(`input.crop: y + height = ${crop.y + crop.height} exceeds 1`);
  const quantised = m.input.dtype !== 'float32';
  if (quantised && m.input.quantization === undefined) problems.push(`input.quantization: required for dtype ${m.input.dtype}`);
  if (!quantised && m.input.quantization !== undefined) problems.push('input.quantization: not allowed for dtype float32');
  if (m.input.quantization !== undefined) {
    const [lo, hi] = m.input.dtype === 'int8' ? [-128, 127] : [0, 255];
    const zp = m.input.quantization.zero_point;
    if (zp < lo || zp > hi) problems.push(`input.quantization.zero_point: ${zp} is outside ${m.input.dtype} range ${lo}..${hi}`);
  }
  return problems;
}

/** The flatbuffer's own input/output tensors must be what the manifest promises. */
function checkTensorsMatchManifest(info: TfliteModelInfo, m: ModelManifest, file: string): void {
  const problems: string[] = [];
  const input = info.inputs[0];
  const output = info.outputs[0];
  if (info.inputs.length !== 1 || input === undefined) problems.push(`has ${info.inputs.length} inputs, expected 1`);
  else {
    const want = [1, m.input.height, m.input.width, 3];
    if (input.shape.join(',') !== want.join(',')) problems.push(`input shape [${input.shape}] but manifest.json input is [${want}] (NHWC)`);
    if (input.type !== m.input.dtype) problems.push(`input type ${input.type} but manifest.json input.dtype is ${m.input.dtype}`);
    quantMismatch(input, m.input.quantization, 'input.quantization', problems);
  }
  if (info.outputs.length !== 1 || output === undefined) problems.push(`has ${info.outputs.length} outputs, expected 1`);
  else {
    if (output.shape.join(',') !== `1,${m.labels.length}`) problems.push(`output shape [${output.shape}] but manifest.json has ${m.labels.length} labels`);
    if (output.type !== 'float32') {
      if (output.type !== 'int8' && output.type !== 'uint8') problems.push(`output type ${output.type} is not float32, int8 or uint8`);
      quantMismatch(output, m.output?.quantization, 'output.quantization', problems);
    }
  }
  if (problems.length > 0) {
    throw new SidewalkError(InferenceErrorCode.MODEL_INPUT_MISMATCH, `${file}: model tensors disagree with manifest.json: ${problems.join('; ')}`, { details: { file, problems } });
  }
}

function quantMismatch(tensor: TfliteTensorInfo, declared: { scale: number; zero_point: number } | undefined, field: string, problems: string[]): void {
  const actual = tensor.quantization;
  if (tensor.type === 'float32') return;
  if (declared === undefined) {
    problems.push(`${tensor.type} tensor but manifest.json has no ${field}`);
  } else if (actual !== undefined && (Math.abs(actual.scale - declared.scale) > 1e-6 * actual.scale || actual.zeroPoint !== declared.zero_point)) {
    problems.push(`${field} is scale ${declared.scale} zero_point ${declared.zero_point} but the model has scale ${actual.scale} zero_point ${actual.zeroPoint}`);
  }
}

async function readBundleFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SidewalkError(InferenceErrorCode.MODEL_FILE_MISSING, `${path}: missing from the model bundle`, { cause: err, details: { file: path } });
    throw new SidewalkError(InferenceErrorCode.MODEL_FILE_MISSING, `${path}: cannot read (${code ?? String(err)})`, { cause: err, details: { file: path } });
  }
}
