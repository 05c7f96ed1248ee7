/**
 * Exports a location's dataset snapshot for training: DIR/<split>/<class>/<frame hash>.png, cropped and
 * resized as the export's `input` says (one ffmpeg for the whole snapshot), plus DIR/dataset.json:
 * counts, class balance, source rides, filters applied and a content hash of the snapshot (over split,
 * class, frame hash and the preprocessing parameters).
 * The `input` is a model manifest's (`--manifest`) or, by default, whole frames at a chosen size
 * (exportManifest). A crop is applied here OR by the trainer, once: dataset.json's preprocessing.crop
 * is the crop applied here, null when none (a whole-frame crop is no crop).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { DEFAULT_GROUPS, DEFAULT_LABELS, type ModelManifest } from '../../runtime/inference/manifest-types.js';
import { getSetting, type Db, type Split } from './db.js';
import { QUALITY_FLAGS } from './filters.js';
import { sha256 } from './images.js';
import type { FrameStore } from './store.js';

export interface ExportOptions {
  location: string;
  outDir: string;
  manifest: ModelManifest;
  /** Include frames with quality flags (default: exclude every flagged frame). */
  includeFlagged?: boolean;
}

export interface DatasetManifest {
  format: 'sidewalk-dataset/1';
  location: string;
  created_at: string;
  content_hash: string;
  /** crop: the crop applied to the exported images, as fractions of the camera frame; null = whole frames. */
  preprocessing: { width: number; height: number; crop: Crop | null; resize: string; model: string };
  labels: string[];
  counts: Record<Split, Record<string, number>>;
  class_balance: Record<string, number>;
  source_rides: { content_hash: string; ride_key: string | null; split: Split; frames: number }[];
  filters: { excluded_flags: string[] | 'none'; thresholds: unknown };
  skipped_labels: Record<string, number>;
  /** Identical images also present in a held-out split, left out of train/val. */
  cross_split_duplicates_dropped: number;
}

type Crop = ModelManifest['input']['crop'];

export const WHOLE_FRAME: Crop = { x: 0, y: 0, width: 1, height: 1 };

/** A crop of the whole frame is no crop. */
export function isWholeFrame(c: Crop): boolean {
  return c.x === 0 && c.y === 0 && c.width === 1 && c.height === 1;
}

/** "x,y,width,height" fractions inside the frame; DATA_BAD_OPTION names the option otherwise. */
export function parseCrop(text: string, option = '--crop'): Crop {
  const v = text.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
  const [x, y, width, height] = v as [number, number, number, number];
  if (v.length !== 4 || v.some((n) => !Number.isFinite(n) || n < 0 || n > 1) || width <= 0 || height <= 0 || x + width > 1 + 1e-9 || y + height > 1 + 1e-9) {
    throw new SidewalkError('DATA_BAD_OPTION', `${option} "${text}": expected x,y,width,height as fractions 0..1 inside the frame`);
  }
  return { x, y, width, height };
}

/** The `input` of an export made without a model: frames (whole, or cropped to `crop`) at width x height, legacy labels. */
export function exportManifest(o: { width: number; height: number; crop?: Crop; location: string }): ModelManifest {
  return {
    format: 'sidewalk-model/1',
    name: 'export',
    version: '0.0.0',
    location: o.location,
    labels: [...DEFAULT_LABELS],
    groups: { sidewalk: [...DEFAULT_GROUPS.sidewalk], road: [...DEFAULT_GROUPS.road] },
    input: {
      width: o.width,
      height: o.height,
      dtype: 'uint8',
      color_order: 'rgb',
      normalization: { scale: 1, offset: 0 },
      crop: o.crop ?? WHOLE_FRAME,
      resize: 'bilinear',
    },
    files: {},
  };
}

/** Reads manifest.json (or a bundle folder holding it) and checks the fields export needs. */
export async function readModelManifest(path: string): Promise<ModelManifest> {
  const file = (await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  ))
    ? join(path, 'manifest.json')
    : path;
  let m: ModelManifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as ModelManifest;
  } catch (err) {
    throw new SidewalkError('DATA_MANIFEST_INVALID', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const c = m?.input?.crop;
  const ok =
    Array.isArray(m?.labels) &&
    Number.isInteger(m.input?.width) &&
    Number.isInteger(m.input?.height) &&
    c &&
    [c.x, c.y, c.width, c.height].every((v) => typeof v === 'number' && v >= 0 && v <= 1) &&
    c.x + c.width <= 1 &&
    c.y + c.height <= 1 &&
    c.width > 0 &&
    c.height > 0;
  if (!ok) throw new SidewalkError('DATA_MANIFEST_INVALID', `${file}: needs labels, input.width, input.height and input.crop (fractions 0..1 inside the frame)`);
  if (m.input.pre_resize !== undefined || (m.input.resize !== undefined && m.input.resize !== 'bilinear')) {
    // ffmpeg cannot reproduce OpenCV's area resize; whole frames let the device's own code do it.
    throw new SidewalkError(
      'DATA_MANIFEST_UNSUPPORTED',
      `${file}: input.resize "${m.input.resize}"${m.input.pre_resize ? ' with input.pre_resize' : ''} ` +
        'cannot be reproduced by export; export whole frames (without --manifest): training and evaluation then crop and resize as the manifest says',
    );
  }
  return m;
}

function preprocess(inputs: string[], outDir: string, m: ModelManifest): Promise<void> {
  const c = m.input.crop;
  const vf = `crop=w=iw*${c.width}:h=ih*${c.height}:x=iw*${c.x}:y=ih*${c.y},scale=${m.input.width}:${m.input.height}:flags=bilinear,format=rgb24`;
  return new Promise((resolve, reject) => {
    const ff = spawn(
      'ffmpeg',
      ['-hide_banner', '-v', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', '-', '-vf', vf, '-fps_mode', 'passthrough', '-start_number', '0', '-f', 'image2', join(outDir, '%08d.png')],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    ff.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    ff.stdin.on('error', () => {});
    ff.on('error', (e) => reject(new SidewalkError('DATA_FFMPEG', `cannot run ffmpeg: ${e.message}`)));
    ff.on('close', (code) => (code === 0 ? resolve() : reject(new SidewalkError('DATA_EXPORT_FAILED', `ffmpeg exited ${code}: ${err.trim()}`))));
    void (async () => {
      for (const f of inputs) if (!ff.stdin.write(await readFile(f))) await new Promise((r) => ff.stdin.once('drain', r));
      ff.stdin.end();
    })().catch((e: Error) => {
      ff.kill('SIGKILL');
      reject(e);
    });
  });
}

export async function exportDataset(db: Db, store: FrameStore, opts: ExportOptions): Promise<DatasetManifest> {
  const loc = db.prepare('SELECT id FROM locations WHERE name = ?').get(opts.location) as { id: number } | undefined;
  if (!loc) throw new SidewalkError('DATA_LOCATION_UNKNOWN', `location "${opts.location}" has no rides`);
  const rows = db
    .prepare(`SELECT f.content_hash AS hash, f.path, f.label, r.split, r.content_hash AS ride_hash, r.ride_key
      FROM frames f JOIN rides r ON r.id = f.ride_id
      WHERE r.location_id = ? AND f.label IS NOT NULL AND r.split IS NOT NULL
      ${opts.includeFlagged ? '' : 'AND NOT EXISTS (SELECT 1 FROM frame_flags ff WHERE ff.frame_id = f.id)'}
      ORDER BY r.split, f.label, f.content_hash`)
    .all(loc.id) as { hash: string; path: string; label: string; split: Split; ride_hash: string; ride_key: string | null }[];
  const skipped: Record<string, number> = {};
  const seen = new Set<string>();
  // The same image in two rides of different splits would leak: held-out splits win (test, then val).
  const rank: Record<Split, number> = { test: 0, val: 1, train: 2 };
  const bestSplit = new Map<string, Split>();
  for (const r of rows) {
    const b = bestSplit.get(r.hash);
    if (!b || rank[r.split] < rank[b]) bestSplit.set(r.hash, r.split);
  }
  let crossSplit = 0;
  const selected = rows.filter((r) => {
    if (bestSplit.get(r.hash) !== r.split) {
      crossSplit++;
      return false;
    }
    if (!opts.manifest.labels.includes(r.label)) {
      skipped[r.label] = (skipped[r.label] ?? 0) + 1;
      return false;
    }
    const key = `${r.split}/${r.label}/${r.hash}`; // identical images (same hash) once per folder
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (selected.length === 0) throw new SidewalkError('DATA_EXPORT_EMPTY', `location "${opts.location}" has no labelled, split, unflagged frames to export`);
  await mkdir(opts.outDir, { recursive: true });
  if ((await readdir(opts.outDir)).length > 0) throw new SidewalkError('DATA_EXPORT_NOT_EMPTY', `${opts.outDir}: output folder is not empty`);
  const tmp = await mkdtemp(join(opts.outDir, '.tmp-'));
  try {
    await preprocess(
      selected.map((r) => store.abs(r.path)),
      tmp,
      opts.manifest,
    );
    const made = (await readdir(tmp)).filter((f) => f.endsWith('.png')).sort();
    if (made.length !== selected.length) throw new SidewalkError('DATA_EXPORT_FAILED', `ffmpeg wrote ${made.length} images for ${selected.length} frames`);
    for (let i = 0; i < selected.length; i++) {
      const r = selected[i]!;
      await mkdir(join(opts.outDir, r.split, r.label), { recursive: true });
      await rename(join(tmp, made[i]!), join(opts.outDir, r.split, r.label, `${r.hash}.png`));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const counts: Record<Split, Record<string, number>> = { train: {}, val: {}, test: {} };
  const perClass: Record<string, number> = {};
  const rides = new Map<string, DatasetManifest['source_rides'][number]>();
  for (const r of selected) {
    counts[r.split][r.label] = (counts[r.split][r.label] ?? 0) + 1;
    perClass[r.label] = (perClass[r.label] ?? 0) + 1;
    const ride = rides.get(r.ride_hash) ?? { content_hash: r.ride_hash, ride_key: r.ride_key, split: r.split, frames: 0 };
    ride.frames++;
    rides.set(r.ride_hash, ride);
  }
  const i = opts.manifest.input;
  const preprocessing = { width: i.width, height: i.height, crop: isWholeFrame(i.crop) ? null : i.crop, resize: i.resize ?? 'bilinear', model: `${opts.manifest.name}@${opts.manifest.version}` };
  const contentHash = sha256([JSON.stringify({ width: i.width, height: i.height, crop: i.crop, resize: preprocessing.resize }), ...selected.map((r) => `${r.split}/${r.label}/${r.hash}`)].join('\n'));
  const manifest: DatasetManifest = {
    format: 'sidewalk-dataset/1',
    location: opts.location,
    created_at: new Date().toISOString(),
    content_hash: contentHash,
    preprocessing,
    labels: opts.manifest.labels,
    counts,
    class_balance: Object.fromEntries(
      Object.entries(perClass)
        .sort()
        .map(([k, v]) => [k, Math.round((v / selected.length) * 1e4) / 1e4]),
    ),
    source_rides: [...rides.values()].sort((a, b) => (a.content_hash < b.content_hash ? -1 : 1)),
    filters: { excluded_flags: opts.includeFlagged ? 'none' : [...QUALITY_FLAGS], thresholds: getSetting(db, 'filters') ?? 'ingest defaults' },
    skipped_labels: skipped,
    cross_split_duplicates_dropped: crossSplit,
  };
  await writeFile(join(opts.outDir, 'dataset.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
