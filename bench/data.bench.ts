/**
 * npm run bench:data — the data pipeline against its baselines, same machine, one run:
 *   (1) `sidewalk data ingest` of a video (+ CSV sensor log) vs bare ffmpeg extracting the same video at
 *       the same rate, size and JPEG quality: frames/s of each and the ratio (target >= 0.8) judged as
 *       the median of same-round ratios from interleaved rounds (order alternating), with its spread;
 *       plus where ingest spends the extra time
 *       (its stages timed one by one in this process);
 *   (2) 1,000,000 synthetic frame rows through the dataset DB the way ingest writes them (one
 *       transaction per ride): rows/s and peak RSS at 100k/250k/500k/1M rows (target: flat), then the
 *       cost of the orphan sweep every `data ingest` starts with, on that database, and of cross-ride
 *       near-duplicate detection (one new ride's check, and the full re-flag with its memory).
 * `--check`: exit non-zero when a target is missed.
 * Env: BENCH_DATA_VIDEO_FRAMES (default 3000), BENCH_DATA_VIDEO_SIZE (640x480), BENCH_DATA_FPS (10),
 *      BENCH_DATA_ROUNDS (5), BENCH_DATA_ROWS (1000000), BENCH_DATA_RIDE_FRAMES (5000 rows per ride transaction).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { DIST_ROOT } from '../lib/paths.js';
import { DEFAULT_DATA_CONFIG } from '../host-tools/data/config.js';
import { locationId, openDatabase, type Db } from '../host-tools/data/db.js';
import { CROSS_RIDE_FLAG, findCrossRideDuplicates, flagLocationDuplicates } from '../host-tools/data/near-duplicates.js';
import { checkJpeg, sha256 } from '../host-tools/data/images.js';
import { extractFrames } from '../host-tools/data/sources/video.js';
import { FrameStore } from '../host-tools/data/store.js';
import { insertSyntheticRows, vmHwmBytes } from './data-rows.js';
import { formatRatios, interleavedRounds, median, sameRoundRatios, Targets } from './report.js';

const VIDEO_FRAMES = Number(process.env.BENCH_DATA_VIDEO_FRAMES ?? 3000);
const VIDEO_SIZE = process.env.BENCH_DATA_VIDEO_SIZE ?? '640x480';
const VIDEO_RATE = 30;
const EXTRACT_FPS = Number(process.env.BENCH_DATA_FPS ?? 10);
const ROWS = Number(process.env.BENCH_DATA_ROWS ?? 1_000_000);
const RIDE_FRAMES = Number(process.env.BENCH_DATA_RIDE_FRAMES ?? 5000);
const RATIO_TARGET = 0.8;
/** Rounds of (bare ffmpeg, ingest), the order alternating; the median of the same-round ratios is judged. */
const ROUNDS = Number(process.env.BENCH_DATA_ROUNDS ?? 5);
/** "Flat": peak RSS may grow at most this much between 250k and 1M rows. */
const RSS_GROWTH_TARGET_MB = 16;

const MB = 1024 * 1024;
const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;

/** CPU seconds (user + sys) of every child this process has waited for, grandchildren included (Linux). */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in USER_HZ (100 on Linux)
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; seconds: number; cpuSeconds: number }> {
  const t0 = performance.now();
  const cpu0 = childCpuSeconds();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout, seconds: (performance.now() - t0) / 1000, cpuSeconds: childCpuSeconds() - cpu0 }) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

async function makeVideo(dir: string): Promise<string> {
  const video = join(dir, 'ride.mp4');
  await run('ffmpeg', [
    '-hide_banner',
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${VIDEO_SIZE}:rate=${VIDEO_RATE}`,
    '-frames:v',
    String(VIDEO_FRAMES),
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-pix_fmt',
    'yuv420p',
    video,
  ]);
  // A sensor log beside the video (picked up as <video>.csv): 10 Hz GPS + speed + rider label.
  const rows = ['t_ms,lat,lon,alt_m,speed_kph,label'];
  const durationMs = (VIDEO_FRAMES / VIDEO_RATE) * 1000;
  for (let t = 0; t <= durationMs; t += 100)
    rows.push(`${t},${(39.7 + t * 1e-8).toFixed(7)},${(-105 + t * 1e-8).toFixed(7)},1600,${(8 + 4 * Math.sin(t / 5000)).toFixed(2)},${t % 20000 < 10000 ? 'side' : 'street'}`);
  await writeFile(join(dir, 'ride.csv'), `${rows.join('\n')}\n`);
  return video;
}

interface ExtractResult {
  frames: number;
  ingestS: number[];
  bareS: number[];
  ingestCpuS: number[];
  bareCpuS: number[];
  stages: { name: string; seconds: number }[];
}

async function benchExtraction(dir: string): Promise<ExtractResult> {
  process.stderr.write(`(1) making a ${VIDEO_FRAMES}-frame ${VIDEO_SIZE} test video...\n`);
  const video = await makeVideo(dir);
  // The JPEG settings ingest's extractor uses (fps filter, -q:v 2, native size); its files are byte-identical.
  const bareArgs = (out: string) => ['-hide_banner', '-v', 'error', '-i', video, '-vf', `fps=${EXTRACT_FPS}`, '-an', '-q:v', '2', '-start_number', '0', join(out, '%06d.jpg')];
  const cli = join(DIST_ROOT, 'bin', 'sidewalk.js');
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', video, '-f', 'null', '-']); // warm the cache and the decoder once
  const bareS: number[] = [];
  const ingestS: number[] = [];
  const bareCpuS: number[] = [];
  const ingestCpuS: number[] = [];
  let files: string[] = [];
  const bare = async (round: number) => {
    const out = join(dir, `bare-${round}`);
    await mkdir(out);
    const r = await run('ffmpeg', bareArgs(out));
    bareS.push(r.seconds);
    bareCpuS.push(r.cpuSeconds);
    files = (await readdir(out))
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .map((f) => join(out, f));
  };
  const ingest = async (round: number) => {
    const db = join(dir, `ingest-${round}`, 'dataset.db');
    const r = await run(process.execPath, [cli, 'data', 'ingest', video, '--location', 'bench', '--fps', String(EXTRACT_FPS), '--db', db], { ...process.env, SIDEWALK_LOG: 'warn' });
    const m = /(\d+) added \((\d+) frames\)/.exec(r.stdout);
    // Round 0 runs bare ffmpeg first, so `files` holds its JPEGs.
    if (!m || Number(m[1]) !== 1 || Number(m[2]) !== files.length) throw new Error(`ingest did not add the video's ${files.length} frames: ${r.stdout.trim()}`);
    ingestS.push(r.seconds);
    ingestCpuS.push(r.cpuSeconds);
    await rm(join(dir, `ingest-${round}`), { recursive: true, force: true });
  };
  await interleavedRounds(
    ROUNDS,
    {
      a: async (round) => {
        await bare(round);
        return 0;
      },
      b: async (round) => {
        await ingest(round);
        return 0;
      },
    },
    {
      onRound: (round, _counted, bareFirst) =>
        process.stderr.write(
          `(1) round ${round + 1}/${ROUNDS}: ${bareFirst ? 'bare ffmpeg extraction, then sidewalk data ingest (CLI)' : 'sidewalk data ingest (CLI), then bare ffmpeg extraction'} at ${EXTRACT_FPS} fps...\n`,
        ),
    },
  );

  // Ingest's stages, timed one by one in this process (in ingest the per-frame work overlaps ffmpeg).
  process.stderr.write(`(1) timing ingest's stages...\n`);
  const stages: ExtractResult['stages'] = [];
  const time = async (name: string, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    stages.push({ name, seconds: (performance.now() - t0) / 1000 });
  };
  await time('CLI start: node + module loading (`data ingest --help`)', () => run(process.execPath, [cli, 'data', 'ingest', '--help']));
  await time('sha256 of the video (content hash)', async () => sha256(await readFile(video)));
  const extractOut = join(dir, 'stage-extract');
  await mkdir(extractOut);
  await time('one ffmpeg: JPEGs + grey 160x120 stream + metrics in JS', () => extractFrames(video, extractOut, EXTRACT_FPS, async () => {}));
  await rm(extractOut, { recursive: true });
  const hashes: string[] = [];
  await time('read + checkJpeg + sha256 per JPEG (alone)', async () => {
    for (const f of files) {
      const bytes = await readFile(f);
      checkJpeg(bytes, f);
      hashes.push(sha256(bytes));
    }
  });
  const store = new FrameStore(join(dir, 'stage-store'));
  await time('move into the content-addressed store (alone)', async () => {
    for (let i = 0; i < files.length; i++) await store.put(files[i]!, hashes[i]!, { move: true });
  });
  const overlapOut = join(dir, 'stage-overlap');
  await mkdir(overlapOut);
  const store2 = new FrameStore(join(dir, 'stage-store-2'));
  await time('the same ffmpeg with read + check + sha256 + move overlapped', () =>
    extractFrames(video, overlapOut, EXTRACT_FPS, async (_i, file) => {
      const bytes = await readFile(file);
      checkJpeg(bytes, file);
      await store2.put(file, sha256(bytes), { move: true });
    }),
  );
  return { frames: files.length, ingestS, bareS, ingestCpuS, bareCpuS, stages };
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
    return { ...r, rssStart, sweepS, sweepRssGrowth: peak - rssBefore, cross: benchCrossRide(db) };
  } finally {
    db.close();
  }
}

/**
 * Cross-ride near-duplicates on the 1M-row database (one location): the check ingest runs for a new
 * ride (its frames' hashes against every stored frame, streamed), and the full re-flag of `data filter`
 * (band index over every frame of the location in memory). The synthetic dHashes are random, so this
 * measures cost, not how many frames match.
 */
function benchCrossRide(db: Db) {
  const d = DEFAULT_DATA_CONFIG.filters.duplicateMaxDistance;
  const lastRide = db.prepare('SELECT MAX(id) FROM rides').pluck().get() as number;
  const hashes = db.prepare('SELECT dhash FROM frames WHERE ride_id = ? ORDER BY idx').pluck().all(lastRide) as (string | null)[];
  let t0 = performance.now();
  findCrossRideDuplicates(db, 'bench', hashes, d);
  const rideS = (performance.now() - t0) / 1000;
  const rssBefore = process.memoryUsage.rss();
  t0 = performance.now();
  const all = db.transaction(() => {
    db.prepare('DELETE FROM frame_flags WHERE flag = ?').run(CROSS_RIDE_FLAG);
    return flagLocationDuplicates(db, locationId(db, 'bench'), d);
  })();
  return { rideS, rideFrames: RIDE_FRAMES, allS: (performance.now() - t0) / 1000, ...all, rssGrowth: process.memoryUsage.rss() - rssBefore };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sidewalk-bench-data-'));
  try {
    const rows = await benchRows(dir);
    const ex = await benchExtraction(dir);

    const list = (xs: number[]) => xs.map((x) => `${x.toFixed(2)} s`).join(', ');
    // Each round's two runs sit side by side in time, so their ratio shares the machine's load of the
    // moment: ingest frames/s over bare frames/s = bare seconds over ingest seconds.
    const pair = sameRoundRatios(ex.bareS, ex.ingestS);
    const ratio = pair.median;
    const out: string[] = [];
    out.push(`sidewalk data benchmark — ${new Date().toISOString()}, node ${process.version}`);
    out.push('');
    out.push(`(1) video ingest: ${VIDEO_FRAMES}-frame ${VIDEO_SIZE} H.264 (testsrc2, ${VIDEO_RATE} fps) + CSV sensor log, extracted at ${EXTRACT_FPS} fps -> ${ex.frames} JPEGs`);
    out.push(`    bare ffmpeg -> JPEGs:          ${list(ex.bareS)}   median ${(ex.frames / median(ex.bareS)).toFixed(1)} frames/s`);
    out.push(`    sidewalk data ingest (CLI):    ${list(ex.ingestS)}   median ${(ex.frames / median(ex.ingestS)).toFixed(1)} frames/s   (CLI start + extraction + checks + metrics + store + DB)`);
    out.push(`    ratio ingest/bare frames/s:    ${formatRatios(pair)}   (target >= ${RATIO_TARGET})`);
    out.push(`    CPU (user+sys, with children), median: bare ${median(ex.bareCpuS).toFixed(2)} s, ingest ${median(ex.ingestCpuS).toFixed(2)} s   (less sensitive to a busy machine than wall time)`);
    out.push(`    ingest's stages, timed one by one in this process (bare ffmpeg best: ${Math.min(...ex.bareS).toFixed(2)} s):`);
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
    out.push(`    peak RSS growth 250k -> ${rows.rows}: ${mb(growth)}   (target <= ${RSS_GROWTH_TARGET_MB} MB, flat)   VmHWM ${mb(rows.hwmBytes)}`);
    out.push(`    orphan sweep (start of every 'data ingest') on this DB, empty store: ${rows.sweepS.toFixed(2)} s, +${mb(rows.sweepRssGrowth)} RSS`);
    const x = rows.cross;
    out.push(`    cross-ride duplicates, ingest-time check of one ${x.rideFrames}-frame ride against ${x.frames} stored frames: ${x.rideS.toFixed(2)} s`);
    out.push(`    cross-ride duplicates, full re-flag of ${x.frames} frames: ${x.allS.toFixed(2)} s, band index ${mb(x.indexBytes)}, RSS +${mb(x.rssGrowth)}, ${x.flagged} flagged`);
    out.push('');
    const targets = new Targets();
    targets.row('ingest/bare ffmpeg frames/s (median)', ratio.toFixed(2), `>= ${RATIO_TARGET}`, ratio >= RATIO_TARGET);
    targets.row('DB rows/s (in transactions)', String(Math.round(rows.rows / rows.transactionSeconds)), '(report)', true);
    targets.row('peak RSS growth 250k -> 1M rows', mb(growth), `<= ${RSS_GROWTH_TARGET_MB} MB`, growth <= RSS_GROWTH_TARGET_MB * MB);
    out.push(...targets.lines());
    process.stdout.write(`${out.join('\n')}\n`);
    targets.finish();
    process.stderr.write(`VmHWM of the whole process: ${mb(vmHwmBytes())}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:data failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
