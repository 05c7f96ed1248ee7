/**
 * Reader for the legacy Pi's run folders (`runN/`), exactly as its scooter.py wrote them
 * (docs/legacy.md quotes the format strings):
 *   img_NNNNN.jpg   one JPEG per frame, NNNNN = the frame number zero-padded to 5
 *   raw_data.txt    '%5s,%9.2f,' + 2*'%14.9f,' + '%9.2f,' + 13*'%5.2f,' + '%d\n'  -> 19 fields:
 *                   frame, seconds since start, gps[0..5] (lat, lon, alt, 3 more), imu[0..8], speed*1000
 *                   (motor rpm), joystick
 *   out_data.txt    '%5s,%d,' + 6*'%3.2f,' + '%d,' + 3*'%14.9f,' + 3*'%5.2f,' + '\n'  -> 16 fields, the
 *                   last one empty (the trailing comma): frame, joystick, six scores, swFlag, pos[3], vel[3]
 *
 * out_data.txt has two layouts, written by scooter.py's two code paths:
 *  - live (camera): frame zero-padded ("00012"), scores = bike_lane, crosswalk, side, street, 0, 0
 *  - post-process (-F on a folder of images): scores = 0, bike_lane, crosswalk, side, 0, 0 (street is
 *    never written) and swFlag from a different rule (side and street alone); frame "%5s" of a number
 *    is space-padded ("   12").
 * The layout is decided per file from what it holds (see detectLayout); a file that fits both is
 * refused with DATA_LEGACY_LAYOUT_AMBIGUOUS unless the caller names the layout.
 * Errors are SidewalkError DATA_LEGACY_MALFORMED naming the file, line and field.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';

/** The legacy model's classes, in its output (and imclass) order. */
export const LEGACY_CLASSES = ['bike_lane', 'crosswalk', 'side', 'street'] as const;

export const LEGACY_RAW_COLUMNS = [
  'frame',
  'time',
  'gps_lat',
  'gps_lon',
  'gps_alt',
  'gps_3',
  'gps_4',
  'gps_5',
  'imu_yaw',
  'imu_pitch',
  'imu_roll',
  'imu_ax',
  'imu_ay',
  'imu_az',
  'imu_gx',
  'imu_gy',
  'imu_gz',
  'speed_rpm',
  'joystick',
] as const;

export const LEGACY_OUT_COLUMNS = ['frame', 'joystick', 'score_0', 'score_1', 'score_2', 'score_3', 'score_4', 'score_5', 'swFlag', 'pos_0', 'pos_1', 'pos_2', 'vel_0', 'vel_1', 'vel_2'] as const;

export interface LegacyRawRow {
  /** 1-based line number in raw_data.txt (for error messages downstream). */
  line: number;
  frame: number;
  /** Seconds since the run started (time.time() - time0). */
  time: number;
  lat: number;
  lon: number;
  alt: number;
  /** gps[3..5] (always 0 in scooter.py; kept verbatim). */
  gpsExtra: [number, number, number];
  /** imu[0..8]: yaw, pitch, roll (degrees), accelerometer xyz, gyroscope xyz. */
  imu: number[];
  /** Motor speed in rpm (the MP2 controller's krpm * 1000). */
  speed: number;
  /** Joystick code: (1 - horizontal) + 2 * (1 - vertical), 0..3. */
  joystick: number;
}

export type LegacyOutLayout = 'live' | 'post-process';

export interface LegacyOutRow {
  line: number;
  frame: number;
  /** Joystick code at this frame (the post-process path reads it back from raw_data.txt; -1 when missing). */
  joystick: number;
  /** Legacy model scores in LEGACY_CLASSES order; street is null in the post-process layout (never written). */
  scores: [number, number, number, number | null];
  /** The legacy decision: 1 on a sidewalk, 0 not. */
  sidewalk: 0 | 1;
  pos: [number, number, number];
  vel: [number, number, number];
}

export interface LegacyOutData {
  layout: LegacyOutLayout | null;
  rows: LegacyOutRow[];
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
  /** null when out_data.txt is absent or was not asked for. */
  out: LegacyOutRow[] | null;
  outLayout: LegacyOutLayout | null;
  /** Sorted by frame number. */
  images: LegacyImage[];
}

const RAW_FILE = 'raw_data.txt';
const OUT_FILE = 'out_data.txt';
const IMAGE_RE = /^img_(\d+)\.jpe?g$/i;

// What Python's %f / %d / %5s print: no exponent, 'nan' / 'inf' for non-finite floats.
const FLOAT_RE = /^ *(-?\d+\.\d+|nan|-?inf)$/;
const INT_RE = /^ *-?\d+$/;
const FRAME_RE = /^ *\d+$/;
/** Four rounded (2-decimal) softmax scores sum to 1 within this. */
const SUM_TOLERANCE = 0.025;

function malformed(file: string, line: number, message: string, field?: string): SidewalkError {
  return new SidewalkError('DATA_LEGACY_MALFORMED', `${file} line ${line}${field ? ` field ${field}` : ''}: ${message}`, {
    details: { file, line, ...(field ? { field } : {}) },
  });
}

function parseFloatField(token: string): number | null {
  if (!FLOAT_RE.test(token)) return null;
  const t = token.trim();
  if (t === 'nan') return Number.NaN;
  if (t === 'inf') return Number.POSITIVE_INFINITY;
  if (t === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(t);
}

type FieldKind = 'frame' | 'int' | 'float';

interface ParsedLine {
  line: number;
  /** The frame field as written (for the padding check). */
  frameText: string;
  values: number[];
}

/**
 * Splits the file into lines of comma fields and checks every field against the kind its format
 * string gives it. `trailingComma`: the line ends with ',' (out_data.txt).
 */
function parseLines(file: string, text: string, names: readonly string[], kinds: readonly FieldKind[], trailingComma: boolean): ParsedLine[] {
  const lines = text.split('\n');
  const last = lines.length - 1;
  // The file ends with a newline: the text after it is empty. Anything else is a cut-off last line.
  if (lines[last] !== '') {
    throw malformed(file, last + 1, 'the last line has no newline: the file was cut off while being written');
  }
  const out: ParsedLine[] = [];
  for (let i = 0; i < last; i++) {
    const lineNo = i + 1;
    const content = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    const fields = content.split(',');
    const expected = kinds.length + (trailingComma ? 1 : 0);
    if (fields.length !== expected) {
      throw malformed(file, lineNo, `expected ${expected} comma-separated fields${trailingComma ? ' (the last one empty: the line ends with a comma)' : ''}, got ${fields.length}`);
    }
    if (trailingComma && fields[expected - 1] !== '') {
      throw malformed(file, lineNo, `expected the line to end with a comma, found ${JSON.stringify(fields[expected - 1])}`, `${expected}`);
    }
    const values: number[] = [];
    for (let c = 0; c < kinds.length; c++) {
      const token = fields[c]!;
      const kind = kinds[c]!;
      const value = kind === 'float' ? parseFloatField(token) : (kind === 'frame' ? FRAME_RE : INT_RE).test(token) ? Number(token.trim()) : null;
      if (value === null) {
        const what = kind === 'float' ? 'a %f number' : kind === 'frame' ? 'a frame number' : 'an integer';
        throw malformed(file, lineNo, `${JSON.stringify(token)} is not ${what}`, `${c + 1} (${names[c]})`);
      }
      values.push(value);
    }
    out.push({ line: lineNo, frameText: fields[0]!, values });
  }
  return out;
}

const RAW_KINDS: FieldKind[] = ['frame', ...Array<FieldKind>(17).fill('float'), 'int'];
const OUT_KINDS: FieldKind[] = ['frame', 'int', ...Array<FieldKind>(6).fill('float'), 'int', ...Array<FieldKind>(6).fill('float')];

export function parseLegacyRawData(text: string, file = RAW_FILE): LegacyRawRow[] {
  return parseLines(file, text, LEGACY_RAW_COLUMNS, RAW_KINDS, false).map(({ line, values: v }) => ({
    line,
    frame: v[0]!,
    time: v[1]!,
    lat: v[2]!,
    lon: v[3]!,
    alt: v[4]!,
    gpsExtra: [v[5]!, v[6]!, v[7]!],
    imu: v.slice(8, 17),
    speed: v[17]!,
    joystick: v[18]!,
  }));
}

/**
 * Which code path wrote the file. Evidence, in order: a non-zero first score column is only ever
 * written by the live path; a space-padded frame only by the post-process path; scores that cannot
 * be a whole softmax (columns 4..6 summing clearly below 1 while column 3 is 0) only by the
 * post-process path, which drops the street score. A file with none of these fits both.
 */
function detectLayout(file: string, rows: ParsedLine[]): LegacyOutLayout | null {
  if (rows.length === 0) return null;
  const live = rows.find((r) => r.values[2] !== 0);
  const spacePadded = rows.find((r) => r.frameText.startsWith(' '));
  if (live && spacePadded) {
    throw new SidewalkError(
      'DATA_LEGACY_LAYOUT_AMBIGUOUS',
      `${file}: line ${spacePadded.line} has a space-padded frame (post-process layout) but line ${live.line} a non-zero score in field 3 (live layout); the file mixes both`,
      { details: { file, line: live.line, field: '3 (score_0)' } },
    );
  }
  if (live) return 'live';
  if (spacePadded) return 'post-process';
  const partial = rows.find((r) => r.values[3]! + r.values[4]! + r.values[5]! < 1 - SUM_TOLERANCE);
  if (partial) return 'post-process';
  throw new SidewalkError(
    'DATA_LEGACY_LAYOUT_AMBIGUOUS',
    `${file}: every line has 0.00 in field 3 and zero-padded frames, so it fits both scooter.py layouts (live with a bike_lane score of 0 throughout, ` +
      'or post-process with the street score missing); name the layout to read it',
    { details: { file } },
  );
}

export function parseLegacyOutData(text: string, file = OUT_FILE, layout?: LegacyOutLayout): LegacyOutData {
  const lines = parseLines(file, text, LEGACY_OUT_COLUMNS, OUT_KINDS, true);
  const chosen = layout ?? detectLayout(file, lines);
  const rows = lines.map(({ line, values: v }): LegacyOutRow => {
    const flag = v[8]!;
    if (flag !== 0 && flag !== 1) throw malformed(file, line, `swFlag must be 0 or 1, got ${flag}`, '9 (swFlag)');
    // Both paths write 0 in the last two score columns (and in the first, post-process).
    const zeros = chosen === 'post-process' ? [2, 6, 7] : [6, 7];
    for (const c of zeros) {
      if (v[c] !== 0) throw malformed(file, line, `expected 0.00 in this ${chosen} layout column, got ${v[c]}`, `${c + 1} (${LEGACY_OUT_COLUMNS[c]})`);
    }
    const scores: LegacyOutRow['scores'] = chosen === 'post-process' ? [v[3]!, v[4]!, v[5]!, null] : [v[2]!, v[3]!, v[4]!, v[5]!];
    return { line, frame: v[0]!, joystick: v[1]!, scores, sidewalk: flag, pos: [v[9]!, v[10]!, v[11]!], vel: [v[12]!, v[13]!, v[14]!] };
  });
  return { layout: chosen, rows };
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
  return stat(join(dir, RAW_FILE)).then(
    () => true,
    () => false,
  );
}

export interface ReadLegacyRunOptions {
  /** Read out_data.txt (default true); replaying images through a new model does not need it. */
  out?: boolean;
  /** The out_data.txt layout when the file cannot tell (default: detect, refuse when ambiguous). */
  layout?: LegacyOutLayout;
}

/** Reads a legacy run folder; raw_data.txt is required, out_data.txt optional. */
export async function readLegacyRun(dir: string, options: ReadLegacyRunOptions = {}): Promise<LegacyRun> {
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
  const outText = options.out === false ? null : await readFile(outPath, 'utf8').catch(() => null);
  const out = outText === null ? null : parseLegacyOutData(outText, outPath, options.layout);
  return { dir, raw, out: out?.rows ?? null, outLayout: out?.layout ?? null, images: await listLegacyImages(dir) };
}
