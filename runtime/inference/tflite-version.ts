/**
 * Reads what the loader needs from a .tflite flatbuffer without any dependency: the schema
 * version, operator codes (builtin code + version), the `min_runtime_version` metadata written by
 * the converter, and the main subgraph's input/output tensors (shape, type, quantisation).
 * The bundled TFLite runtime (tfjs-tflite-node 0.0.2) is 2.9.0; models that need a newer one are
 * refused here, before an interpreter is created (runtime.md §6).
 *
 * Flatbuffer layout (flatbuffers.dev/internals): a table starts with an int32 offset back to its
 * vtable; the vtable holds uint16 byte offsets of each field (0 = absent, default value);
 * tables, vectors and strings are referenced by uint32 offsets relative to where the offset is stored.
 */
import { SidewalkError } from '../../lib/errors.js';
import { compareVersions } from '../../lib/versions.js';
import { InferenceErrorCode } from './errors.js';
import { BUILTIN_OPERATOR_NAMES } from './tflite-builtin-ops.js';

export const BUNDLED_TFLITE_RUNTIME_VERSION = '2.9.0';

/** schema.fbs TensorType values the device can meet, by code. */
const TENSOR_TYPES: Record<number, string> = {
  0: 'float32',
  1: 'float16',
  2: 'int32',
  3: 'uint8',
  4: 'int64',
  5: 'string',
  6: 'bool',
  7: 'int16',
  8: 'complex64',
  9: 'int8',
  10: 'float64',
  16: 'uint32',
  17: 'int4',
};

export interface TfliteOperatorCode {
  builtinCode: number;
  /** BuiltinOperator name, or `CUSTOM:<custom_code>` for custom ops (e.g. edgetpu-custom-op). */
  name: string;
  version: number;
}

export interface TfliteTensorInfo {
  name: string;
  shape: number[];
  type: string;
  /** Per-tensor quantisation (first channel's parameters), when present. */
  quantization?: { scale: number; zeroPoint: number };
}

export interface TfliteModelInfo {
  schemaVersion: number;
  /** From the `min_runtime_version` metadata; undefined for very old converters that did not write it. */
  minRuntimeVersion: string | undefined;
  operators: TfliteOperatorCode[];
  inputs: TfliteTensorInfo[];
  outputs: TfliteTensorInfo[];
  /**
   * Features the bundled runtime computes wrongly although the op version and min_runtime_version
   * do not say so (found by running the fixtures on 2.9.0).
   */
  incompatibilities: string[];
}

class FlatReader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #file: string;

  constructor(bytes: Uint8Array, file: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#file = file;
  }

  corrupt(offset: number, what: string): SidewalkError {
    return new SidewalkError(InferenceErrorCode.MODEL_CORRUPT, `${this.#file}: not a valid TFLite model: ${what} at byte ${offset} (file is ${this.#bytes.length} bytes)`, {
      details: { file: this.#file, offset },
    });
  }

  #check(offset: number, size: number, what: string): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.#bytes.length) throw this.corrupt(offset, `${what} out of bounds`);
  }

  u8(offset: number, what: string): number {
    this.#check(offset, 1, what);
    return this.#view.getUint8(offset);
  }
  i8(offset: number, what: string): number {
    this.#check(offset, 1, what);
    return this.#view.getInt8(offset);
  }
  u16(offset: number, what: string): number {
    this.#check(offset, 2, what);
    return this.#view.getUint16(offset, true);
  }
  u32(offset: number, what: string): number {
    this.#check(offset, 4, what);
    return this.#view.getUint32(offset, true);
  }
  i32(offset: number, what: string): number {
    this.#check(offset, 4, what);
    return this.#view.getInt32(offset, true);
  }
  f32(offset: number, what: string): number {
    this.#check(offset, 4, what);
    return this.#view.getFloat32(offset, true);
  }
  i64(offset: number, what: string): number {
    this.#check(offset, 8, what);
    return Number(this.#view.getBigInt64(offset, true));
  }

  /** Absolute position of field `index` of the table at `table`, or undefined when absent. */
  field(table: number, index: number, what: string): number | undefined {
    const vtable = table - this.i32(table, `${what} table`);
    const vtableSize = this.u16(vtable, `${what} vtable`);
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw this.corrupt(vtable, `${what} vtable size ${vtableSize}`);
    if (4 + index * 2 >= vtableSize) return undefined;
    const rel = this.u16(vtable + 4 + index * 2, `${what} vtable`);
    return rel === 0 ? undefined : table + rel;
  }

  /** Follows the uoffset stored at `at`. */
  deref(at: number, what: string): number {
    const target = at + this.u32(at, what);
    this.#check(target, 4, what);
    return target;
  }

  /** Start and length of a vector whose uoffset is stored at `at`. */
  vector(at: number, elementSize: number, what: string): { start: number; length: number } {
    const vec = this.deref(at, what);
    const length = this.u32(vec, `${what} length`);
    this.#check(vec + 4, length * elementSize, `${what} (${length} elements)`);
    return { start: vec + 4, length };
  }

  string(at: number, what: string): string {
    const { start, length } = this.vector(at, 1, what);
    return new TextDecoder().decode(this.#bytes.subarray(start, start + length));
  }

  bytes(start: number, length: number): Uint8Array {
    return this.#bytes.subarray(start, start + length);
  }

  /** Table positions of a vector of tables whose uoffset is stored at `at`. */
  tables(at: number, what: string): number[] {
    const { start, length } = this.vector(at, 4, what);
    return Array.from({ length }, (_, i) => this.deref(start + i * 4, `${what}[${i}]`));
  }
}

/** Model table fields (schema.fbs). */
const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, buffers: 4, metadata: 6 } as const;

export function readTfliteModelInfo(bytes: Uint8Array, file = 'model.tflite'): TfliteModelInfo {
  const r = new FlatReader(bytes, file);
  if (bytes.length < 8) throw r.corrupt(0, 'file shorter than a flatbuffer header');
  const identifier = String.fromCharCode(...bytes.subarray(4, 8));
  if (identifier !== 'TFL3') throw r.corrupt(4, `file identifier "${printable(identifier)}" is not "TFL3"`);
  const model = r.deref(0, 'root table offset');

  const versionAt = r.field(model, MODEL.version, 'Model');
  const schemaVersion = versionAt === undefined ? 0 : r.u32(versionAt, 'Model.version');
  if (schemaVersion !== 3) throw r.corrupt(versionAt ?? model, `schema version ${schemaVersion}, expected 3`);

  const operators = readOperatorCodes(r, model);
  const buffers = fieldTables(r, model, MODEL.buffers, 'Model.buffers');
  let minRuntimeVersion: string | undefined;
  for (const [i, entry] of fieldTables(r, model, MODEL.metadata, 'Model.metadata').entries()) {
    const nameAt = r.field(entry, 0, `Model.metadata[${i}]`);
    if (nameAt === undefined || r.string(nameAt, `Model.metadata[${i}].name`) !== 'min_runtime_version') continue;
    const bufferAt = r.field(entry, 1, `Model.metadata[${i}]`);
    const index = bufferAt === undefined ? 0 : r.u32(bufferAt, `Model.metadata[${i}].buffer`);
    const buffer = buffers[index];
    if (buffer === undefined) throw r.corrupt(bufferAt ?? entry, `metadata min_runtime_version names buffer ${index} of ${buffers.length}`);
    const dataAt = r.field(buffer, 0, `Model.buffers[${index}]`);
    const data = dataAt === undefined ? { start: 0, length: 0 } : r.vector(dataAt, 1, `Model.buffers[${index}].data`);
    // The converter pads the version string with NULs to a fixed length.
    minRuntimeVersion = new TextDecoder().decode(r.bytes(data.start, data.length)).replace(/\0+$/, '');
    if (!/^\d+(\.\d+)*$/.test(minRuntimeVersion)) {
      throw r.corrupt(data.start, `min_runtime_version "${printable(minRuntimeVersion)}" is not a version`);
    }
  }

  const subgraphs = fieldTables(r, model, MODEL.subgraphs, 'Model.subgraphs');
  if (subgraphs.length === 0) throw r.corrupt(model, 'model has no subgraph');
  const { inputs, outputs } = readIo(r, subgraphs[0]!);
  const incompatibilities = subgraphs.flatMap((subgraph, i) => perChannelFullyConnected(r, subgraph, i, operators));
  return { schemaVersion, minRuntimeVersion, operators, inputs, outputs, incompatibilities };
}

function fieldTables(r: FlatReader, table: number, index: number, what: string): number[] {
  const at = r.field(table, index, what);
  return at === undefined ? [] : r.tables(at, what);
}

function readOperatorCodes(r: FlatReader, model: number): TfliteOperatorCode[] {
  return fieldTables(r, model, MODEL.operatorCodes, 'Model.operator_codes').map((code, i) => {
    const what = `Model.operator_codes[${i}]`;
    // Codes < 127 live in the int8 deprecated_builtin_code (field 0), newer ones in builtin_code (field 3).
    const deprecatedAt = r.field(code, 0, what);
    const builtinAt = r.field(code, 3, what);
    const versionAt = r.field(code, 2, what);
    const customAt = r.field(code, 1, what);
    const builtinCode = Math.max(deprecatedAt === undefined ? 0 : r.i8(deprecatedAt, what), builtinAt === undefined ? 0 : r.i32(builtinAt, what));
    const version = versionAt === undefined ? 1 : r.i32(versionAt, what);
    const name = builtinCode === 32 && customAt !== undefined ? `CUSTOM:${r.string(customAt, `${what}.custom_code`)}` : (BUILTIN_OPERATOR_NAMES[builtinCode] ?? `BUILTIN_${builtinCode}`);
    return { builtinCode, name, version };
  });
}

/**
 * TF >= 2.1x converters quantise Dense weights per channel (several scales on FULLY_CONNECTED's
 * weight tensor) without raising the op version (v4) or min_runtime_version (1.14.0); TFLite 2.9
 * then uses one scale and returns garbage (every class equal on the fixtures). Convert with
 * `_experimental_disable_per_channel_quantization_for_dense_layers = True` instead.
 */
function perChannelFullyConnected(r: FlatReader, subgraph: number, index: number, operators: TfliteOperatorCode[]): string[] {
  const found: string[] = [];
  const tensors = fieldTables(r, subgraph, 0, 'SubGraph.tensors');
  for (const [i, op] of fieldTables(r, subgraph, 3, 'SubGraph.operators').entries()) {
    const what = `SubGraph[${index}].operators[${i}]`;
    const opcodeAt = r.field(op, 0, what);
    const code = operators[opcodeAt === undefined ? 0 : r.u32(opcodeAt, `${what}.opcode_index`)];
    if (code === undefined) throw r.corrupt(opcodeAt ?? op, `${what} names operator code out of range`);
    if (code.builtinCode !== 9) continue;
    const inputsAt = r.field(op, 1, what);
    if (inputsAt === undefined) continue;
    const inputs = r.vector(inputsAt, 4, `${what}.inputs`);
    if (inputs.length < 2) continue;
    const weights = tensors[r.i32(inputs.start + 4, `${what}.inputs`)];
    if (weights === undefined) throw r.corrupt(inputs.start + 4, `${what} names a weight tensor out of range`);
    const quantAt = r.field(weights, 4, 'Tensor');
    const scaleAt = quantAt === undefined ? undefined : r.field(r.deref(quantAt, 'Tensor.quantization'), 2, 'QuantizationParameters');
    const scales = scaleAt === undefined ? 0 : r.vector(scaleAt, 4, 'QuantizationParameters.scale').length;
    if (scales > 1) found.push(`${what} FULLY_CONNECTED has per-channel quantised weights (${scales} scales)`);
  }
  return found;
}

function readIo(r: FlatReader, subgraph: number): { inputs: TfliteTensorInfo[]; outputs: TfliteTensorInfo[] } {
  const tensors = fieldTables(r, subgraph, 0, 'SubGraph.tensors');
  const indices = (field: number, what: string): number[] => {
    const at = r.field(subgraph, field, what);
    if (at === undefined) return [];
    const { start, length } = r.vector(at, 4, what);
    return Array.from({ length }, (_, i) => r.i32(start + i * 4, what));
  };
  const tensor = (index: number, what: string): TfliteTensorInfo => {
    const t = tensors[index];
    if (t === undefined) throw r.corrupt(subgraph, `${what} names tensor ${index} of ${tensors.length}`);
    const shapeAt = r.field(t, 0, 'Tensor');
    const shape =
      shapeAt === undefined
        ? []
        : (() => {
            const { start, length } = r.vector(shapeAt, 4, 'Tensor.shape');
            return Array.from({ length }, (_, i) => r.i32(start + i * 4, 'Tensor.shape'));
          })();
    const typeAt = r.field(t, 1, 'Tensor');
    const typeCode = typeAt === undefined ? 0 : r.u8(typeAt, 'Tensor.type');
    const nameAt = r.field(t, 3, 'Tensor');
    const info: TfliteTensorInfo = {
      name: nameAt === undefined ? '' : r.string(nameAt, 'Tensor.name'),
      shape,
      type: TENSOR_TYPES[typeCode] ?? `type${typeCode}`,
    };
    const quantAt = r.field(t, 4, 'Tensor');
    if (quantAt !== undefined) {
      const q = r.deref(quantAt, 'Tensor.quantization');
      const scaleAt = r.field(q, 2, 'QuantizationParameters');
      const zeroAt = r.field(q, 3, 'QuantizationParameters');
      const scale = scaleAt === undefined ? undefined : r.vector(scaleAt, 4, 'QuantizationParameters.scale');
      const zero = zeroAt === undefined ? undefined : r.vector(zeroAt, 8, 'QuantizationParameters.zero_point');
      if (scale !== undefined && scale.length > 0) {
        info.quantization = {
          scale: r.f32(scale.start, 'QuantizationParameters.scale'),
          zeroPoint: zero !== undefined && zero.length > 0 ? r.i64(zero.start, 'QuantizationParameters.zero_point') : 0,
        };
      }
    }
    return info;
  };
  return {
    inputs: indices(1, 'SubGraph.inputs').map((i) => tensor(i, 'SubGraph.inputs')),
    outputs: indices(2, 'SubGraph.outputs').map((i) => tensor(i, 'SubGraph.outputs')),
  };
}

/** Throws MODEL_RUNTIME_TOO_OLD when the model needs a newer TFLite runtime than `runtimeVersion`. */
export function assertRuntimeSupports(info: TfliteModelInfo, file: string, runtimeVersion = BUNDLED_TFLITE_RUNTIME_VERSION): void {
  if (info.incompatibilities.length > 0) {
    throw new SidewalkError(
      InferenceErrorCode.MODEL_RUNTIME_TOO_OLD,
      `${file}: the bundled TFLite runtime ${runtimeVersion} cannot run it correctly: ${info.incompatibilities.join('; ')}. ` +
        'Convert with per-tensor Dense quantisation (converter._experimental_disable_per_channel_quantization_for_dense_layers = True).',
      { details: { file, runtime: runtimeVersion, incompatibilities: info.incompatibilities } },
    );
  }
  if (info.minRuntimeVersion === undefined || compareVersions(info.minRuntimeVersion, runtimeVersion) <= 0) return;
  throw new SidewalkError(
    InferenceErrorCode.MODEL_RUNTIME_TOO_OLD,
    `${file}: needs TFLite runtime ${info.minRuntimeVersion} (min_runtime_version metadata), the bundled runtime is ` +
      `${runtimeVersion}; ops: ${describeOperators(info.operators)}. Re-export as float32 or full-integer int8 ` +
      'without dynamic-range quantisation.',
    { details: { file, required: info.minRuntimeVersion, runtime: runtimeVersion } },
  );
}

/** "CONV_2D v1, SOFTMAX v1" for error messages. */
function describeOperators(operators: readonly TfliteOperatorCode[]): string {
  return operators.map((op) => `${op.name} v${op.version}`).join(', ') || 'none';
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
