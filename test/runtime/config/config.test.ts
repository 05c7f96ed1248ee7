import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile, validateConfig } from '../../../runtime/config/load.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { configReferenceMarkdown } from '../../../runtime/config/reference.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { makeTempDir } from '../../helpers/temp.js';

async function withFile(text: string, fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await makeTempDir('cfg-');
  try {
    const path = join(dir, 'runtime.yaml');
    await writeFile(path, text);
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a minimal config gets the legacy decision defaults and resolves paths against its folder', async () => {
  await withFile('model:\n  bundle: models/current\n', (path) => {
    const c = loadConfigFile(path);
    assert.equal(c.mode, 'limit');
    assert.equal(c.decision.window_frames, 6);
    assert.equal(c.decision.sidewalk_enter, 0.5);
    assert.equal(c.decision.road_below, 0.5);
    assert.equal(c.speed.ramp_s, 10);
    assert.equal(c.metrics.host, '127.0.0.1');
    assert.equal(c.model.bundle, join(path, '..', 'models/current'));
  });
});

test('every violation is reported as path: message', () => {
  try {
    validateConfig({ mode: 'fly', model: {}, camera: { width: 3, colour: 'red' }, speed: { sidewalk_kph: -1 } });
    assert.fail('expected CONFIG_INVALID');
  } catch (err) {
    assert.ok(isSidewalkError(err, 'CONFIG_INVALID'));
    const problems = err.details.problems as string[];
    assert.deepEqual(problems.sort(), [
      'camera.colour: unknown field',
      'camera.width: must be >= 16',
      'mode: must be one of limit, monitor, record, replay',
      'model.bundle: required field is missing',
      'speed.sidewalk_kph: must be > 0',
    ]);
  }
});

test('YAML syntax errors name the line', async () => {
  await withFile('model:\n  bundle: [unclosed\n', (path) => {
    assert.throws(
      () => loadConfigFile(path),
      (err: unknown) => isSidewalkError(err, 'CONFIG_INVALID') && /line \d+/.test(err.message),
    );
  });
});

test('a missing file is CONFIG_UNREADABLE naming the path', () => {
  assert.throws(() => loadConfigFile('/nonexistent/runtime.yaml'), /CONFIG_UNREADABLE|nonexistent\/runtime.yaml/);
});

test('the shipped example config is valid', () => {
  const c = loadConfigFile(join(REPO_ROOT, 'image/rootfs/etc/sidewalk/runtime.yaml'));
  assert.equal(c.limiter.kind, 'gpio');
  assert.equal(c.decision.enter_frames, 2);
});

test("README's configuration reference is the one generated from the schema", async () => {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = readme.split('<!-- config-reference:start')[1]!.split('<!-- config-reference:end -->')[0]!;
  const body = block.slice(block.indexOf('-->') + 3).trim();
  assert.equal(body, configReferenceMarkdown(), 'run: node dist/bin/sidewalk.js config reference --update-readme');
});

test('rules between fields are checked like the schema: each violation named as path: message', () => {
  const problemsOf = (raw: Record<string, unknown>): string[] => {
    try {
      validateConfig({ model: { bundle: 'm' }, ...raw });
      return [];
    } catch (err) {
      assert.ok(isSidewalkError(err, 'CONFIG_INVALID'));
      return err.details.problems as string[];
    }
  };
  assert.deepEqual(problemsOf({}), []);
  assert.deepEqual(problemsOf({ speed: { full_kph: 6 } }), ['speed.sidewalk_kph: 6 must be below speed.full_kph (6)']);
  assert.deepEqual(problemsOf({ speed: { fail_safe_kph: 10 } }), ['speed.fail_safe_kph: 10 must not exceed speed.sidewalk_kph (6)']);
  assert.match(problemsOf({ decision: { sidewalk_enter: 0.5, sidewalk_exit: 0.7 } })[0]!, /^decision\.sidewalk_exit: 0\.7 must not exceed decision\.sidewalk_enter/);
  assert.match(problemsOf({ decision: { road_below: 0.5, road_exit: 0.3 } })[0]!, /^decision\.road_exit: 0\.3 must not be below decision\.road_below/);
  assert.match(problemsOf({ camera: { rpicam: { restart_min_ms: 5000, restart_max_ms: 1000 } } })[0]!, /^camera\.rpicam\.restart_min_ms/);
  assert.match(problemsOf({ limiter: { pwm: { period_ns: 1000000, duty_at_full_ns: 2000000 } } })[0]!, /^limiter\.pwm\.duty_at_full_ns: 2000000 must not exceed limiter\.pwm\.period_ns/);
  assert.deepEqual(problemsOf({ camera: { source: 'replay' } }), ['camera.replay.input: required when camera.source is replay']);
  assert.deepEqual(problemsOf({ mode: 'replay' }), ['camera.source: mode replay needs camera.source replay (is rpicam)']);
});

test('the GPS and the serial limiter default to two different UARTs, the ones the image enables on both boards', async () => {
  const c = validateConfig({ model: { bundle: 'm' } }, 'test');
  // As the legacy scooter wired them (scooter.py): GPS on UART2, motor controller on UART4.
  assert.equal(c.speed_source.nmea.device, '/dev/ttyAMA2');
  assert.equal(c.limiter.serial.device, '/dev/ttyAMA4');
  const configTxt = await readFile(join(REPO_ROOT, 'image/boot/config.txt'), 'utf8');
  const section = (name: string) => configTxt.split(/^\[/m).find((s) => s.startsWith(`${name}]`)) ?? '';
  for (const overlay of ['uart2', 'uart4']) {
    assert.match(section('pi4'), new RegExp(`^dtoverlay=${overlay}$`, 'm'), `[pi4] enables ${overlay}`);
    assert.match(section('pi5'), new RegExp(`^dtoverlay=${overlay}-pi5$`, 'm'), `[pi5] enables ${overlay}`);
  }
  assert.match(configTxt, /\n\[all\]\n[^[]*$/, 'the file ends back in [all], so what follows applies to every board');
});
