import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGpx, parseSensorCsv, sampleAt } from '../../../host-tools/data/sensor-log.js';

describe('video sensor logs', () => {
  test('CSV: named columns in any order, seconds or ms, m/s converted', () => {
    const s = parseSensorCsv('speed_ms,time_s,lat,lon,label\n5,1.5,34.1,-118.2,side\n2,0,34.0,-118.2,\n', 'log.csv');
    assert.deepEqual(
      s.map((x) => x.tMs),
      [0, 1500],
    );
    assert.equal(s[1]!.speedKph, 18);
    assert.equal(s[1]!.label, 'side');
    assert.equal(s[0]!.label, null);
    assert.equal(sampleAt(s, 1499)!.tMs, 0);
    assert.equal(sampleAt(s, 9999)!.tMs, 1500);
  });

  test('CSV errors name file and line', () => {
    assert.throws(() => parseSensorCsv('lat,lon\n1,2\n', 'a.csv'), /a\.csv line 1: header has no time column/);
    assert.throws(() => parseSensorCsv('t_ms,lat,lon\n0,1,2\n100,1\n', 'a.csv'), /a\.csv line 3: expected 3 columns, got 2/);
    assert.throws(() => parseSensorCsv('t_ms,lat\n0,north\n', 'a.csv'), /a\.csv line 2: column 2 \(lat\): "north" is not a number/);
  });

  test('GPX: times relative to the first point, speed from distance when absent', () => {
    const gpx = `<?xml version="1.0"?><gpx><trk><trkseg>
<trkpt lat="34.0000" lon="-118.0"><ele>90</ele><time>2026-01-01T00:00:00Z</time></trkpt>
<trkpt lat="34.0001" lon="-118.0"><ele>90</ele><time>2026-01-01T00:00:02Z</time></trkpt>
</trkseg></trk></gpx>`;
    const s = parseGpx(gpx, 't.gpx');
    assert.deepEqual(
      s.map((x) => x.tMs),
      [0, 2000],
    );
    // 0.0001 degree of latitude = 11.12 m in 2 s = 20.0 km/h
    assert.ok(Math.abs(s[1]!.speedKph! - 20.0) < 0.1, String(s[1]!.speedKph));
    assert.throws(() => parseGpx('<gpx>\n<trkpt lat="1" lon="2"></trkpt></gpx>', 'b.gpx'), /b\.gpx line 2: trkpt has no valid <time>/);
  });
});
