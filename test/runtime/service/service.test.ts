/**
 * The whole service as systemd runs it: fake rpicam-vid (the only simulated hardware) -> real
 * preprocessing and TFLite -> decision -> simulated limiter, with a real notify socket and /metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';
import { FAKE_RPICAM, startService } from '../../helpers/service-process.js';

const MODEL = join(REPO_ROOT, 'test/fixtures/models/float');

function baseConfig(overrides: { decision?: object; camera?: object; health?: object } = {}) {
  return {
    mode: 'limit',
    model: { bundle: MODEL, delegate: 'xnnpack', num_threads: 1 },
    camera: {
      source: 'rpicam',
      width: 128,
      height: 96,
      fps: 10,
      rpicam: { binary: FAKE_RPICAM, frame_timeout_ms: 1500, restart_min_ms: 1200, restart_max_ms: 2000 },
      ...overrides.camera,
    },
    decision: { fail_safe_after_ms: 400, ...overrides.decision },
    speed: { full_kph: 25, sidewalk_kph: 6, fail_safe_kph: 6, ramp_s: 1 },
    health: { stale_after_ms: 800, ...overrides.health },
  };
}

test('limits on the sidewalk, releases after, survives a camera crash with the fail-safe, applies a reloaded config on SIGHUP and stops safe on SIGTERM', async () => {
  const svc = await startService(baseConfig(), { FAKE_RPICAM_SCRIPT: 'street:3,side:4', WATCHDOG_USEC: '400000' });
  try {
    await svc.waitFor(() => svc.notify.messages.some((m) => m.includes('READY=1')), 30000, 'READY=1');
    // One loop of the scene script: street, sidewalk, street again.
    await svc.waitFor(
      async () => {
        const limits = (await svc.limiterCommands()).filter((c) => !c.safe).map((c) => c.limitKph);
        const firstFull = limits.indexOf(25);
        const limited = limits.indexOf(6, firstFull);
        return firstFull >= 0 && limited > firstFull && limits.indexOf(25, limited) > limited;
      },
      20000,
      'full speed on the street, sidewalk speed on the sidewalk, full speed again',
    );
    assert.ok(
      svc.notify.messages.some((m) => m.startsWith('STATUS=') || m.includes('\nSTATUS=')),
      'STATUS= sent',
    );
    await svc.waitFor(() => svc.notify.messages.includes('WATCHDOG=1'), 5000, 'WATCHDOG=1');
    // The count before the crash, not zero: on a loaded machine a late first frame may already have
    // engaged the fail-safe (as it should), which says nothing about the crash below.
    const failSafesBefore = (await svc.metric('sidewalk_fail_safe_activations_total')) ?? 0;
    assert.equal(await svc.metric('sidewalk_app_info'), 1, 'the app version is reported for the OTA health check');

    // The camera dies: the service restarts it and holds the fail-safe limit in the gap.
    const cameraPid = Number(await readFile(join(svc.dir, 'camera.pid'), 'utf8'));
    process.kill(cameraPid, 'SIGKILL');
    await svc.waitFor(async () => ((await svc.metric('sidewalk_camera_restarts_total')) ?? 0) >= 1, 30000, 'camera restart');
    assert.ok(((await svc.metric('sidewalk_fail_safe_activations_total')) ?? 0) > failSafesBefore, 'fail-safe engaged while the camera was gone');
    const framesAfterRestart = (await svc.metric('sidewalk_frames_total')) ?? 0;
    await svc.waitFor(async () => ((await svc.metric('sidewalk_frames_total')) ?? 0) > framesAfterRestart + 10, 30000, 'frames after restart');

    // SIGHUP: config and model reload while frames keep flowing; the new sidewalk speed applies.
    const configPath = join(svc.dir, 'runtime.yaml');
    const config = parse(await readFile(configPath, 'utf8')) as { speed: { sidewalk_kph: number } };
    config.speed.sidewalk_kph = 8;
    await writeFile(configPath, stringify(config));
    const before = svc.notify.messages.length;
    const commandsBefore = (await svc.limiterCommands()).length;
    svc.child.kill('SIGHUP');
    await svc.waitFor(() => svc.notify.messages.slice(before).some((m) => m.includes('READY=1')), 15000, 'READY=1 after reload');
    assert.ok(svc.notify.messages.slice(before).some((m) => m.includes('RELOADING=1')));
    await svc.waitFor(async () => (await svc.limiterCommands()).slice(commandsBefore).some((c) => c.limitKph === 8), 20000, 'the reloaded sidewalk speed (8 km/h)');

    svc.child.kill('SIGTERM');
    const { code } = await svc.exited;
    assert.equal(code, 0, svc.stderr());
    const commands = await svc.limiterCommands();
    assert.equal(commands.at(-1)!.safe, true, 'the last command is the safe state');
    assert.equal(commands.at(-1)!.limitKph, 6);
    assert.ok(svc.notify.messages.some((m) => m.includes('STOPPING=1')));
  } finally {
    await svc.stop();
  }
});

test('no WATCHDOG=1 while the pipeline is stalled, and the fail-safe holds the limit', async () => {
  const svc = await startService(baseConfig({ camera: { rpicam: { binary: FAKE_RPICAM, frame_timeout_ms: 60000, restart_min_ms: 1000, restart_max_ms: 2000 } } }), {
    FAKE_RPICAM_SCRIPT: 'street:10',
    FAKE_RPICAM_STALL_AFTER_FRAMES: '25',
    WATCHDOG_USEC: '400000',
  });
  try {
    await svc.waitFor(() => svc.notify.messages.includes('WATCHDOG=1'), 30000, 'WATCHDOG=1 while frames flow');
    await svc.waitFor(async () => (await svc.metric('sidewalk_fail_safe_active')) === 1, 10000, 'fail-safe after the stall');
    // Past stale_after_ms the pings stop; watch a window several watchdog intervals long. Real waits:
    // the watchdog runs in the service's own process, on its own clock.
    await new Promise((r) => setTimeout(r, 1000));
    const mark = svc.notify.messages.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      svc.notify.messages.slice(mark).filter((m) => m.includes('WATCHDOG=1')),
      [],
    );
    const commands = await svc.limiterCommands();
    assert.equal(commands.at(-1)!.limitKph, 6, 'ramped down to the fail-safe limit');
  } finally {
    await svc.stop();
  }
});
