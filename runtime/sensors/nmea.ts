/**
 * NMEA 0183 parsing for the GPS speed source: RMC (speed over ground in knots, position) and VTG
 * (speed in km/h) from any talker (GP, GN, GL, GA, GB, ...). A sentence whose checksum is missing or
 * wrong is rejected: a corrupted speed must never reach the decision.
 */
export const KPH_PER_KNOT = 1.852;

export type NmeaFix = { kind: 'rmc'; valid: boolean; speedKph: number | null; lat: number | null; lon: number | null; utcTime: string } | { kind: 'vtg'; valid: boolean; speedKph: number | null };

export type NmeaResult = { ok: true; fix: NmeaFix } | { ok: false; reason: 'checksum' | 'format' | 'unsupported' };

/** XOR of every character between '$' and '*', as two upper-case hex digits. */
export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

/** ddmm.mmmm + hemisphere -> signed decimal degrees. */
function coordinate(value: string, hemisphere: string, degreeDigits: number): number | null {
  if (!new RegExp(`^\\d{${degreeDigits + 2}}(\\.\\d+)?$`).test(value)) return null;
  const degrees = Number(value.slice(0, degreeDigits));
  const minutes = Number(value.slice(degreeDigits));
  if (!Number.isFinite(degrees) || !Number.isFinite(minutes) || minutes >= 60) return null;
  const sign = hemisphere === 'S' || hemisphere === 'W' ? -1 : hemisphere === 'N' || hemisphere === 'E' ? 1 : 0;
  return sign === 0 ? null : sign * (degrees + minutes / 60);
}

function number(value: string | undefined): number | null {
  if (value === undefined || value === '' || !/^-?\d+(\.\d*)?$/.test(value)) return null;
  return Number(value);
}

export function parseNmea(line: string): NmeaResult {
  const m = /^\$([A-Z0-9]{2,}),?(.*)\*([0-9A-Fa-f]{2})\s*$/.exec(line.trim());
  if (!m) return { ok: false, reason: line.trim().startsWith('$') && !line.includes('*') ? 'checksum' : 'format' };
  const body = line.trim().slice(1, line.trim().lastIndexOf('*'));
  if (nmeaChecksum(body) !== m[3]!.toUpperCase()) return { ok: false, reason: 'checksum' };
  const fields = body.split(',');
  const type = fields[0]!.slice(-3);
  if (fields[0]!.length !== 5) return { ok: false, reason: 'unsupported' };
  if (type === 'RMC') {
    // $--RMC,time,status,lat,N/S,lon,E/W,sog(knots),cog,date,magvar,E/W[,mode[,navstatus]]
    if (fields.length < 10) return { ok: false, reason: 'format' };
    const mode = fields[12];
    const valid = fields[2] === 'A' && mode !== 'N';
    const knots = number(fields[7]);
    return {
      ok: true,
      fix: {
        kind: 'rmc',
        valid,
        speedKph: valid && knots !== null ? knots * KPH_PER_KNOT : null,
        lat: valid ? coordinate(fields[3]!, fields[4]!, 2) : null,
        lon: valid ? coordinate(fields[5]!, fields[6]!, 3) : null,
        utcTime: fields[1]!,
      },
    };
  }
  if (type === 'VTG') {
    // $--VTG,cog,T,cog,M,sog,N,sog,K[,mode]
    if (fields.length < 9) return { ok: false, reason: 'format' };
    const valid = fields[9] !== 'N';
    const kph = fields[8] === 'K' ? number(fields[7]) : null;
    const knots = fields[6] === 'N' ? number(fields[5]) : null;
    const speedKph = kph ?? (knots === null ? null : knots * KPH_PER_KNOT);
    return { ok: true, fix: { kind: 'vtg', valid: valid && speedKph !== null, speedKph: valid ? speedKph : null } };
  }
  return { ok: false, reason: 'unsupported' };
}
