/**
 * Cross-ride near-duplicates: a frame whose 64-bit dHash is within `maxDistance` bits of a frame of an
 * EARLIER ride (ride id order = ingest order) of the same location is flagged `duplicate_of_other_ride`,
 * with the id of the earliest such frame. Two rides over the same street would otherwise leak across
 * ride-based splits.
 *
 * Multi-index hashing instead of all pairs: the 64 bits are cut into m >= d+1 disjoint bands; two hashes
 * within distance d differ in at most d bands, so at least one band is equal (pigeonhole). Each band has
 * an index (item numbers sorted by band value); candidates come from exact band matches only and are
 * confirmed with the full Hamming distance. Memory per item: 8 bytes of hash + 12 per band (item number and
 * hash in bucket order; + 4 per band wider than 16 bits, i.e. d < 3), plus 256 KB per 16-bit band.
 */
import type { Db } from './db.js';

export const CROSS_RIDE_FLAG = 'duplicate_of_other_ride';

/** A 16-hex-digit dHash as its high and low 32-bit halves. */
export function parseDhash(hex: string): [number, number] {
  return [parseInt(hex.slice(0, 8), 16) >>> 0, parseInt(hex.slice(8, 16), 16) >>> 0];
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function hamming64(hiA: number, loA: number, hiB: number, loB: number): number {
  return popcount32((hiA ^ hiB) >>> 0) + popcount32((loA ^ loB) >>> 0);
}

interface Band {
  /** 0 = high half, 1 = low half. */
  half: 0 | 1;
  shift: number;
  mask: number;
}

/** m = max(2, d+1) disjoint bands, ceil(m/2) over the high 32 bits and floor(m/2) over the low ones. */
export function bandLayout(maxDistance: number): Band[] {
  const m = Math.min(64, Math.max(2, Math.floor(maxDistance) + 1));
  const bands: Band[] = [];
  for (const [half, count] of [
    [0, Math.ceil(m / 2)],
    [1, Math.floor(m / 2)],
  ] as const) {
    let shift = 0;
    for (let b = 0; b < count; b++) {
      const width = Math.floor(32 / count) + (b < 32 % count ? 1 : 0);
      bands.push({ half, shift, mask: width === 32 ? 0xffffffff : (1 << width) - 1 });
      shift += width;
    }
  }
  return bands;
}

/** Bands up to this wide get a direct offsets table (2^bits + 1 entries); wider ones a sorted key column. */
const DIRECT_BITS = 16;

interface BandTable {
  band: Band;
  /** Item numbers sorted by (band value, item number), and their hashes in the same order (scans stay sequential in memory). */
  items: Uint32Array;
  hi: Uint32Array;
  lo: Uint32Array;
  /** Narrow bands: items[offsets[v] .. offsets[v + 1]) have band value v. */
  offsets?: Uint32Array;
  /** Wide bands: the band value of items[p], for binary search. */
  keys?: Uint32Array;
}

/** Band indexes over a fixed list of hashes (items 0..n-1). */
export class BandIndex {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly #tables: BandTable[];

  constructor(hi: Uint32Array, lo: Uint32Array, maxDistance: number) {
    this.hi = hi;
    this.lo = lo;
    const n = hi.length;
    const keys = new Uint32Array(n);
    this.#tables = bandLayout(maxDistance).map((band) => {
      for (let i = 0; i < n; i++) keys[i] = bandValue(band, hi[i]!, lo[i]!);
      const items = new Uint32Array(n);
      if (band.mask < 2 ** DIRECT_BITS) {
        // Counting sort: stable, so each bucket stays in item order.
        const offsets = new Uint32Array(band.mask + 2);
        for (let i = 0; i < n; i++) offsets[keys[i]! + 1]!++;
        for (let v = 1; v < offsets.length; v++) offsets[v]! += offsets[v - 1]!;
        const next = offsets.slice(0, -1);
        for (let i = 0; i < n; i++) items[next[keys[i]!]!++] = i;
        return { band, items, hi: items.map((i) => hi[i]!), lo: items.map((i) => lo[i]!), offsets };
      }
      for (let i = 0; i < n; i++) items[i] = i;
      items.sort((a, b) => keys[a]! - keys[b]! || a - b);
      return { band, items, hi: items.map((i) => hi[i]!), lo: items.map((i) => lo[i]!), keys: items.map((i) => keys[i]!) };
    });
  }

  /** Bytes held by the index (hashes + per-band tables). */
  get bytes(): number {
    return this.#tables.reduce((s, t) => s + t.items.byteLength * 3 + (t.offsets?.byteLength ?? 0) + (t.keys?.byteLength ?? 0), this.hi.byteLength + this.lo.byteLength);
  }

  /**
   * Visits, band by band, every item that shares that band with (hi, lo), in item order, with its
   * Hamming distance to (hi, lo); `visit` returning true ends the current band. An item can be visited
   * once per band it shares.
   */
  scan(hi: number, lo: number, visit: (item: number, distance: number) => boolean): void {
    for (const t of this.#tables) {
      const key = bandValue(t.band, hi, lo);
      let start: number;
      let end: number;
      if (t.offsets) {
        start = t.offsets[key]!;
        end = t.offsets[key + 1]!;
      } else {
        const keys = t.keys!;
        start = lowerBound(keys, key);
        end = lowerBound(keys, key + 1);
      }
      for (let p = start; p < end; p++) if (visit(t.items[p]!, hamming64(hi, lo, t.hi[p]!, t.lo[p]!))) break;
    }
  }
}

function bandValue(band: Band, hi: number, lo: number): number {
  return (((band.half === 0 ? hi : lo) >>> band.shift) & band.mask) >>> 0;
}

function lowerBound(sorted: Uint32Array, key: number): number {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (sorted[mid]! < key) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * For items in (ride, frame) order: the first item of an earlier ride within maxDistance of each item,
 * or -1. `rideStart[i]` is the item number of the first item of i's ride.
 */
export function firstEarlierMatches(index: BandIndex, rideStart: Uint32Array, maxDistance: number): Int32Array {
  const { hi, lo } = index;
  const out = new Int32Array(hi.length).fill(-1);
  for (let i = 0; i < hi.length; i++) {
    const limit = rideStart[i]!;
    if (limit === 0) continue;
    let best = -1;
    index.scan(hi[i]!, lo[i]!, (j, distance) => {
      if (j >= limit || (best >= 0 && j >= best)) return true;
      if (distance <= maxDistance) {
        best = j;
        return true;
      }
      return false;
    });
    out[i] = best;
  }
  return out;
}

interface LocationFrames {
  frameIds: Float64Array;
  rideStart: Uint32Array;
  hi: Uint32Array;
  lo: Uint32Array;
}

/** Frames with a dHash of one location, in (ride id, frame id) order. */
function loadLocation(db: Db, locationId: number): LocationFrames {
  const n = (db.prepare('SELECT COUNT(*) AS n FROM frames f JOIN rides r ON r.id = f.ride_id WHERE r.location_id = ? AND f.dhash IS NOT NULL').get(locationId) as { n: number }).n;
  const out: LocationFrames = { frameIds: new Float64Array(n), rideStart: new Uint32Array(n), hi: new Uint32Array(n), lo: new Uint32Array(n) };
  const rides = db.prepare('SELECT id FROM rides WHERE location_id = ? ORDER BY id').pluck().all(locationId) as number[];
  const frames = db.prepare('SELECT id, dhash FROM frames WHERE ride_id = ? AND dhash IS NOT NULL ORDER BY id').raw();
  let i = 0;
  for (const ride of rides) {
    const start = i;
    for (const [id, dhash] of frames.iterate(ride) as IterableIterator<[number, string]>) {
      if (i >= n) break; // cannot happen inside the caller's transaction; never write past the arrays
      const [h, l] = parseDhash(dhash);
      out.frameIds[i] = id;
      out.rideStart[i] = start;
      out.hi[i] = h;
      out.lo[i] = l;
      i++;
    }
  }
  return i === n ? out : { frameIds: out.frameIds.subarray(0, i), rideStart: out.rideStart.subarray(0, i), hi: out.hi.subarray(0, i), lo: out.lo.subarray(0, i) };
}

export interface CrossRideResult {
  flagged: number;
  frames: number;
  indexBytes: number;
}

/**
 * Recomputes `duplicate_of_other_ride` for every frame of a location (run inside the caller's
 * transaction; the caller has removed the old flags).
 */
export function flagLocationDuplicates(db: Db, locationId: number, maxDistance: number): CrossRideResult {
  const loc = loadLocation(db, locationId);
  const index = new BandIndex(loc.hi, loc.lo, maxDistance);
  const matches = firstEarlierMatches(index, loc.rideStart, maxDistance);
  const insert = db.prepare(INSERT_CROSS_RIDE_FLAG_SQL);
  let flagged = 0;
  for (let i = 0; i < matches.length; i++) {
    if (matches[i]! < 0) continue;
    insert.run(loc.frameIds[i]!, loc.frameIds[matches[i]!]!);
    flagged++;
  }
  return { flagged, frames: matches.length, indexBytes: index.bytes + loc.frameIds.byteLength + loc.rideStart.byteLength };
}

/** The flag row for a cross-ride duplicate: (frame id, matched frame id). */
export const INSERT_CROSS_RIDE_FLAG_SQL = `INSERT INTO frame_flags (frame_id, flag, ref_frame_id) VALUES (?, '${CROSS_RIDE_FLAG}', ?)`;

/**
 * For each hash: the earliest frame (by ride id, then frame id) of the location's rides within
 * maxDistance, or null. Only these hashes are held in memory; the location's frames
 * are streamed past their band index (about 1 s per 250k stored frames).
 */
function earliestMatches(db: Db, locationId: number, dhashes: (string | null)[], maxDistance: number): (number | null)[] {
  const own = dhashes.flatMap((d, k) => (d ? [k] : []));
  const out: (number | null)[] = dhashes.map(() => null);
  if (own.length === 0) return out;
  const hi = new Uint32Array(own.length);
  const lo = new Uint32Array(own.length);
  own.forEach((k, i) => {
    [hi[i], lo[i]] = parseDhash(dhashes[k]!);
  });
  const index = new BandIndex(hi, lo, maxDistance);
  const bestRide = new Float64Array(own.length).fill(Infinity);
  const bestFrame = new Float64Array(own.length).fill(Infinity);
  const stored = db
    .prepare(`SELECT f.id, f.ride_id, f.dhash FROM rides r JOIN frames f ON f.ride_id = r.id
    WHERE r.location_id = ? AND f.dhash IS NOT NULL`)
    .raw();
  for (const [id, ride, dhash] of stored.iterate(locationId) as IterableIterator<[number, number, string]>) {
    const [h, l] = parseDhash(dhash);
    index.scan(h, l, (i, distance) => {
      if (distance <= maxDistance && (ride < bestRide[i]! || (ride === bestRide[i] && id < bestFrame[i]!))) {
        bestRide[i] = ride;
        bestFrame[i] = id;
      }
      return false;
    });
  }
  own.forEach((k, i) => {
    if (bestFrame[i] !== Infinity) out[k] = bestFrame[i]!;
  });
  return out;
}

/**
 * Ingest, BEFORE the ride's transaction: for each new frame's dHash (in frame order), the frame of an
 * earlier ride of `location` it duplicates, or null. Read-only, so the write lock is not held while the
 * location's frames are streamed; insert the non-null ones with INSERT_CROSS_RIDE_FLAG_SQL.
 */
export function findCrossRideDuplicates(db: Db, location: string, dhashes: (string | null)[], maxDistance: number): (number | null)[] {
  const loc = db.prepare('SELECT id FROM locations WHERE name = ?').pluck().get(location) as number | undefined;
  return loc === undefined ? dhashes.map(() => null) : earliestMatches(db, loc, dhashes, maxDistance);
}
