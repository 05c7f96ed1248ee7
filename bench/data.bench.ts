/**
 * npm run bench:data — the data pipeline against its baselines, same machine, one run:
 *   (1) `sidewalk data ingest` of a video (+ CSV sensor log) vs bare ffmpeg extracting the same video at
 *       the same rate and size into JPEGs: frames/s of each and the ratio (target >= 0.8), plus where
 *       ingest spends the extra time (the same stages timed one by one on the bare ffmpeg's JPEGs);
 *   (2) 1,000,000 synthetic frame rows through the dataset DB the way ingest writes them (one
 *       transaction per ride): rows/s and peak RSS at 100k/250k/500k/1M rows (target: flat), then the
 *       cost of the orphan sweep every `data ingest` starts with, on that database.
 * Env: BENCH_DATA_VIDEO_FRAMES (default 3000), BENCH_DATA_VIDEO_SIZE (640x480), BENCH_DATA_FPS (10),
 *      BENCH_DATA_ROWS (1000000), BENCH_DATA_RIDE_FRAMES (5000 rows per ride transaction).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { DIST_ROOT } from '../lib/paths.js';
import { openDatabase } from '../host-tools/data/db.js';
import { checkJpeg, measureJpegs, sha256 } from '../host-tools/data/images.js';
import { FrameStore } from '../host-tools/data/store.js';
import { insertSyntheticRows, vmHwmBytes } from './data-rows.js';

const VIDEO_FRAMES = Number(process.env.BENCH_DATA_VIDEO_FRAMES ?? 3000);
const VIDEO_SIZE = process.env.BENCH_DATA_VIDEO_SIZE ?? '640x480';
const VIDEO_RATE = 30;
const EXTRACT_FPS = Number(process.env.BENCH_DATA_FPS ?? 10);
const ROWS = Number(process.env.BENCH_DATA_ROWS ?? 1_000_000);
const RIDE_FRAMES = Number(process.env.BENCH_DATA_RIDE_FRAMES ?? 5000);
const RATIO_TARGET = 0.8;
/** Rounds of (bare ffmpeg, ingest); the best of each is compared. */
const ROUNDS = 2;
/** "Flat": peak RSS may grow at most this much between 250k and 1M rows. */
const RSS_GROWTH_TARGET_MB = 16;

const MB = 1024 * 1024;
const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout, seconds: (performance.now() - t0) / 1000 }) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

async function makeVideo(dir: string): Promise<string> {
  const video = join(dir, 'ride.mp4');
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${VIDEO_SIZE}:rate=${VIDEO_RATE}`, '-frames:v', String(VIDEO_FRAMES),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', video]);
  // A sensor log beside the video (picked up as <video>.csv): 10 Hz GPS + speed + rider label.
  const rows = ['t_ms,lat,lon,alt_m,speed_kph,label'];
  const durationMs = (VIDEO_FRAMES / VIDEO_RATE) * 1000;
  for (let t = 0; t <= durationMs; t += 100) rows.push(`${t},${(39.7 + t * 1e-8).toFixed(7)},${(-105 + t * 1e-8).toFixed(7)},1600,${(8 + 4 * Math.sin(t / 5000)).toFixed(2)},${t % 20000 < 10000 ? 'side' : 'street'}`);
  await writeFile(join(dir, 'ride.csv'), `${rows.join('\n')}\n`);
  return video;
}

interface ExtractResult {
  frames: number;
  ingestS: number[];
  bareS: number[];
  stages: { name: string; seconds: number }[];
}

async function benchExtraction(dir: string): Promise<ExtractResult> {
  process.stderr.write(`(1) making a ${VIDEO_FRAMES}-frame ${VIDEO_SIZE} test video...\n`);
  const video = await makeVideo(dir);
  // Same arguments ingest's extractor uses (fps filter, -q:v 2, native size).
  const bareDir = (round: number) => join(dir, `bare-${round}`);
  const bareArgs = (round: number) => ['-hide_banner', '-v', 'error', '-i', video, '-vf', `fps=${EXTRACT_FPS}`, '-an', '-q:v', '2', '-start_number', '0', join(bareDir(round), '%06d.jpg')];
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', video, '-f', 'null', '-']); // warm the cache and the decoder once
  const bareS: number[] = [];
  const ingestS: number[] = [];
  let files: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    process.stderr.write(`(1) round ${round + 1}/${ROUNDS}: bare ffmpeg extraction at ${EXTRACT_FPS} fps, then sidewalk data ingest (CLI)...\n`);
    await mkdir(bareDir(round));
    bareS.push((await run('ffmpeg', bareArgs(round))).seconds);
    files = (await readdir(bareDir(round))).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(bareDir(round), f));
    const db = join(dir, `ingest-${round}`, 'dataset.db');
    const ingest = await run(process.execPath, [join(DIST_ROOT, 'bin', 'sidewalk.js'), 'data', 'ingest', video, '--location', 'bench', '--fps', String(EXTRACT_FPS), '--db', db],
      { ...process.env, SIDEWALK_LOG: 'warn' });
    const m = /(\d+) added \((\d+) frames\)/.exec(ingest.stdout);
    if (!m || Number(m[1]) !== 1 || Number(m[2]) !== files.length) throw new Error(`ingest did not add the video's ${files.length} frames: ${ingest.stdout.trim()}`);
    ingestS.push(ingest.seconds);
    await rm(join(dir, `ingest-${round}`), { recursive: true, force: true });
  }

  // Ingest's own stages, timed one by one on the same JPEGs (what ingest does after ffmpeg).
  process.stderr.write(`(1) timing ingest's stages...\n`);
  const stages: ExtractResult['stages'] = [];
  const time = async (name: string, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    stages.push({ name, seconds: (performance.now() - t0) / 1000 });
  };
  await time('node process start + sha256 of the video (content hash)', async () => {
    await run(process.execPath, ['-e', '0']);
    sha256(await readFile(video));
  });
  const hashes: string[] = [];
  await time('read + checkJpeg + sha256 per JPEG', async () => {
    for (const f of files) {
      const bytes = await readFile(f);
      checkJpeg(bytes, f);
      hashes.push(sha256(bytes));
    }
  });
  await time('measureJpegs (2nd ffmpeg: decode to 160x120 grey + metrics)', () => measureJpegs(files));
  const store = new FrameStore(join(dir, 'stage-store'));
  await time('copy into the content-addressed store', async () => {
    for (let i = 0; i < files.length; i++) await store.put(files[i]!, hashes[i]!);
  });
  return { frames: files.length, ingestS, bareS, stages };
}

async function benchRows(dir: string) {
  process.stderr.write(`(2) ${ROWS} synthetic frame rows, ${RIDE_FRAMES} per ride transaction...\n`);
  // Reset the kernel's peak-RSS counter so VmHWM covers this phase only.
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* older kernels: VmHWM then covers the whole process */
  }
  const file = join(dir, 'rows', 'dataset.db');
  const db = openDatabase(file);
  try {
    const rssStart = process.memoryUsage.rss();
    const marks = [100_000, 250_000, 500_000, 1_000_000].filter((n) => n <= ROWS);
    if (!marks.includes(ROWS)) marks.push(ROWS);
    const r = insertSyntheticRows(db, ROWS, RIDE_FRAMES, marks);
    const count = (db.prepare('SELECT COUNT(*) AS n FROM frames').get() as { n: number }).n;
    if (count !== ROWS) throw new Error(`expected ${ROWS} frame rows, found ${count}`);
    // The orphan sweep every `sidewalk data ingest` (and `data watch` at start) runs first.
    const store = new FrameStore(join(dir, 'rows', 'objects'));
    await mkdir(store.root, { recursive: true });
    const rssBefore = process.memoryUsage.rss();
    let peak = rssBefore;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    const t0 = performance.now();
    await store.removeOrphans(db);
    const sweepS = (performance.now() - t0) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { ...r, rssStart, sweepS, sweepRssGrowth: peak - rssBefore };
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sidewalk-bench-data-'));
  try {
    const rows = await benchRows(dir);
    const ex = await benchExtraction(dir);

    const bareFps = ex.frames / Math.min(...ex.bareS);
    const ingestFps = ex.frames / Math.min(...ex.ingestS);
    const list = (xs: number[]) => xs.map((x) => `${x.toFixed(2)} s`).join(', ');
    const ratio = ingestFps / bareFps;
    const out: string[] = [];
    out.push(`sidewalk data benchmark — ${new Date().toISOString()}, node ${process.version}`);
    out.push('');
    out.push(`(1) video ingest: ${VIDEO_FRAMES}-frame ${VIDEO_SIZE} H.264 (testsrc2, ${VIDEO_RATE} fps) + CSV sensor log, extracted at ${EXTRACT_FPS} fps -> ${ex.frames} JPEGs`);
    out.push(`    bare ffmpeg -> JPEGs:          ${list(ex.bareS)}   best ${bareFps.toFixed(1)} frames/s`);
    out.push(`    sidewalk data ingest (CLI):    ${list(ex.ingestS)}   best ${ingestFps.toFixed(1)} frames/s   (extraction + checks + metrics + store + DB)`);
    out.push(`    ratio ingest/bare:             ${ratio.toFixed(2)}   (target >= ${RATIO_TARGET})   ${verdict(ratio >= RATIO_TARGET)}`);
    out.push('    ingest stages beyond extraction, timed separately on the same JPEGs:');
    for (const s of ex.stages) out.push(`      ${s.name.padEnd(62)} ${s.seconds.toFixed(2)} s`);
    out.push('');
    out.push(`(2) DB ingest: ${rows.rows} synthetic frame rows, ${RIDE_FRAMES} rows per ride transaction (ingest's INSERTs, WAL)`);
    out.push(`    total: ${rows.seconds.toFixed(1)} s   ${Math.round(rows.rows / rows.seconds)} rows/s`);
    out.push(`    inside the ride transactions: ${rows.transactionSeconds.toFixed(1)} s   ${Math.round(rows.rows / rows.transactionSeconds)} rows/s (the rest makes the synthetic rows)`);
    out.push(`    RSS at start ${mb(rows.rssStart)}; at the end anon ${mb(rows.rssParts.anon!)}, file ${mb(rows.rssParts.file!)}, shmem (WAL index) ${mb(rows.rssParts.shmem!)}`);
    for (const c of rows.checkpoints) out.push(`    ${String(c.rows).padStart(9)} rows: peak RSS ${mb(c.peakRssBytes).padStart(9)}   segment ${Math.round(c.segmentRowsPerS)} rows/s`);
    const at = (n: number) => rows.checkpoints.find((c) => c.rows === n)?.peakRssBytes;
    const r250 = at(250_000);
    const rEnd = rows.checkpoints[rows.checkpoints.length - 1]!.peakRssBytes;
    const growth = r250 === undefined ? 0 : rEnd - r250;
    out.push(`    peak RSS growth 250k -> ${rows.rows}: ${mb(growth)}   (target <= ${RSS_GROWTH_TARGET_MB} MB, flat)   ${verdict(growth <= RSS_GROWTH_TARGET_MB * MB)}   VmHWM ${mb(rows.hwmBytes)}`);
    out.push(`    orphan sweep (start of every 'data ingest') on this DB, empty store: ${rows.sweepS.toFixed(2)} s, +${mb(rows.sweepRssGrowth)} RSS`);
    out.push('');
    out.push('summary                                  measured          target        result');
    const row = (name: string, value: string, target: string, ok: boolean) => out.push(`  ${name.padEnd(38)} ${value.padEnd(17)} ${target.padEnd(13)} ${verdict(ok)}`);
    row('ingest/bare ffmpeg frames/s', ratio.toFixed(2), `>= ${RATIO_TARGET}`, ratio >= RATIO_TARGET);
    row('DB rows/s (in transactions)', String(Math.round(rows.rows / rows.transactionSeconds)), '(report)', true);
    row('peak RSS growth 250k -> 1M rows', mb(growth), `<= ${RSS_GROWTH_TARGET_MB} MB`, growth <= RSS_GROWTH_TARGET_MB * MB);
    process.stdout.write(`${out.join('\n')}\n`);
    process.stderr.write(`VmHWM of the whole process: ${mb(vmHwmBytes())}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:data failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
