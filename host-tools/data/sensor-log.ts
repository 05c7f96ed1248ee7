/**
 * Sensor logs that come with plain videos: CSV (header row required) or GPX 1.0/1.1 track points.
 * CSV columns (case-insensitive, any order; only a time column is required):
 *   t_ms | time_ms | time_s | time (seconds)   lat | latitude   lon | lng | longitude   alt_m | alt | ele
 *   speed_kph | speed_kmh | speed (km/h)        speed_ms | speed_mps (m/s)   label | rider_label
 * Times are relative to the start of the video (the first row is not shifted). GPX times are
 * absolute and taken relative to the first track point; speed comes from <speed> (m/s) when present,
 * else from the distance to the previous point.
 */
import { readFile } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';

export interface SensorSample {
  tMs: number;
  lat: number | null;
  lon: number | null;
  altM: number | null;
  speedKph: number | null;
  label: string | null;
}

const bad = (file: string, line: number, msg: string): SidewalkError => new SidewalkError('DATA_SENSOR_LOG_MALFORMED', `${file} line ${line}: ${msg}`, { details: { file, line } });

export function parseSensorCsv(text: string, file: string): SensorSample[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const col = (...names: string[]): number => header.findIndex((h) => names.includes(h));
  const iTime = col('t_ms', 'time_ms');
  const iTimeS = col('time_s', 'time');
  if (iTime < 0 && iTimeS < 0) throw bad(file, 1, `header has no time column (t_ms, time_ms, time_s or time): "${lines[0] ?? ''}"`);
  const iLat = col('lat', 'latitude');
  const iLon = col('lon', 'lng', 'longitude');
  const iAlt = col('alt_m', 'alt', 'ele');
  const iKph = col('speed_kph', 'speed_kmh', 'speed');
  const iMps = col('speed_ms', 'speed_mps');
  const iLabel = col('label', 'rider_label');
  const samples: SensorSample[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const f = line.split(',').map((s) => s.trim());
    if (f.length !== header.length) throw bad(file, i + 1, `expected ${header.length} columns, got ${f.length}`);
    const num = (idx: number, name: string): number | null => {
      if (idx < 0 || f[idx] === '') return null;
      const v = Number(f[idx]);
      if (!Number.isFinite(v)) throw bad(file, i + 1, `column ${idx + 1} (${name}): "${f[idx]}" is not a number`);
      return v;
    };
    const tMs = iTime >= 0 ? num(iTime, header[iTime]!) : (num(iTimeS, header[iTimeS]!) ?? Number.NaN) * 1000;
    if (tMs === null || !Number.isFinite(tMs)) throw bad(file, i + 1, 'time is empty');
    const mps = num(iMps, 'speed_ms');
    samples.push({
      tMs,
      lat: num(iLat, 'lat'),
      lon: num(iLon, 'lon'),
      altM: num(iAlt, 'alt'),
      speedKph: num(iKph, 'speed_kph') ?? (mps === null ? null : mps * 3.6),
      label: iLabel >= 0 && f[iLabel] !== '' ? f[iLabel]! : null,
    });
  }
  return samples.sort((a, b) => a.tMs - b.tMs);
}

export function haversineM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = 6_371_000;
  const toRad = (d: number): number => (d * Math.PI) / 180;
  const dLat = toRad(lat2 - lat1);
  const dLon = toRad(lon2 - lon1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(lat1)) * Math.cos(toRad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(a));
}

export function parseGpx(text: string, file: string): SensorSample[] {
  const samples: SensorSample[] = [];
  const re = /<trkpt\b([^>]*)>([\s\S]*?)<\/trkpt>/g;
  let t0: number | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const line = text.slice(0, m.index).split('\n').length;
    const attr = (n: string): number => {
      const a = new RegExp(`${n}\\s*=\\s*"([^"]*)"`).exec(m![1]!);
      const v = a ? Number(a[1]) : Number.NaN;
      if (!Number.isFinite(v)) throw bad(file, line, `trkpt ${n} is missing or not a number`);
      return v;
    };
    const tag = (n: string): string | null => new RegExp(`<${n}>([^<]*)</${n}>`).exec(m![2]!)?.[1]?.trim() ?? null;
    const timeText = tag('time');
    const time = timeText ? Date.parse(timeText) : Number.NaN;
    if (!Number.isFinite(time)) throw bad(file, line, `trkpt has no valid <time> (${timeText ?? 'missing'})`);
    t0 ??= time;
    const ele = tag('ele');
    const speed = tag('speed');
    samples.push({ tMs: time - t0, lat: attr('lat'), lon: attr('lon'), altM: ele === null ? null : Number(ele), speedKph: speed === null ? null : Number(speed) * 3.6, label: null });
  }
  if (samples.length === 0) throw bad(file, 1, 'no <trkpt> with a time');
  for (let i = 1; i < samples.length; i++) {
    const s = samples[i]!;
    const p = samples[i - 1]!;
    if (s.speedKph === null && s.tMs > p.tMs) s.speedKph = (haversineM(p.lat!, p.lon!, s.lat!, s.lon!) / ((s.tMs - p.tMs) / 1000)) * 3.6;
  }
  if (samples[0]!.speedKph === null && samples.length > 1) samples[0]!.speedKph = samples[1]!.speedKph;
  return samples;
}

export async function readSensorLog(file: string): Promise<{ samples: SensorSample[]; bytes: Buffer }> {
  const bytes = await readFile(file).catch((err: Error) => {
    throw new SidewalkError('DATA_SENSOR_LOG_MALFORMED', `${file}: cannot read (${err.message})`);
  });
  const text = bytes.toString('utf8');
  const samples = /\.gpx$/i.test(file) || text.trimStart().startsWith('<') ? parseGpx(text, file) : parseSensorCsv(text, file);
  return { samples, bytes };
}

/** The latest sample at or before `tMs` (the first sample for earlier times); null when there are none. */
export function sampleAt(samples: SensorSample[], tMs: number): SensorSample | null {
  if (samples.length === 0) return null;
  let lo = 0;
  let hi = samples.length - 1;
  if (tMs <= samples[0]!.tMs) return samples[0]!;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (samples[mid]!.tMs <= tMs) lo = mid;
    else hi = mid - 1;
  }
  return samples[lo]!;
}
