import { SidewalkError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';

/** `version` member: JSON {"format":"mender","version":3}; pretty or compact are both fine. */
export function parseVersion(bytes: Buffer): void {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SidewalkError(E.BAD_VERSION, `version: not JSON (${bytes.length} bytes)`);
  }
  const o = v as { format?: unknown; version?: unknown } | null;
  if (typeof o !== 'object' || o === null || o.format !== 'mender') {
    throw new SidewalkError(E.BAD_VERSION, `version: format is ${JSON.stringify(o?.format)}, expected "mender"`);
  }
  if (o.version !== 3) throw new SidewalkError(E.BAD_VERSION, `version: format version ${JSON.stringify(o.version)} is not supported (only 3)`);
}

const LINE = /^([0-9a-f]{64}) {2}(\S(?:.*\S)?)$/;
const HEADER = /^header\.tar(\.gz|\.xz|\.zst)?$/;
const DATA_FILE = /^data\/0000\/([^/]+)$/;

export interface Manifest {
  /** name -> sha256 for every line. */
  entries: Map<string, string>;
  /** data/0000/<name> entries in line order. */
  dataFiles: { name: string; sha256: string }[];
}

/** `manifest`: lines "sha256  name\n" (sha256sum format); the last line must end in '\n'. */
export function parseManifest(bytes: Buffer): Manifest {
  const text = bytes.toString('utf8');
  if (text.length > 0 && !text.endsWith('\n')) throw new SidewalkError(E.MANIFEST_INVALID, 'manifest: last line does not end in a newline');
  const entries = new Map<string, string>();
  const dataFiles: { name: string; sha256: string }[] = [];
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) throw new SidewalkError(E.MANIFEST_INVALID, `manifest line ${i + 1}: not "<sha256>  <name>": ${JSON.stringify(line.slice(0, 120))}`);
    const [, sha, name] = m as unknown as [string, string, string];
    if (entries.has(name)) throw new SidewalkError(E.MANIFEST_INVALID, `manifest line ${i + 1}: duplicate entry ${name}`);
    entries.set(name, sha);
    const d = DATA_FILE.exec(name);
    if (d) {
      if (d[1] === '.' || d[1] === '..') throw new SidewalkError(E.MANIFEST_INVALID, `manifest line ${i + 1}: bad file name ${name}`);
      dataFiles.push({ name: d[1]!, sha256: sha });
    } else if (name !== 'version' && !HEADER.test(name)) {
      const code = /^(header-augment|data\/\d{4}\/)/.test(name) ? E.UNSUPPORTED : E.MANIFEST_INVALID;
      throw new SidewalkError(code, `manifest line ${i + 1}: unexpected entry ${name}`);
    }
  });
  if (!entries.has('version')) throw new SidewalkError(E.MANIFEST_INVALID, 'manifest: no entry for version');
  return { entries, dataFiles };
}
