import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNmea, type NmeaFix } from '../../../runtime/sensors/index.js';

// Classic published sentences (checksums verified) and u-blox-style GN-talker sentences whose
// checksums were computed independently with Python (XOR of the body).
const RMC_CLASSIC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';
const RMC_WEST = '$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68';
const VTG_CLASSIC = '$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48';
const GNRMC_LA = '$GNRMC,101530.00,A,3403.08720,N,11814.52250,W,12.150,85.10,270526,,,A*6F';
const GNVTG_LA = '$GNVTG,85.10,T,,M,12.150,N,22.502,K,A*1F';
const GNVTG_EMPTY_COG = '$GNVTG,,T,,M,0.004,N,0.008,K,A*31';
const RMC_NO_FIX = '$GPRMC,235947.000,V,0000.0000,N,00000.0000,E,,,041299,,,N*7F';
const GGA = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';

const fix = (line: string): NmeaFix => {
  const r = parseNmea(line);
  assert.ok(r.ok, `${line} should parse`);
  return r.fix;
};
const close = (a: number | null, b: number, eps = 1e-9) => assert.ok(a !== null && Math.abs(a - b) < eps, `${a} != ${b}`);

describe('NMEA parser', () => {
  test('RMC: knots to km/h, ddmm.mmm to degrees, hemispheres', () => {
    const f = fix(RMC_CLASSIC);
    assert.equal(f.kind, 'rmc');
    assert.equal(f.valid, true);
    close(f.speedKph, 22.4 * 1.852);
    if (f.kind !== 'rmc') return;
    close(f.lat, 48 + 7.038 / 60);
    close(f.lon, 11 + 31 / 60);
    const w = fix(RMC_WEST);
    if (w.kind !== 'rmc') assert.fail('rmc expected');
    close(w.lon, -(123 + 11.12 / 60));
    close(w.speedKph, 0.5 * 1.852);
    const la = fix(GNRMC_LA);
    if (la.kind !== 'rmc') assert.fail('rmc expected');
    close(la.lat, 34 + 3.0872 / 60);
    close(la.lon, -(118 + 14.5225 / 60));
    close(la.speedKph, 12.15 * 1.852);
  });

  test('VTG: km/h field, with and without course', () => {
    close(fix(VTG_CLASSIC).speedKph, 10.2);
    close(fix(GNVTG_LA).speedKph, 22.502);
    close(fix(GNVTG_EMPTY_COG).speedKph, 0.008);
  });

  test('a receiver without a fix gives no speed', () => {
    const f = fix(RMC_NO_FIX);
    assert.equal(f.valid, false);
    assert.equal(f.speedKph, null);
  });

  test('bad or missing checksums, garbage and other sentences are rejected', () => {
    // One digit corrupted in transit (022.4 -> 092.4), checksum unchanged.
    assert.deepEqual(parseNmea(RMC_CLASSIC.replace('022.4', '092.4')), { ok: false, reason: 'checksum' });
    assert.deepEqual(parseNmea(VTG_CLASSIC.replace('*48', '*49')), { ok: false, reason: 'checksum' });
    assert.deepEqual(parseNmea(VTG_CLASSIC.slice(0, VTG_CLASSIC.indexOf('*'))), { ok: false, reason: 'checksum' });
    assert.deepEqual(parseNmea('\u0000\u00ff garbage'), { ok: false, reason: 'format' });
    assert.deepEqual(parseNmea(GGA), { ok: false, reason: 'unsupported' });
    assert.equal(parseNmea(VTG_CLASSIC.replace('*48', '*48\r')).ok, true, 'CR LF line ends are fine');
  });
});
