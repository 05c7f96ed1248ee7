/** Record mode: the service decides as usual and writes a ride in the format the data tool ingests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';
import { startService } from '../../helpers/service-process.js';
import { readRide } from '../../../runtime/recorder/ride-format.js';
import { runSidewalk } from '../../helpers/cli-guard.js';
import type { RecordedAgreement } from '../../../runtime/service/recorded-scores.js';

test('record mode writes a complete ride (frames, sensors.jsonl with model scores, ride.json) and stops safe', async () => {
  const svc = await startService({
    mode: 'record',
    device: { id: 'sc-42', location: 'Niwot' },
    model: { bundle: join(REPO_ROOT, 'demo/model'), num_threads: 1 },
    camera: { source: 'synthetic', width: 64, height: 48, fps: 10, synthetic: { script: 'street:2,side:2' } },
    speed_source: { kind: 'simulated', simulated_kph: 12 },
    recording: { dir: 'rides' }, // relative to the config file's folder
  });
  try {
    await svc.waitFor(async () => ((await svc.metric('sidewalk_frames_total')) ?? 0) >= 25, 30000, '25 classified frames');
    svc.child.kill('SIGTERM');
    const { code } = await svc.exited;
    assert.equal(code, 0, svc.stderr());
    const rides = await readdir(join(svc.dir, 'rides'));
    assert.equal(rides.length, 1);
    const rideDir = join(svc.dir, 'rides', rides.find((r) => r.startsWith('sc-42-'))!);
    const ride = await readRide(rideDir);
    assert.equal(ride.meta.status, 'complete');
    assert.equal(ride.meta.device, 'sc-42');
    assert.equal(ride.meta.location, 'Niwot');
    assert.equal(ride.meta.model?.name, 'sidewalk-demo');
    const frames = ride.records.filter((r) => r.frame !== undefined);
    assert.ok(frames.length >= 25, `${frames.length} frames recorded`);
    assert.equal(ride.meta.frames.count, frames.length);
    assert.ok(frames.every((r) => r.speed_kph === 12 && r.scores?.length === 4));
    assert.equal(ride.meta.frames.kind, 'jpeg');
    const framesDir = ride.meta.frames.kind === 'jpeg' ? ride.meta.frames.dir : '';
    const jpegs = (await readdir(join(rideDir, framesDir))).filter((f) => f.endsWith('.jpg'));
    assert.equal(jpegs.length, frames.length);
    assert.equal((await svc.limiterCommands()).at(-1)!.safe, true);
    // The recorded scores replayed through the same decision reproduce the recorded decisions.
    assert.ok(frames.every((r) => typeof r.on_sidewalk === 'boolean') && frames.some((r) => r.on_sidewalk), 'decisions recorded');
    const replay = await runSidewalk(['replay', rideDir, '--recorded-scores', '--json'], { timeoutMs: 60_000 });
    assert.equal(replay.code, 0, replay.stderr);
    const agreement = JSON.parse(replay.stdout) as RecordedAgreement;
    assert.deepEqual([agreement.kind, agreement.compared, agreement.agreement], ['ride', frames.length, 1]);
  } finally {
    await svc.stop();
  }
});
