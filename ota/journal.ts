/**
 * The updater's state journal on the data partition. Every state transition is appended and fsync'd
 * (file, and the directory when the file is new) BEFORE the step it announces takes effect, so after a
 * power cut the last valid record says what may have been half done.
 *
 * Format: one record per line, `<16 hex digits of sha256(json)> <json>\n`. A torn or corrupted tail is
 * detected by the checksum; reading stops at the first bad record and the next open rewrites the file
 * (atomically) without it. When the file grows past `maxRecords` it is compacted to its last record.
 */
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { readIfExists, replaceFile, type OtaFs } from './fs.js';

const log = createLogger('ota:journal');

/** States after Mender's update state machine (update-modules-v3), plus `switch` for model/app stores; their transitions are STATE_TABLE in install/states.ts. */
export const OTA_STATES = ['idle', 'download', 'install', 'switch', 'reboot', 'verify', 'commit', 'rollback', 'rollback-reboot', 'failure', 'cleanup'] as const;
export type OtaState = (typeof OTA_STATES)[number];

export interface JournalRecord<T> {
  seq: number;
  atMs: number;
  state: OtaState;
  data: T;
}

function checksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

export function encodeRecord(record: JournalRecord<unknown>): string {
  const json = JSON.stringify(record);
  return `${checksum(json)} ${json}\n`;
}

export interface ParsedJournal<T> {
  records: JournalRecord<T>[];
  /** Byte length of the valid prefix. */
  validBytes: number;
  /** Bytes after the valid prefix (a torn last record, or damage). */
  invalidBytes: number;
}

/** Parses journal bytes; never throws on damage, it stops at the first record that does not check out. */
export function parseJournal<T>(bytes: Buffer): ParsedJournal<T> {
  const records: JournalRecord<T>[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(0x0a, offset);
    if (end < 0) break;
    const line = bytes.subarray(offset, end).toString('utf8');
    const sum = line.slice(0, 16);
    const json = line.slice(17);
    if (line[16] !== ' ' || checksum(json) !== sum) break;
    let record: JournalRecord<T>;
    try {
      record = JSON.parse(json) as JournalRecord<T>;
    } catch {
      break;
    }
    if (!OTA_STATES.includes(record.state) || typeof record.seq !== 'number') break;
    records.push(record);
    offset = end + 1;
  }
  return { records, validBytes: offset, invalidBytes: bytes.length - offset };
}

export class Journal<T> {
  readonly path: string;
  #fs: OtaFs;
  #records: JournalRecord<T>[];
  #maxRecords: number;
  #now: () => number;

  private constructor(fs: OtaFs, path: string, records: JournalRecord<T>[], maxRecords: number, now: () => number) {
    this.#fs = fs;
    this.path = path;
    this.#records = records;
    this.#maxRecords = maxRecords;
    this.#now = now;
  }

  /** Reads the journal (creating its folder) and rewrites it without a torn tail, so appends start on a clean line. */
  /** `readOnly` (ota status): creates no folder and leaves a torn tail for the next writer to cut. */
  static async open<T>(fs: OtaFs, path: string, options: { maxRecords?: number; now?: () => number; readOnly?: boolean } = {}): Promise<Journal<T>> {
    if (!options.readOnly) await fs.mkdir(dirname(path));
    const bytes = (await readIfExists(fs, path)) ?? Buffer.alloc(0);
    const parsed = parseJournal<T>(bytes);
    if (parsed.invalidBytes > 0 && !options.readOnly) {
      log.warn(`${path}: dropping ${parsed.invalidBytes} damaged byte(s) after record ${parsed.records.length} (torn write at a power cut)`);
      await replaceFile(fs, path, bytes.subarray(0, parsed.validBytes));
    }
    return new Journal<T>(fs, path, parsed.records, options.maxRecords ?? 200, options.now ?? Date.now);
  }

  get records(): readonly JournalRecord<T>[] {
    return this.#records;
  }

  get last(): JournalRecord<T> | null {
    return this.#records.at(-1) ?? null;
  }

  /** Appends a record and makes it durable; resolves only when file (and directory) are fsync'd. */
  async append(state: OtaState, data: T): Promise<JournalRecord<T>> {
    if (!OTA_STATES.includes(state)) throw new SidewalkError('OTA_JOURNAL_STATE', `${this.path}: unknown state ${JSON.stringify(state)}`);
    const record: JournalRecord<T> = { seq: (this.last?.seq ?? 0) + 1, atMs: this.#now(), state, data };
    if (this.#records.length + 1 > this.#maxRecords) {
      await replaceFile(this.#fs, this.path, encodeRecord(record));
      this.#records = [record];
      return record;
    }
    const isNew = (await this.#fs.stat(this.path)) === null;
    const handle = await this.#fs.open(this.path, 'a');
    try {
      await handle.write(Buffer.from(encodeRecord(record)));
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (isNew) await this.#fs.syncDir(dirname(this.path));
    this.#records.push(record);
    return record;
  }
}
