import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { checkJpeg, hammingHex, measureJpegs, sha256, type FrameMetrics } from '../../../host-tools/data/images.js';
import { ingestOne } from '../../../host-tools/data/ingest.js';
import { extractFrames } from '../../../host-tools/data/sources/video.js';
import { DASHCAM_VIDEO } from '../../helpers/paths.js';
import { snapshot, workspace, type Workspace } from './workspace.js';
import { makeTempDir } from '../../helpers/temp.js';

const DASHCAM = DASHCAM_VIDEO;

function ffmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-v', 'error', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    ff.stderr.on('data', (c: Buffer) => (err += c.toString()));
    ff.on('error', reject);
    ff.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err}`))));
  });
}

const jpegsIn = async (dir: string): Promise<string[]> =>
  (await readdir(dir))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => join(dir, f));

describe('video frame extraction', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('sidewalk-sources-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('one decode gives the JPEGs of a bare extraction, complete when handed over, and metrics close to decoding those JPEGs', async () => {
    const out = join(dir, 'ingest');
    const bare = join(dir, 'bare');
    await mkdir(out);
    await mkdir(bare);
    const metrics: FrameMetrics[] = [];
    const hashes: string[] = [];
    const n = await extractFrames(DASHCAM, out, 10, async (index, file, m) => {
      assert.equal(index, metrics.length);
      const bytes = await readFile(file);
      checkJpeg(bytes, file); // throws on a file still being written (no EOI yet)
      hashes.push(sha256(bytes));
      metrics.push(m);
    });
    assert.ok(n >= 87 && n <= 89, `frames ${n}`);
    assert.equal(metrics.length, n);
    // The same JPEG settings as a bare extraction: byte-identical files, so the bench baseline is honest.
    await ffmpeg(['-i', DASHCAM, '-vf', 'fps=10', '-an', '-q:v', '2', '-start_number', '0', join(bare, '%06d.jpg')]);
    const files = await jpegsIn(out);
    assert.deepEqual(await Promise.all((await jpegsIn(bare)).map(async (f) => sha256(await readFile(f)))), hashes);
    // Metrics from the decoded frames vs from the JPEGs (compression changes pixels a little).
    const fromJpegs = await measureJpegs(files);
    let hammingSum = 0;
    for (let i = 0; i < n; i++) {
      const [a, b] = [metrics[i]!, fromJpegs[i]!];
      assert.ok(Math.abs(a.lumaMean - b.lumaMean) < 0.5, `frame ${i} luma ${a.lumaMean} vs ${b.lumaMean}`);
      assert.ok(Math.abs(a.blurVar - b.blurVar) <= 0.05 * b.blurVar, `frame ${i} blur ${a.blurVar} vs ${b.blurVar}`);
      const d = hammingHex(a.dhash, b.dhash);
      assert.ok(d <= 4, `frame ${i} dHash ${a.dhash} vs ${b.dhash}: ${d} bits`);
      hammingSum += d;
    }
    assert.ok(hammingSum / n <= 1.5, `mean dHash distance ${hammingSum / n}`);
  });

  test('a refused frame stops the extraction and its error comes out', async () => {
    const out = join(dir, 'refused');
    await mkdir(out);
    const seen: number[] = [];
    await assert.rejects(
      extractFrames(DASHCAM, out, 10, async (index) => {
        seen.push(index);
        if (index === 3) throw new Error('frame 3 refused');
      }),
      /frame 3 refused/,
    );
    assert.deepEqual(seen, [0, 1, 2, 3]);
    // ffmpeg has exited by the time the error comes out: the folder no longer changes (it is about to be removed).
    const left = (await jpegsIn(out)).length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await jpegsIn(out)).length, left);
  });

  test('a file that is not a video is named in the error', async () => {
    const bogus = join(dir, 'bogus.mp4');
    await writeFile(bogus, 'not a video at all');
    await mkdir(join(dir, 'bogus'));
    await assert.rejects(
      extractFrames(bogus, join(dir, 'bogus'), 5, async () => {}),
      (err) => {
        assert.ok(isSidewalkError(err, 'DATA_VIDEO_DECODE'));
        assert.match(err.message, /bogus\.mp4/);
        return true;
      },
    );
  });
});

describe('ride folders with a video', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
  });
  after(async () => {
    await ws.close();
  });

  async function videoRide(name: string, records: number, pattern: string): Promise<string> {
    const dir = join(ws.dir, name);
    await mkdir(join(dir, 'frames'), { recursive: true });
    await ffmpeg(['-f', 'lavfi', '-i', `${pattern}=size=160x120:rate=10`, '-frames:v', '12', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', join(dir, 'frames', 'ride.mp4')]);
    await writeFile(
      join(dir, 'ride.json'),
      JSON.stringify({
        format: 'sidewalk-ride/1',
        ride_id: name,
        device: 'pi-1',
        location: 'LA',
        model: null,
        started_at: '2026-05-01T10:00:00Z',
        ended_at: '2026-05-01T10:00:01.2Z',
        status: 'complete',
        frames: { kind: 'video', file: 'frames/ride.mp4', count: 12, fps: 10 },
      }),
    );
    const lines = Array.from({ length: records }, (_, i) => JSON.stringify({ t_ms: i * 100, frame: i, speed_kph: 12, rider_label: 'side' }));
    await writeFile(join(dir, 'sensors.jsonl'), `${lines.join('\n')}\n`);
    return dir;
  }

  test('every frame lands with metrics from the extraction; a short sensor log mid-video leaves nothing behind', async () => {
    const good = await videoRide('v-good', 12, 'testsrc2');
    const r = await ingestOne(good, 'ride', { db: ws.db, store: ws.store, config: ws.config });
    assert.equal(r.frames, 12);
    const rows = ws.db.prepare('SELECT idx, path, luma_mean, blur_var, dhash, width FROM frames WHERE ride_id = ? ORDER BY idx').all(r.rideId) as {
      idx: number;
      path: string;
      luma_mean: number;
      blur_var: number;
      dhash: string;
      width: number;
    }[];
    assert.deepEqual(
      rows.map((x) => x.idx),
      [...Array(12).keys()],
    );
    assert.ok(rows.every((x) => x.width === 160 && x.blur_var > 20 && /^[0-9a-f]{16}$/.test(x.dhash)));
    const fromStore = await measureJpegs(rows.map((x) => ws.store.abs(x.path)));
    rows.forEach((x, i) => {
      assert.ok(Math.abs(x.luma_mean - fromStore[i]!.lumaMean) < 1, `frame ${i}`);
    });

    const before = await snapshot(ws);
    const bad = await videoRide('v-bad', 7, 'testsrc'); // other pixels: its objects would be new;
    await assert.rejects(ingestOne(bad, 'ride', { db: ws.db, store: ws.store, config: ws.config }), (err) => {
      assert.ok(isSidewalkError(err, 'DATA_RIDE_MALFORMED'));
      assert.match(err.message, /sensors\.jsonl: no record for frame 7/);
      return true;
    });
    assert.deepEqual(await snapshot(ws), before);
    await assert.rejects(stat(join(bad, 'frames', '000000.jpg')), 'nothing is written beside the ride');
  });
});
