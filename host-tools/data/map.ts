/**
 * A ride's frames on a map: GeoJSON (points with simplestyle `marker-color` by label, plus
 * `prediction` and its colour) and KML (two folders, "by label" and "by prediction").
 * The prediction is the recorded model's top class; for legacy runs, the legacy model's sidewalk flag.
 */
import { SidewalkError } from '../../lib/errors.js';
import type { Db } from './db.js';
import { topClass, type ClassScores } from './labels.js';

export const CLASS_COLORS: Record<string, string> = {
  bike_lane: '#2ca02c',
  crosswalk: '#ffbf00',
  side: '#1f77b4',
  street: '#d62728',
  sidewalk: '#1f77b4',
  road: '#d62728',
};
const UNKNOWN = '#7f7f7f';

export interface MapPoint {
  idx: number;
  lat: number;
  lon: number;
  timeMs: number | null;
  speed: number | null;
  label: string | null;
  prediction: string | null;
}

export function findRide(db: Db, ref: string): { id: number; key: string } {
  const row = db
    .prepare(`SELECT id, COALESCE(ride_key, content_hash) AS key FROM rides
    WHERE CAST(id AS TEXT) = ? OR ride_key = ? OR content_hash LIKE ? ORDER BY id LIMIT 2`)
    .all(ref, ref, `${ref}%`) as { id: number; key: string }[];
  if (row.length === 0) throw new SidewalkError('DATA_RIDE_UNKNOWN', `no ride matches "${ref}" (ride id, ride key or content-hash prefix)`);
  if (row.length > 1 && !/^\d+$/.test(ref)) throw new SidewalkError('DATA_RIDE_AMBIGUOUS', `"${ref}" matches more than one ride`);
  return row[0]!;
}

export function ridePoints(db: Db, rideId: number): MapPoint[] {
  const rows = db
    .prepare(`SELECT f.idx, f.lat, f.lon, f.time_ms, COALESCE(f.speed_kph, f.speed_raw) AS speed, f.label, f.model_scores, f.legacy_json
    FROM frames f JOIN rides r ON r.id = f.ride_id WHERE f.ride_id = ? AND f.lat IS NOT NULL AND f.lon IS NOT NULL ORDER BY f.idx`)
    .all(rideId) as { idx: number; lat: number; lon: number; time_ms: number | null; speed: number | null; label: string | null; model_scores: string | null; legacy_json: string | null }[];
  return rows.map((r) => {
    let prediction: string | null = null;
    if (r.model_scores) {
      prediction = topClass(JSON.parse(r.model_scores) as ClassScores)?.[0] ?? null;
    } else if (r.legacy_json) {
      const out = (JSON.parse(r.legacy_json) as { out?: { sidewalk: number } }).out;
      if (out) prediction = out.sidewalk >= 0.5 ? 'sidewalk' : 'road';
    }
    return { idx: r.idx, lat: r.lat, lon: r.lon, timeMs: r.time_ms, speed: r.speed, label: r.label, prediction };
  });
}

const color = (c: string | null): string => (c ? (CLASS_COLORS[c] ?? UNKNOWN) : UNKNOWN);

export function toGeoJson(name: string, points: MapPoint[]): object {
  return {
    type: 'FeatureCollection',
    name,
    features: points.map((p) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [p.lon, p.lat] },
      properties: {
        frame: p.idx,
        time_ms: p.timeMs,
        speed: p.speed,
        label: p.label,
        prediction: p.prediction,
        'marker-color': color(p.label),
        label_color: color(p.label),
        prediction_color: color(p.prediction),
      },
    })),
  };
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** KML colours are aabbggrr. */
const kmlColor = (hex: string): string => `ff${hex.slice(5, 7)}${hex.slice(3, 5)}${hex.slice(1, 3)}`;

export function toKml(name: string, points: MapPoint[]): string {
  const styles = [...Object.keys(CLASS_COLORS), 'unknown']
    .map((k) => `<Style id="${k}"><IconStyle><color>${kmlColor(CLASS_COLORS[k] ?? UNKNOWN)}</color><scale>0.6</scale></IconStyle></Style>`)
    .join('\n    ');
  const folder = (title: string, pick: (p: MapPoint) => string | null): string =>
    `<Folder><name>${title}</name>\n${points
      .map((p) => {
        const cls = pick(p);
        return (
          `      <Placemark><name>${p.idx}</name><description>${xml(`${title.replace('by ', '')}: ${cls ?? 'none'}; speed ${p.speed ?? '?'}`)}</description>` +
          `<styleUrl>#${cls && CLASS_COLORS[cls] ? cls : 'unknown'}</styleUrl><Point><coordinates>${p.lon},${p.lat}</coordinates></Point></Placemark>`
        );
      })
      .join('\n')}\n    </Folder>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
  <Document>
    <name>${xml(name)}</name>
    ${styles}
    ${folder('by label', (p) => p.label)}
    ${folder('by prediction', (p) => p.prediction)}
  </Document>
</kml>
`;
}
