/**
 * `sidewalk eval` end to end with real ffmpeg and the real TFLite runtime: a small export of rendered
 * scenes (the demo model's own renderer, unseen seeds), the bundled demo model against a "worse model"
 * (the same .tflite with a manifest whose label order is shuffled), the report files, and the
 * ride-level replay of synthetic rides through the decision engine and ramp.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { evaluateBundle, EVAL_FORMAT, type EvalReport } from '../../../host-tools/eval/evaluate.js';
import { perClassScores, safetyFigures } from '../../../host-tools/eval/metrics.js';
import { PNG_SIGNATURE } from '../../../host-tools/eval/png.js';
import { synthesizeRides } from '../../../host-tools/data/synth.js';
import { writeDemoDataset } from '../../../host-tools/train/demo-dataset.js';
import type { ModelManifest } from '../../../runtime/inference/manifest-types.js';
import type { RideMeta } from '../../../runtime/recorder/ride-format.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { runEvalCli } from './eval-cli.js';
import { makeTempDir } from '../../helpers/temp.js';

const DEMO_MODEL = join(REPO_ROOT, 'demo', 'model');

async function checkPng(path: string): Promise<{ width: number; height: number }> {
  const bytes = await readFile(path);
  assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE, `${path}: PNG signature`);
  assert.equal(bytes.toString('ascii', 12, 16), 'IHDR', `${path}: IHDR first`);
  const size = { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  assert.ok(size.width > 100 && size.height > 100, `${path}: ${size.width}x${size.height}`);
  return size;
}

function checkConsistent(r: EvalReport): void {
  assert.equal(r.format, EVAL_FORMAT);
  const total = r.confusion.matrix.flat().reduce((a, b) => a + b, 0);
  assert.equal(total, r.dataset.count, 'confusion matrix sums to the image count');
  const diagonal = r.confusion.matrix.reduce((s, row, i) => s + row[i]!, 0);
  assert.ok(Math.abs(r.accuracy - diagonal / total) < 1e-12);
  assert.deepEqual(r.per_class, perClassScores(r.confusion));
  const safety = safetyFigures(r.confusion, { sidewalk: ['side', 'crosswalk'], road: ['street', 'bike_lane'] });
  assert.equal(r.safety.sidewalk_recall, safety.sidewalk_recall);
  assert.equal(r.safety.road_false_limit_rate, safety.road_false_limit_rate);
  assert.equal(
    Object.values(r.per_class).reduce((s, c) => s + c.support, 0),
    r.dataset.count,
  );
  assert.ok(r.latency_ms.mean > 0 && r.latency_ms.p50 > 0 && r.latency_ms.p99 >= r.latency_ms.p50);
  assert.match(r.model.sha256, /^[0-9a-f]{64}$/);
}

describe('sidewalk eval (real ffmpeg, real TFLite)', () => {
  let root: string;
  let data: string;
  let contentHash: string;
  let shuffled: string;

  before(async () => {
    root = await makeTempDir('sidewalk-eval-');
    data = join(root, 'export');
    // Seed 9 is not the demo model's training seed: test scenes it never saw.
    ({ contentHash } = await writeDemoDataset(data, { perClass: 24, seed: 9 }));
    // The worse model: identical weights, outputs mislabelled (a manifest with its label order shuffled).
    shuffled = join(root, 'shuffled');
    await cp(DEMO_MODEL, shuffled, { recursive: true });
    const manifest = JSON.parse(await readFile(join(shuffled, 'manifest.json'), 'utf8')) as ModelManifest;
    manifest.labels = ['street', 'side', 'bike_lane', 'crosswalk'];
    manifest.version = '1.0.1-shuffled';
    await writeFile(join(shuffled, 'manifest.json'), JSON.stringify(manifest, null, 2));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('the demo model scores high on unseen scenes; report.json, report.html and the PNG plots are written', async () => {
    const out = join(root, 'demo-report');
    const r = await evaluateBundle({ model: DEMO_MODEL, data, outDir: out });
    checkConsistent(r);
    assert.equal(r.dataset.count, 32); // test = perClass / 3 rounded, per class
    assert.equal(r.dataset.hash, contentHash);
    assert.equal(r.dataset.split, 'test');
    assert.deepEqual({ name: r.model.name, version: r.model.version, location: r.model.location }, { name: 'sidewalk-demo', version: '1.0.0', location: 'demo' });
    assert.deepEqual(r.confusion.labels, ['bike_lane', 'crosswalk', 'side', 'street']);
    assert.ok(r.accuracy >= 0.9, `demo accuracy ${r.accuracy}`);
    assert.ok(r.safety.sidewalk_recall >= 0.9, `sidewalk recall ${r.safety.sidewalk_recall}`);
    assert.ok(r.safety.road_false_limit_rate <= 0.1, `road wrongly limited ${r.safety.road_false_limit_rate}`);
    assert.deepEqual(r.per_location, { all: { accuracy: r.accuracy, count: 32 } });

    const onDisk = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvalReport;
    assert.deepEqual(onDisk.confusion, r.confusion);
    assert.equal(onDisk.accuracy, r.accuracy);
    await checkPng(join(out, 'confusion.png'));
    await checkPng(join(out, 'per-class.png'));
    const html = await readFile(join(out, 'report.html'), 'utf8');
    assert.match(html, /<img src="confusion\.png"/);
    assert.match(html, /<img src="per-class\.png"/);
    assert.match(html, /sidewalk-demo 1\.0\.0/);
  });

  test('a worse model (shuffled labels) scores visibly worse, through the CLI with two --model', async () => {
    const out = join(root, 'cli-report');
    const stdout = await runEvalCli(['--model', DEMO_MODEL, '--model', shuffled, '--data', data, '--out', out]);
    const good = JSON.parse(await readFile(join(out, 'model', 'report.json'), 'utf8')) as EvalReport;
    const bad = JSON.parse(await readFile(join(out, 'shuffled', 'report.json'), 'utf8')) as EvalReport;
    checkConsistent(good);
    checkConsistent(bad);
    assert.equal(bad.model.version, '1.0.1-shuffled');
    assert.equal(bad.model.sha256, good.model.sha256, 'same .tflite');
    assert.ok(bad.accuracy <= good.accuracy - 0.5, `worse model ${bad.accuracy} vs demo ${good.accuracy}`);
    assert.ok(bad.safety.sidewalk_recall < good.safety.sidewalk_recall);
    await checkPng(join(out, 'shuffled', 'confusion.png'));
    assert.match(stdout, /sidewalk-demo 1\.0\.1-shuffled \(float32/);
    assert.match(stdout, /accuracy \d+\.\d\d% on 32 test images/);
  });

  test('ride replay: synthetic rides through decision engine + ramp report time to limit and missed segments', async () => {
    const rides = join(root, 'rides');
    // street 3 s, sidewalk 12 s (longer than the 10 s ramp), street 2 s, crosswalk 2 s, street 1 s.
    await synthesizeRides({ outDir: rides, rides: 2, seed: 4, script: 'street:3,side:12,street:2,crosswalk:2,street:1', fps: 5 });
    const r = await evaluateBundle({ model: DEMO_MODEL, data, rides });
    const t = r.rides!;
    assert.equal(t.rides, 2);
    assert.equal(t.frames, 2 * 20 * 5);
    assert.equal(t.sidewalk_segments, 4);
    assert.equal(t.missed_segments, 0);
    assert.ok(t.frame_accuracy >= 0.9, `ride frame accuracy ${t.frame_accuracy}`);
    assert.deepEqual(Object.keys(t.per_location), ['synth']);
    // From full speed, the limit cannot be reached faster than the 10 s ramp; the decision comes first.
    const first = t.segments.filter((s) => s.start_ms === 3000);
    assert.equal(first.length, 2);
    for (const s of first) {
      assert.ok(s.decision_ms !== null && s.decision_ms < 2000, `decision after ${s.decision_ms} ms`);
      assert.ok(s.limit_ms !== null && s.limit_ms >= 10_000 && s.limit_ms <= 12_000, `limit after ${s.limit_ms} ms`);
    }
    assert.ok(t.time_to_limit_ms !== null && t.time_to_limit_ms.max >= 10_000);
    assert.ok(t.time_to_decision_ms !== null && t.time_to_decision_ms.mean < 2000);
    assert.equal(t.decision.ramp_s, 10);
    assert.equal(t.decision.window_frames, 6);

    // The same ride recorded as one video file (frames.kind "video") replays to the same segments.
    const jpegRide = join(rides, 'synth-4-0');
    const videoRide = join(root, 'video-ride');
    await mkdir(join(videoRide, 'frames'), { recursive: true });
    const ff = spawnSync('ffmpeg', ['-v', 'error', '-framerate', '5', '-i', join(jpegRide, 'frames', '%06d.jpg'), '-c:v', 'mjpeg', '-q:v', '2', join(videoRide, 'frames', 'ride.mkv')]);
    assert.equal(ff.status, 0, ff.stderr?.toString());
    await cp(join(jpegRide, 'sensors.jsonl'), join(videoRide, 'sensors.jsonl'));
    const meta = JSON.parse(await readFile(join(jpegRide, 'ride.json'), 'utf8')) as RideMeta;
    meta.frames = { kind: 'video', file: 'frames/ride.mkv', count: meta.frames.count, fps: 5 };
    await writeFile(join(videoRide, 'ride.json'), JSON.stringify(meta));
    const v = (await evaluateBundle({ model: DEMO_MODEL, data, rides: videoRide })).rides!;
    assert.equal(v.rides, 1);
    assert.equal(v.frames, 100);
    assert.equal(v.sidewalk_segments, 2);
    assert.equal(v.missed_segments, 0);
  });

  test('a missing split and an unknown class folder fail with coded errors naming the folder', async () => {
    await assert.rejects(evaluateBundle({ model: DEMO_MODEL, data, split: 'holdout' }), (err: unknown) => isSidewalkError(err, 'EVAL_DATA_MISSING') && err.message.includes(join(data, 'holdout')));
    const odd = join(root, 'odd');
    await cp(join(data, 'test', 'side'), join(odd, 'test', 'grass'), { recursive: true });
    await mkdir(join(odd, 'test', 'side'), { recursive: true });
    await assert.rejects(evaluateBundle({ model: DEMO_MODEL, data: odd }), (err: unknown) => isSidewalkError(err, 'EVAL_DATA_UNKNOWN_CLASS') && err.message.includes('grass'));
  });
});
