/**
 * Reads one split of a dataset export (DIR/<split>/<class>/*.png|jpg + DIR/dataset.json, as written
 * by `sidewalk data export` or the demo dataset) and decodes its images to rgb24 frames at their own
 * size with ffmpeg: one decoder per (codec, size) group, so thousands of images cost a few spawns.
 */
import type { ModelManifest } from '../../runtime/inference/manifest-types.js';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import { RawVideoReader } from '../../runtime/camera/ffmpeg-reader.js';
import { checkJpeg } from '../data/images.js';

export interface DatasetItem {
  path: string;
  label: string;
  kind: 'png' | 'jpeg';
  width: number;
  height: number;
}

export interface DatasetSplit {
  dir: string;
  split: string;
  items: DatasetItem[];
  /** dataset.json's content_hash, else "sha256:" over every file's relative path and bytes. */
  hash: string;
  /** dataset.json's location (host-tools/data exports), when present. */
  location: string | null;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const DECODERS_AHEAD = 4;

/** Image size from the file's header (PNG IHDR, JPEG SOF); EVAL_IMAGE_UNREADABLE names the file. */
export async function imageHeader(path: string): Promise<{ kind: 'png' | 'jpeg'; width: number; height: number }> {
  const bytes = await readFile(path);
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) {
    if (bytes.length < 24 || bytes.toString('ascii', 12, 16) !== 'IHDR') {
      throw new SidewalkError('EVAL_IMAGE_UNREADABLE', `${path} byte 12: PNG without an IHDR chunk`, { details: { file: path } });
    }
    return { kind: 'png', width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    try {
      return { kind: 'jpeg', ...checkJpeg(bytes, path) };
    } catch (err) {
      throw new SidewalkError('EVAL_IMAGE_UNREADABLE', (err as Error).message, { cause: err, details: { file: path } });
    }
  }
  throw new SidewalkError('EVAL_IMAGE_UNREADABLE', `${path} byte 0: neither PNG nor JPEG`, { details: { file: path } });
}

export async function readDatasetSplit(dir: string, split: string, labels: readonly string[]): Promise<DatasetSplit> {
  const splitDir = join(dir, split);
  if (
    !(await stat(splitDir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new SidewalkError('EVAL_DATA_MISSING', `${splitDir}: no such split folder in the dataset export`, { details: { dir: splitDir } });
  }
  const classes = (await readdir(splitDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const unknown = classes.filter((c) => !labels.includes(c));
  if (unknown.length > 0) {
    throw new SidewalkError('EVAL_DATA_UNKNOWN_CLASS', `${splitDir}: class folder(s) ${unknown.join(', ')} are not labels of the model (${labels.join(', ')})`, {
      details: { dir: splitDir, unknown },
    });
  }
  const items: DatasetItem[] = [];
  for (const label of labels) {
    if (!classes.includes(label)) continue;
    const names = (await readdir(join(splitDir, label))).filter((n) => /\.(png|jpe?g)$/i.test(n)).sort();
    for (const name of names) {
      const path = join(splitDir, label, name);
      items.push({ path, label, ...(await imageHeader(path)) });
    }
  }
  // Path order, whatever the model's label order: parity lines exports and Keras up image by image.
  items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (items.length === 0) throw new SidewalkError('EVAL_DATA_EMPTY', `${splitDir}: no .png/.jpg images in any class folder`, { details: { dir: splitDir } });
  const meta = await readDatasetJson(dir);
  return { dir, split, items, hash: meta.hash ?? (await hashFiles(dir, items)), location: meta.location };
}

type Crop = ModelManifest['input']['crop'];

/**
 * The camera-frame crop a `sidewalk data export` already applied to its images (dataset.json
 * preprocessing.crop), or null for images that are whole frames (no crop, null, or a whole-frame crop).
 */
export async function exportedCrop(dir: string): Promise<Crop | null> {
  return (await readDatasetJson(dir)).crop;
}

async function readDatasetJson(dir: string): Promise<{ hash: string | null; location: string | null; crop: Crop | null }> {
  const file = join(dir, 'dataset.json');
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return { hash: null, location: null, crop: null };
  let value: { content_hash?: unknown; location?: unknown; preprocessing?: { crop?: Crop } };
  try {
    value = JSON.parse(text) as typeof value;
  } catch (err) {
    throw new SidewalkError('EVAL_DATASET_JSON', `${file}: not valid JSON (${(err as Error).message})`, { details: { file } });
  }
  return {
    hash: typeof value.content_hash === 'string' && value.content_hash !== '' ? value.content_hash : null,
    location: typeof value.location === 'string' && value.location !== '' ? value.location : null,
    crop: isCropped(value.preprocessing?.crop) ? value.preprocessing!.crop! : null,
  };
}

/** An export's crop of the whole frame (older exports wrote one) is no crop. */
function isCropped(c: Crop | null | undefined): boolean {
  return c !== null && c !== undefined && !(c.x === 0 && c.y === 0 && c.width === 1 && c.height === 1);
}

/** Same recipe as the trainer's dataset_hash fallback (relative path, NUL, file sha256, newline). */
async function hashFiles(dir: string, items: DatasetItem[]): Promise<string> {
  const digest = createHash('sha256');
  for (const item of items) {
    const fileHash = createHash('sha256')
      .update(await readFile(item.path))
      .digest('hex');
    digest.update(`${relative(dir, item.path)}\0${fileHash}\n`);
  }
  return `sha256:${digest.digest('hex')}`;
}

/**
 * Decodes items to rgb24 (tightly packed rows), yielding them grouped by codec and size (the order
 * within a group is kept). `rgb` is only valid until the consumer asks for the next one.
 */
export async function* decodeImages<T extends { path: string; kind: 'png' | 'jpeg'; width: number; height: number }>(items: readonly T[]): AsyncGenerator<{ item: T; rgb: Uint8Array }> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.kind}:${item.width}x${item.height}`;
    const list = groups.get(key) ?? [];
    list.push(item);
    groups.set(key, list);
  }
  const list = [...groups.values()];
  // ffmpeg's start-up (~0.1 s) dominates small groups.
  const start = (group: T[]): RawVideoReader => {
    const { kind, width, height } = group[0]!;
    const input = Readable.from(
      (async function* () {
        for (const item of group) yield await readFile(item.path);
      })(),
    );
    const reader = new RawVideoReader({
      args: ['-hide_banner', '-v', 'error', '-f', 'image2pipe', '-c:v', kind === 'png' ? 'png' : 'mjpeg', '-i', '-', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-fps_mode', 'passthrough', '-'],
      frameBytes: width * height * 3,
      input,
      label: `${group.length} ${kind} image(s) of ${width}x${height} (first ${group[0]!.path})`,
    });
    reader.start();
    return reader;
  };
  // Up to DECODERS_AHEAD groups' decoders start early, so their start-up overlaps the reading.
  const readers: RawVideoReader[] = [];
  try {
    for (let g = 0; g < list.length; g++) {
      while (readers.length < g + DECODERS_AHEAD && readers.length < list.length) readers.push(start(list[readers.length]!));
      const group = list[g]!;
      const reader = readers[g]!;
      for (const item of group) {
        const rgb = await reader.read();
        if (rgb === null) {
          throw new SidewalkError('EVAL_DECODE_FAILED', `ffmpeg decoded fewer images than given; ${item.path} is missing or unreadable`, { details: { file: item.path } });
        }
        yield { item, rgb };
        reader.release(rgb);
      }
      await reader.stop();
    }
  } finally {
    await Promise.all(readers.map((r) => r.stop()));
  }
}
