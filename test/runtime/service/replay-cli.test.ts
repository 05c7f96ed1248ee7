/** `sidewalk replay` end to end: real ffmpeg decoding, real TFLite, the runtime's own pipeline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, DASHCAM_VIDEO } from '../../helpers/paths.js';
import { runCliSync } from '../../helpers/cli.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import type { RideSummary } from '../../../runtime/service/ride-summary.js';
import type { DecisionLine } from '../../../runtime/service/pipeline.js';
import { withTempDir } from '../../helpers/temp.js';

const DEMO_MODEL = join(REPO_ROOT, 'demo/model');

function replay(args: string[]): RideSummary {
  const r = runCliSync(['replay', ...args, '--json'], { timeoutMs: 120000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as RideSummary;
}

const withTmp = <T>(fn: (dir: string) => Promise<T>): Promise<T> => withTempDir('replay-', fn);

test('the bundled sample ride: the demo model finds both sidewalk stretches and the decisions file has every frame', async () => {
  await withTmp(async (dir) => {
    const truth = JSON.parse(await readFile(join(REPO_ROOT, 'demo/sample-ride.json'), 'utf8')) as { frames: number; segments: { kind: string; startS: number; endS: number }[] };
    const out = join(dir, 'decisions.jsonl');
    const s = replay([join(REPO_ROOT, 'demo/sample-ride.mp4'), '--model', DEMO_MODEL, '--out', out]);
    assert.equal(s.frames, truth.frames);
    assert.equal(s.limitActivations, 2, 'one activation per sidewalk stretch (the crosswalk joins the first)');
    const sidewalkS = truth.segments.filter((g) => g.kind === 'side' || g.kind === 'crosswalk').reduce((a, g) => a + g.endS - g.startS, 0);
    const totalS = truth.segments.at(-1)!.endS;
    assert.ok(Math.abs(s.sidewalkShare - sidewalkS / totalS) < 0.03, `sidewalk share ${s.sidewalkShare} vs truth ${sidewalkS / totalS}`);
    assert.ok(s.timeToLimitS.count >= 1 && s.timeToLimitS.max! <= 10.5, 'the ramp reaches sidewalk speed within its 10 s');
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DecisionLine);
    assert.equal(records.length, truth.frames);
    for (const r of records.slice(0, 20)) {
      assert.deepEqual(Object.keys(r.probabilities), ['bike_lane', 'crosswalk', 'side', 'street'], 'probabilities keyed by label, in label order');
      const best = Object.entries(r.probabilities).reduce((a, b) => (b[1] > a[1] ? b : a));
      assert.equal(r.top, best[0]);
    }
    const wrong = records.filter((r) => {
      const t = (r.mediaTimeMs ?? 0) / 1000;
      const seg = truth.segments.find((g) => t >= g.startS && t < g.endS);
      return seg && t - seg.startS > 0.5 && r.top !== seg.kind; // allow the window at each boundary
    });
    assert.ok(wrong.length <= truth.frames * 0.02, `${wrong.length} frames misclassified`);
  });
});

test('the real dashcam video (H.264 with audio, 960x540, real timestamps) replays end to end', () => {
  // Only decoding and the pipeline are checked: the demo model knows synthetic scenes only (it calls this road a sidewalk).
  const s = replay([DASHCAM_VIDEO, '--model', DEMO_MODEL]);
  assert.equal(s.frames, 221);
  assert.ok(Math.abs(s.durationS - 8.76) < 0.1, `duration ${s.durationS}`);
  assert.equal(s.failSafeFrames, 0);
});

test('a legacy run folder replays with its raw_data.txt speed column as the speed source', async () => {
  await withTmp(async (dir) => {
    const rows = legacyRows(20, { speed: (i) => (i < 10 ? 500 : 75) });
    const run = await writeLegacyRun(join(dir, 'run7'), { raw: rows.raw, out: rows.out });
    const out = join(dir, 'decisions.jsonl');
    const s = replay([run, '--model', DEMO_MODEL, '--out', out]);
    assert.equal(s.frames, 20);
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DecisionLine);
    // The speed column is motor rpm: 160 rpm ~ 4 mph (scooter.py), the default replay_log.speed_scale.
    assert.deepEqual(
      records.map((r) => r.speedKph),
      rows.raw.map((r) => r.speed * 0.0402336),
    );
    assert.deepEqual(
      records.map((r) => Math.round(r.mediaTimeMs!)),
      rows.raw.map((_, i) => i * 200),
    );
    // A run whose out_data.txt scooter.py's post-process path rewrote: the images still replay.
    const post = await writeLegacyRun(join(dir, 'run8'), { raw: rows.raw, out: rows.out, options: { path: 'post-process', frame: 'space' } });
    assert.equal(replay([post, '--model', DEMO_MODEL]).frames, 20);
  });
});

test("the project's own ride folders (sidewalk-ride/1, as `data synth` and record mode write them) replay with their recorded times and speeds", async () => {
  await withTmp(async (dir) => {
    const synth = runCliSync(['data', 'synth', '--out', join(dir, 'rides'), '--rides', '1', '--script', 'street:2,side:2', '--fps', '5', '--size', '64x48'], { timeoutMs: 120000 });
    assert.equal(synth.code, 0, synth.stderr);
    const ride = join(dir, 'rides', 'synth-1-0');
    const sensors = (await readFile(join(ride, 'sensors.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { frame?: number; t_ms: number; speed_kph?: number });
    const perFrame = sensors.filter((r) => r.frame !== undefined).sort((a, b) => a.frame! - b.frame!);
    const out = join(dir, 'decisions.jsonl');
    const s = replay([ride, '--model', DEMO_MODEL, '--out', out]);
    assert.equal(s.frames, perFrame.length);
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DecisionLine);
    assert.deepEqual(
      records.map((r) => r.speedKph),
      perFrame.map((r) => r.speed_kph),
    );
    assert.deepEqual(
      records.map((r) => Math.round(r.mediaTimeMs!)),
      perFrame.map((r) => r.t_ms - perFrame[0]!.t_ms),
    );
  });
});

test('a truncated video replays what it can and warns with the count of decode errors (exit 0 without --strict)', async () => {
  await withTmp(async (dir) => {
    const cut = join(dir, 'cut.mp4');
    await writeFile(cut, (await readFile(DASHCAM_VIDEO)).subarray(0, 100_000));
    const r = runCliSync(['replay', cut, '--model', DEMO_MODEL, '--json'], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as RideSummary;
    assert.ok(s.frames > 0 && s.frames < 221, `${s.frames} frames`);
    assert.match(r.stderr, /ffmpeg reported \d+ decode errors? after \d+ frames \(truncated or corrupt input\?\)/);
  });
});
