/**
 * Builds the runtime's parts from a validated config. The only place that maps config fields onto
 * the rooms' factories; the service (service.ts) acquires them in order and releases them.
 */
import { join } from 'node:path';
import type { Classifier, Frame, FrameSource, SpeedSource } from '../types.js';
import type { DecisionRecord } from './pipeline.js';
import type { RuntimeConfig, RuntimeDefaults } from '../config/schema.js';
import { DecisionEngine, decisionConfigFrom } from '../decision/index.js';
import { createLimitRule, type LimitRule, type SpeedLimiterConfig } from '../actuators/index.js';
import { createSpeedSource } from '../sensors/index.js';
import { createFrameSource, type CameraOptions } from '../camera/index.js';
import { DEFAULT_IMAGE_FPS, isRideDir, legacyMediaTimes, rideMediaTimes } from '../camera/replay-source.js';
import { readRide } from '../recorder/ride-format.js';
import { isLegacyRunDir, readLegacyRun } from '../recorder/legacy-run.js';
import { createTfliteClassifier } from '../inference/index.js';
import { RideRecorder } from '../recorder/ride-recorder.js';
import { appVersion } from '../../lib/app-version.js';
import { createLogger } from '../../lib/log.js';
import { SidewalkError, errorMessage, isSidewalkError } from '../../lib/errors.js';
import { probeWritableDir } from '../../lib/make-dir.js';

const log = createLogger('runtime:components');

export interface FrameRecorder {
  addFrame(frame: Frame, decision: DecisionRecord): void;
  close(): Promise<void>;
}

/** Loads and verifies the configured model bundle and starts its inference worker. */
export function loadClassifier(config: RuntimeConfig): Promise<Classifier> {
  return createTfliteClassifier(config.model.bundle, { delegate: config.model.delegate, numThreads: config.model.num_threads, appVersion: appVersion() });
}

export function limiterConfig(config: RuntimeConfig): SpeedLimiterConfig {
  const { limiter, speed } = config;
  switch (limiter.kind) {
    case 'simulated':
      return { kind: 'simulated', logFile: limiter.simulated.log_file, safeLimitKph: speed.fail_safe_kph };
    case 'gpio':
      return {
        kind: 'gpio',
        backend: limiter.gpio.backend,
        line: limiter.gpio.line,
        activeLow: limiter.gpio.active_low,
        sidewalkLimitKph: speed.sidewalk_kph,
        // A digital line has two states: anything at or below the higher of the sidewalk and
        // fail-safe limits must read "limited".
        thresholdKph: Math.max(speed.sidewalk_kph, speed.fail_safe_kph) + 0.05,
      };
    case 'pwm':
      return {
        kind: 'pwm',
        chipPath: limiter.pwm.chip_path,
        channel: limiter.pwm.channel,
        periodNs: limiter.pwm.period_ns,
        dutyAtZeroNs: limiter.pwm.duty_at_zero_ns,
        dutyAtFullNs: limiter.pwm.duty_at_full_ns,
        fullSpeedKph: speed.full_kph,
        safeLimitKph: speed.fail_safe_kph,
      };
    case 'serial':
      return {
        kind: 'serial',
        device: limiter.serial.device,
        baud: limiter.serial.baud,
        protocol: limiter.serial.protocol,
        replyTimeoutMs: limiter.serial.reply_timeout_ms,
        safeLimitKph: speed.fail_safe_kph,
      };
  }
}

export async function speedSourceFor(config: RuntimeConfig): Promise<SpeedSource | null> {
  const s = config.speed_source;
  const replayInput = config.camera.source === 'replay' ? config.camera.replay.input : null;
  switch (s.kind) {
    case 'none':
    case 'replay-log':
      // A legacy run's speed column feeds the speed source, at the same media times as its frames.
      if (replayInput && (await isLegacyRunDir(replayInput))) return legacySpeedSource(replayInput, config);
      // A recorded ride's speed_kph, likewise.
      if (replayInput && (await isRideDir(replayInput))) return rideSpeedSource(replayInput, config);
      return null;
    case 'simulated':
      return createSpeedSource({ kind: 'simulated', speedKph: s.simulated_kph });
    case 'nmea':
      return createSpeedSource({ kind: 'nmea', device: s.nmea.device, baud: s.nmea.baud, staleAfterMs: s.nmea.stale_after_ms });
  }
}

async function legacySpeedSource(dir: string, config: RuntimeConfig): Promise<SpeedSource> {
  const run = await readLegacyRun(dir, { out: false });
  const frames = run.images.map((i) => i.frame);
  const rowByFrame = new Map(run.raw.map((r) => [r.frame, r]));
  const times = legacyMediaTimes(frames, new Map(run.raw.map((r) => [r.frame, r.time])), config.camera.replay.fps ?? DEFAULT_IMAGE_FPS);
  const samples = frames.flatMap((frame, i) => {
    const row = rowByFrame.get(frame);
    return row ? [{ timeMs: times[i]!, speedKph: row.speed }] : [];
  });
  return createSpeedSource({ kind: 'replay-log', samples, speedScale: config.speed_source.replay_log.speed_scale });
}

async function rideSpeedSource(dir: string, config: RuntimeConfig): Promise<SpeedSource | null> {
  const ride = await readRide(dir);
  const times = rideMediaTimes(ride, ride.meta.frames.count, config.camera.replay.fps ?? DEFAULT_IMAGE_FPS);
  const samples = ride.records.flatMap((r) => (r.frame !== undefined && times[r.frame] !== undefined && typeof r.speed_kph === 'number' ? [{ timeMs: times[r.frame]!, speedKph: r.speed_kph }] : []));
  return samples.length > 0 ? createSpeedSource({ kind: 'replay-log', samples, speedScale: 1 }) : null;
}

export function frameSourceFor(config: RuntimeConfig): FrameSource {
  return createFrameSource(cameraOptionsFrom(config.camera));
}

/** The camera section of a config as the camera room's options. */
export function cameraOptionsFrom(c: RuntimeDefaults['camera']): CameraOptions {
  return {
    source: c.source,
    width: c.width,
    height: c.height,
    fps: c.fps,
    rpicam: {
      binary: c.rpicam.binary,
      sensorMode: c.rpicam.sensor_mode,
      bufferCount: c.rpicam.buffer_count,
      stride: c.rpicam.stride,
      frameTimeoutMs: c.rpicam.frame_timeout_ms,
      restartMinMs: c.rpicam.restart_min_ms,
      restartMaxMs: c.rpicam.restart_max_ms,
    },
    replay: { input: c.replay.input, realtime: c.replay.realtime, fps: c.replay.fps, strict: c.replay.strict },
    synthetic: { script: c.synthetic.script, seed: c.synthetic.seed, realtime: true },
  };
}

/** Serialises recorder writes; frames are copied because sources reuse their buffers. */
function recorderAdapter(recorder: RideRecorder): FrameRecorder {
  let chain: Promise<void> = Promise.resolve();
  let failed = false;
  return {
    addFrame(frame, decision) {
      if (failed) return;
      const copy: Frame = { ...frame, data: frame.data.slice() };
      const scores = Array.from(decision.probabilities);
      chain = chain
        .then(() => recorder.addFrame(copy, { speed_kph: decision.speedKph, scores, on_sidewalk: decision.onSidewalk }))
        .catch((err: unknown) => {
          failed = true;
          log.error(`recording stopped: ${errorMessage(err)}`);
        });
    },
    async close() {
      await chain;
      await recorder.close();
    },
  };
}

export function decisionEngineFor(config: RuntimeConfig): DecisionEngine {
  return new DecisionEngine(decisionConfigFrom(config));
}

export function limitRuleFor(config: RuntimeConfig, startKph: number): LimitRule {
  const { speed } = config;
  // A GPIO line has two states: it asserts only at sidewalk speed, so a limit that trails the
  // measured speed would never assert it while the rider holds their speed. It keeps the ramp.
  const kind = config.limiter.kind === 'gpio' ? 'ramp' : speed.limit_rule;
  return createLimitRule(kind, startKph, { rampS: speed.ramp_s, fullSpeedKph: speed.full_kph, sidewalkLimitKph: speed.sidewalk_kph });
}

/** Opens a ride recording for record mode (one folder per run, named by device and start time). */
export async function openRecorder(config: RuntimeConfig, classifier: Classifier): Promise<FrameRecorder> {
  const dir = join(config.recording.dir, `${config.device.id}-${new Date().toISOString().replace(/[:.]/g, '')}`);
  try {
    return recorderAdapter(
      await RideRecorder.open({
        dir,
        device: config.device.id,
        location: config.device.location,
        model: { name: classifier.info.name, version: classifier.info.version },
        labels: [...classifier.labels],
      }),
    );
  } catch (err) {
    if (isSidewalkError(err)) throw err;
    throw new SidewalkError('RECORDER_OPEN_FAILED', `cannot start a ride recording in ${dir} (recording.dir): ${(err as Error).message}`, { cause: err, details: { dir } });
  }
}

/** `run --check`: the folder a config names could be created and written (CONFIG_PATH_UNWRITABLE naming the field). */
export async function checkWritableDir(dir: string, field: string): Promise<void> {
  await probeWritableDir(dir).catch((err: unknown) => {
    throw new SidewalkError('CONFIG_PATH_UNWRITABLE', `${field}: cannot create or write ${dir}: ${(err as Error).message}`, { cause: err, details: { field, dir } });
  });
}
