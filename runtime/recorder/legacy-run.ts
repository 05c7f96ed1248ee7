/**
 * Reader for the legacy Python system's run folders (`runN/`):
 *   img_NNNNN.jpg   one JPEG per frame (number = frame column below)
 *   raw_data.txt    sensors, 19 columns: frame, time, gps[6] (lat, lon, alt, 3 more), imu[9], speed, joystick
 *   out_data.txt    model output: frame, label, scores[6], sidewalk flag, pos[3], vel[3] (15 values; the
 *                   brief says 17 columns: both 15 and 17 are accepted, see LEGACY_OUT_COLUMN_COUNTS)
 *
 * The legacy format strings are lost, so the parser is deliberately tolerant. ASSUMPTIONS:
 *  - One row per line, LF or CRLF; blank lines are ignored.
 *  - Fields are separated by commas (surrounding spaces allowed) or, when a line has no comma, by
 *    runs of spaces/tabs. A comma line with an empty field ("1,,2") is malformed, not merged.
 *  - Python list brackets around a row or a group ("[1.0, 2.0]") are ignored.
 *  - An optional header: a first non-blank line whose first field is not a number.
 *  - Numbers are decimal or exponent floats; "nan"/"inf" (any case, as Python prints them) are accepted
 *    (GPS without a fix); "True"/"False" are accepted as 1/0 (a Python bool printed with %s).
 *  - frame and joystick are integers (a float with .0 is accepted); label is a numeric class index.
 *  - img_NNNNN.jpg's number is the `frame` column of both logs (any number of digits is accepted).
 *  - time is stored as written (seconds, the unit of Python's time.time(), assumed by callers).
 *  - speed is on the legacy scale (unknown unit; its low-speed threshold was 10) and is not converted.
 * Errors are SidewalkError DATA_LEGACY_MALFORMED naming the file, line and column.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';

export const LEGACY_RAW_COLUMNS = [
  'frame', 'time',
  'gps_lat', 'gps_lon', 'gps_alt', 'gps_4', 'gps_5', 'gps_6',
  'imu_1', 'imu_2', 'imu_3', 'imu_4', 'imu_5', 'imu_6', 'imu_7', 'imu_8', 'imu_9',
  'speed', 'joystick',
] as const;

export const LEGACY_OUT_COLUMNS = [
  'frame', 'label',
  'score_0', 'score_1', 'score_2', 'score_3', 'score_4', 'score_5',
  'sidewalk', 'pos_x', 'pos_y', 'pos_z', 'vel_x', 'vel_y', 'vel_z',
] as const;

export const LEGACY_RAW_COLUMN_COUNT = LEGACY_RAW_COLUMNS.length; // 19

export interface LegacyRawRow {
  /** 1-based line number in raw_data.txt (for error messages downstream). */
  line: number;
  frame: number;
  /** As written; assumed seconds. */
  time: number;
  lat: number;
  lon: number;
  alt: number;
  /** The three GPS fields after lat, lon, alt (meaning unknown: kept verbatim). */
  gpsExtra: [number, number, number];
  /** Nine IMU values, as written. */
  imu: number[];
  /** Legacy speed scale (not km/h). */
  speed: number;
  /** Rider's joystick position: legacy 0 intersection/crosswalk, 1 sidewalk, 2 street. */
  joystick: number;
}

export interface LegacyOutRow {
  line: number;
  frame: number;
  /** Predicted class index of the legacy model. */
  label: number;
  /** Six scores of the legacy model (its class order is not known to us). */
  scores: number[];
  /** Legacy decision: 1 on sidewalk, 0 not. */
  sidewalk: number;
  pos: [number, number, number];
  vel: [number, number, number];
}

export interface LegacyImage {
  frame: number;
  /** Absolute path. */
  path: string;
  name: string;
}

export interface LegacyRun {
  dir: string;
  raw: LegacyRawRow[];
  /** null when out_data.txt is absent (a run recorded without the model). */
  out: LegacyOutRow[] | null;
  /** Sorted by frame number. */
  images: LegacyImage[];
}

const RAW_FILE = 'raw_data.txt';
const OUT_FILE = 'out_data.txt';
const IMAGE_RE = /^img_(\d+)\.jpe?g$/i;

/**
 * The out_data layout is frame, label, scores[6], sidewalk flag, pos[3], vel[3]: 1+1+6+1+3+3 = 15
 * named values. The brief states 17 columns; we do not know which two are missing from the layout,
 * so we accept exactly 15 or 17 columns: with 17, the two extra columns sit after the flag and before
 * pos (read as `extra`), which is the only placement where pos/vel still land on the final six.
 */
export const LEGACY_OUT_COLUMN_COUNTS = [15, 17] as const;

function malformed(file: string, line: number, message: string, column?: string): SidewalkError {
  return new SidewalkError('DATA_LEGACY_MALFORMED', `${file} line ${line}${column ? ` column ${column}` : ''}: ${message}`, {
    details: { file, line, ...(column ? { column } : {}) },
  });
}

/** Splits one legacy line into fields (see the module comment for the accepted layouts). */
export function splitLegacyLine(text: string): string[] {
  const cleaned = text.replace(/[[\]()]/g, ' ').trim();
  if (cleaned === '') return [];
  if (cleaned.includes(',')) return cleaned.split(',').map((f) => f.trim());
  return cleaned.split(/\s+/);
}

function parseNumber(token: string): number | null {
  if (token === '') return null;
  const lower = token.toLowerCase();
  if (lower === 'nan' || lower === '-nan') return Number.NaN;
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  if (lower === 'true') return 1;
  if (lower === 'false') return 0;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(token)) return null;
  return Number(token);
}

interface ParsedTable {
  rows: { line: number; values: number[] }[];
}

function parseTable(file: string, text: string, names: readonly string[], counts: readonly number[]): ParsedTable {
  const rows: ParsedTable['rows'] = [];
  const lines = text.split(/\r?\n/);
  let seenFirst = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fields = splitLegacyLine(lines[i]!);
    if (fields.length === 0) continue;
    if (!seenFirst) {
      seenFirst = true;
      if (parseNumber(fields[0]!) === null && !/^[+-]?[\d.]/.test(fields[0]!)) continue; // header line
    }
    if (!counts.includes(fields.length)) {
      const expected = counts.join(' or ');
      const missing = fields.length < Math.min(...counts) ? `; first missing column is ${fields.length + 1} (${names[fields.length] ?? '?'})` : '';
      throw malformed(file, lineNo, `expected ${expected} columns, got ${fields.length}${missing}`, fields.length < Math.min(...counts) ? names[fields.length] : undefined);
    }
    const values: number[] = [];
    for (let c = 0; c < fields.length; c++) {
      const v = parseNumber(fields[c]!);
      const name = columnName(names, fields.length, c);
      if (v === null) throw malformed(file, lineNo, `${JSON.stringify(fields[c])} is not a number`, `${c + 1} (${name})`);
      values.push(v);
    }
    rows.push({ line: lineNo, values });
  }
  return { rows };
}

function columnName(names: readonly string[], count: number, index: number): string {
  if (count === names.length) return names[index] ?? `col_${index + 1}`;
  // 17-column out_data: two extra columns after the sidewalk flag (index 9, 10).
  if (index < 9) return names[index]!;
  if (index < 11) return `extra_${index - 8}`;
  return names[index - 2] ?? `col_${index + 1}`;
}

function integer(file: string, line: number, value: number, column: string): number {
  if (!Number.isInteger(value)) throw malformed(file, line, `${value} is not an integer`, column);
  return value;
}

export function parseLegacyRawData(text: string, file = RAW_FILE): LegacyRawRow[] {
  return parseTable(file, text, LEGACY_RAW_COLUMNS, [LEGACY_RAW_COLUMN_COUNT]).rows.map(({ line, values: v }) => ({
    line,
    frame: integer(file, line, v[0]!, '1 (frame)'),
    time: v[1]!,
    lat: v[2]!,
    lon: v[3]!,
    alt: v[4]!,
    gpsExtra: [v[5]!, v[6]!, v[7]!],
    imu: v.slice(8, 17),
    speed: v[17]!,
    joystick: integer(file, line, v[18]!, '19 (joystick)'),
  }));
}

export function parseLegacyOutData(text: string, file = OUT_FILE): LegacyOutRow[] {
  return parseTable(file, text, LEGACY_OUT_COLUMNS, LEGACY_OUT_COLUMN_COUNTS).rows.map(({ line, values: v }) => {
    const tail = v.slice(v.length - 6);
    return {
      line,
      frame: integer(file, line, v[0]!, '1 (frame)'),
      label: integer(file, line, v[1]!, '2 (label)'),
      scores: v.slice(2, 8),
      sidewalk: v[8]!,
      pos: [tail[0]!, tail[1]!, tail[2]!],
      vel: [tail[3]!, tail[4]!, tail[5]!],
    };
  });
}

/** Lists img_NNNNN.jpg files sorted by frame number. */
export async function listLegacyImages(dir: string): Promise<LegacyImage[]> {
  const names = await readdir(dir);
  const images: LegacyImage[] = [];
  for (const name of names) {
    const m = IMAGE_RE.exec(name);
    if (m) images.push({ frame: Number(m[1]), path: join(dir, name), name });
  }
  return images.sort((a, b) => a.frame - b.frame);
}

/** A folder holding raw_data.txt (of any kind: readLegacyRun refuses one that is not a file). */
export async function isLegacyRunDir(dir: string): Promise<boolean> {
  return stat(join(dir, RAW_FILE)).then(() => true, () => false);
}

/** Reads a legacy run folder; raw_data.txt is required, out_data.txt optional. */
export async function readLegacyRun(dir: string): Promise<LegacyRun> {
  const rawPath = join(dir, RAW_FILE);
  let rawText: string;
  try {
    if ((await stat(rawPath)).isDirectory()) {
      throw new SidewalkError('DATA_LEGACY_MALFORMED', `${rawPath} is a folder, not the legacy sensor log`, { details: { file: rawPath } });
    }
    rawText = await readFile(rawPath, 'utf8');
  } catch (err) {
    if (err instanceof SidewalkError) throw err;
    throw new SidewalkError('DATA_LEGACY_MISSING', `${rawPath}: cannot read legacy sensor log (${(err as Error).message})`, { cause: err });
  }
  const raw = parseLegacyRawData(rawText, rawPath);
  const outPath = join(dir, OUT_FILE);
  let out: LegacyOutRow[] | null = null;
  const outText = await readFile(outPath, 'utf8').catch(() => null);
  if (outText !== null) out = parseLegacyOutData(outText, outPath);
  return { dir, raw, out, images: await listLegacyImages(dir) };
}
