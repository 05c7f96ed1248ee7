import { SidewalkError } from '../../lib/errors.js';
import { ByteReader } from './byte-reader.js';
import { decompress } from './decompress.js';
import { ArtifactErrorCodes as E } from './errors.js';
import { TarReader } from './tar.js';
import type { ArtifactCompression, ArtifactInfo } from './types.js';

/** Parsed header.tar: the parts of ArtifactInfo that come from header-info, type-info and meta-data. */
export type HeaderFields = Pick<ArtifactInfo, 'name' | 'payloadType' | 'deviceTypes' | 'provides' | 'depends' | 'clearsProvides' | 'metaData' | 'scripts'>;

const MAX_HEADER_FILE_BYTES = 1 << 20;
const MAX_SCRIPTS = 256;
const SCRIPT = /^scripts\/(Artifact(Install|Reboot|Commit|Rollback|RollbackReboot|Failure)_(Enter|Leave|Error)_\d{2}(_[^/]*)?)$/;

function bad(where: string, what: string): SidewalkError {
  return new SidewalkError(E.HEADER_INVALID, `${where}: ${what}`);
}

function parseJson(bytes: Buffer, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw bad(where, `not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(where, 'not a JSON object');
  return v as Record<string, unknown>;
}

function stringList(v: unknown, where: string, field: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(where, `${field} must be a list of strings`);
  return v as string[];
}

function stringMap(v: unknown, where: string, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(where, `${field} must be an object`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw bad(where, `${field}.${k} must be a string`);
  return { ...(v as Record<string, string>) };
}

function dependsMap(v: unknown, where: string, field: string): Record<string, string | string[]> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(where, `${field} must be an object`);
  const out: Record<string, string | string[]> = {};
  for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'string' ? x : stringList(x, where, `${field}.${k}`);
  return out;
}

function applyHeaderInfo(h: HeaderFields, json: Record<string, unknown>): void {
  const where = 'header.tar/header-info';
  const payloads = json.payloads;
  if (!Array.isArray(payloads) || payloads.length === 0) throw bad(where, 'payloads must be a non-empty list');
  if (payloads.length > 1) throw new SidewalkError(E.UNSUPPORTED, `${where}: ${payloads.length} payloads; only one (0000) is supported`);
  const type = (payloads[0] as { type?: unknown } | null)?.type;
  if (type !== null && typeof type !== 'string') throw bad(where, 'payloads[0].type must be a string or null');
  h.payloadType = type ?? '';
  const provides = stringMap(json.artifact_provides, where, 'artifact_provides');
  if (!provides.artifact_name) throw bad(where, 'artifact_provides.artifact_name is missing or empty');
  h.name = provides.artifact_name;
  Object.assign(h.provides, provides);
  const deps = json.artifact_depends as Record<string, unknown> | undefined;
  if (typeof deps !== 'object' || deps === null || Array.isArray(deps)) throw bad(where, 'artifact_depends must be an object');
  h.deviceTypes = stringList(deps.device_type, where, 'artifact_depends.device_type');
  if (h.deviceTypes.length === 0) throw bad(where, 'artifact_depends.device_type is empty');
  for (const [k, v] of Object.entries(deps)) {
    if (k !== 'device_type') h.depends[k] = stringList(v, where, `artifact_depends.${k}`);
  }
}

function applyTypeInfo(h: HeaderFields, json: Record<string, unknown>): void {
  const where = 'header.tar/headers/0000/type-info';
  const type = json.type;
  if (type !== undefined && type !== null && typeof type !== 'string') throw bad(where, 'type must be a string');
  // Writers before mender-artifact 4.4.0 put "type":"" here for rootfs-image: header-info wins then.
  if (typeof type === 'string' && type !== '' && type !== h.payloadType) {
    throw bad(where, `type ${JSON.stringify(type)} differs from header-info's ${JSON.stringify(h.payloadType)}`);
  }
  Object.assign(h.provides, stringMap(json.artifact_provides, where, 'artifact_provides'));
  Object.assign(h.depends, dependsMap(json.artifact_depends, where, 'artifact_depends'));
  const clears = json.clears_artifact_provides;
  if (clears !== undefined && clears !== null) h.clearsProvides = stringList(clears, where, 'clears_artifact_provides');
}

/** Parses an already checksum-verified header.tar[.gz|.xz] held in memory. */
export async function parseHeader(bytes: Buffer, compression: ArtifactCompression, member: string): Promise<HeaderFields> {
  const h: HeaderFields = { name: '', payloadType: '', deviceTypes: [], provides: {}, depends: {}, clearsProvides: [], metaData: {}, scripts: [] };
  const reader = new ByteReader(
    decompress(
      (async function* () {
        yield bytes;
      })(),
      compression,
      member,
    ),
    member,
  );
  const tar = new TarReader(reader);
  // Allowed order: header-info, scripts/*, headers/0000/type-info, headers/0000/meta-data.
  let stage = 0;
  try {
    for (let e = await tar.next(); e !== null; e = await tar.next()) {
      const where = `${member}/${e.name}`;
      if (e.type !== '0') throw new SidewalkError(E.UNEXPECTED_MEMBER, `${where}: tar entry type '${e.type}' is not a regular file`);
      const order = e.name === 'header-info' ? 1 : SCRIPT.test(e.name) ? 2 : e.name === 'headers/0000/type-info' ? 3 : e.name === 'headers/0000/meta-data' ? 4 : 0;
      if (order === 0) {
        const code = /^headers\/(?!0000\/)\d{4}\/(type-info|meta-data)$/.test(e.name) ? E.UNSUPPORTED : E.UNEXPECTED_MEMBER;
        throw new SidewalkError(code, `${where}: not allowed in an artifact header (header byte ${e.headerOffset})`);
      }
      if (order < stage || (order === stage && order !== 2)) {
        throw new SidewalkError(E.BAD_MEMBER_ORDER, `${where}: out of order (header byte ${e.headerOffset})`);
      }
      if (order !== 1 && stage === 0) throw new SidewalkError(E.BAD_MEMBER_ORDER, `${where}: header-info must come first`);
      stage = order;
      const body = await tar.readBody(e, MAX_HEADER_FILE_BYTES);
      if (order === 1) applyHeaderInfo(h, parseJson(body, where));
      else if (order === 2) {
        if (h.scripts!.length >= MAX_SCRIPTS) throw new SidewalkError(E.TOO_LARGE, `${where}: more than ${MAX_SCRIPTS} scripts`);
        if (h.scripts!.includes(e.name.slice(8))) throw new SidewalkError(E.UNEXPECTED_MEMBER, `${where}: duplicate script`);
        h.scripts!.push(e.name.slice(8));
      } else if (order === 3) applyTypeInfo(h, parseJson(body, where));
      else if (body.length > 0) h.metaData = parseJson(body, where);
    }
    if (stage === 0) throw bad(member, 'no header-info');
    if (stage < 3 && h.payloadType !== '') throw bad(member, 'no headers/0000/type-info');
    const rest = await reader.restIsZero(1 << 20);
    if (!rest.zero) throw new SidewalkError(E.TAR_INVALID, `${member}: data after the end-of-archive marker at byte ${rest.offset}`);
  } finally {
    await reader.close();
  }
  return h;
}
