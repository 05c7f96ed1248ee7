/**
 * Scores stored frames with the current model (the inference room's Classifier: same preprocessing as
 * the device, driven by the model manifest) and records the scores with the model's version; labelling
 * then uses them (labels.ts). Frames are decoded by one ffmpeg per run of same-sized frames.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { SidewalkError } from '../../lib/errors.js';
import type { Classifier } from '../../runtime/types.js';
import type { Frame } from '../../runtime/types.js';
import type { Db } from './db.js';
import { scoresByClass } from './labels.js';
import { Progress } from './progress.js';
import type { FrameStore } from './store.js';

interface Row {
  id: number;
  path: string;
  width: number;
  height: number;
}

async function* decodeRgb(files: string[], width: number, height: number): AsyncGenerator<Uint8Array> {
  const ff = spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', '-', '-fps_mode', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  ff.stderr.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-2000);
  });
  ff.stdin.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => {
    ff.on('close', resolve);
    ff.on('error', () => resolve(-1));
  });
  void (async () => {
    for (const f of files) if (!ff.stdin.write(await readFile(f))) await new Promise((r) => ff.stdin.once('drain', r));
    ff.stdin.end();
  })().catch(() => ff.kill('SIGKILL'));
  const size = width * height * 3;
  let pending: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of ff.stdout as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= size) {
        yield new Uint8Array(pending.subarray(0, size)); // a copy that owns its buffer (classify transfers it)
        pending = pending.subarray(size);
      }
    }
  } finally {
    if (ff.exitCode === null) ff.kill('SIGKILL');
  }
  const code = await exited;
  if (code !== 0) throw new SidewalkError('DATA_IMAGE_CORRUPT', `ffmpeg exited ${code} decoding frames for scoring: ${err.trim()}`);
}

/** Scores every frame of `location` (or all); returns the number of frames scored. */
export async function scoreFrames(db: Db, store: FrameStore, classifier: Classifier, opts: { location?: string; progress?: boolean } = {}): Promise<number> {
  const rows = db
    .prepare(`SELECT f.id, f.path, f.width, f.height FROM frames f JOIN rides r ON r.id = f.ride_id JOIN locations l ON l.id = r.location_id
    ${opts.location ? 'WHERE l.name = ?' : ''} ORDER BY f.ride_id, f.idx`)
    .all(...(opts.location ? [opts.location] : [])) as Row[];
  const update = db.prepare('UPDATE frames SET model_scores = ?, model_version = ? WHERE id = ?');
  const version = `${classifier.info.name}@${classifier.info.version}`;
  const bar = new Progress('score', rows.length, opts.progress);
  let scored = 0;
  for (let start = 0; start < rows.length; ) {
    let end = start + 1;
    while (end < rows.length && rows[end]!.width === rows[start]!.width && rows[end]!.height === rows[start]!.height) end++;
    const group = rows.slice(start, end);
    const { width, height } = group[0]!;
    let i = 0;
    for await (const data of decodeRgb(
      group.map((r) => store.abs(r.path)),
      width,
      height,
    )) {
      const frame: Frame = { seq: i, capturedAtNs: 0n, width, height, stride: width * 3, format: 'rgb24', data };
      const result = await classifier.classify(frame);
      update.run(
        JSON.stringify(
          scoresByClass(
            Array.from(result.probabilities, (p) => Math.round(p * 1e6) / 1e6),
            classifier.labels,
          ),
        ),
        version,
        group[i]!.id,
      );
      i++;
      scored++;
      bar.tick();
    }
    if (i !== group.length) throw new SidewalkError('DATA_IMAGE_CORRUPT', `decoded ${i} of ${group.length} frames for scoring (frames ${group[0]!.id}..${group[group.length - 1]!.id})`);
    start = end;
  }
  bar.done();
  return scored;
}
