/**
 * The device runtime's Prometheus metrics (names `sidewalk_*`, base units in the name) and the
 * loopback `/metrics` endpoint. Default process metrics keep their standard names.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../lib/log.js';

const log = createLogger('telemetry:metrics');

export interface RuntimeMetrics {
  readonly registry: Registry;
  framesTotal: Counter;
  droppedFramesTotal: Counter;
  inferenceSeconds: Histogram;
  preprocessSeconds: Histogram;
  frameToActuationSeconds: Histogram;
  classConfidence: Gauge<'class'>;
  onSidewalk: Gauge;
  speedLimitKph: Gauge;
  targetSpeedLimitKph: Gauge;
  limitActivationsTotal: Counter;
  failSafeActive: Gauge;
  failSafeActivationsTotal: Counter;
  cameraRestartsTotal: Counter;
  inferenceErrorsTotal: Counter;
  limiterErrorsTotal: Counter;
  modelInfo: Gauge<'name' | 'version' | 'location' | 'sha256' | 'backend'>;
  appInfo: Gauge<'version'>;
  speedKph: Gauge;
  framesPerSecond: Gauge;
}

/** Bucket edges for per-frame timings on a Pi: 1 ms .. ~2 s. */
const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2];

export function createRuntimeMetrics(options: { defaultMetrics?: boolean } = {}): RuntimeMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const latency = (name: string, help: string) => new Histogram({ name, help, buckets: LATENCY_BUCKETS_S, registers });
  return {
    registry,
    framesTotal: new Counter({ name: 'sidewalk_frames_total', help: 'Frames classified.', registers }),
    droppedFramesTotal: new Counter({
      name: 'sidewalk_dropped_frames_total',
      help: 'Frames superseded by a newer frame before inference could take them.',
      registers,
    }),
    inferenceSeconds: latency('sidewalk_inference_duration_seconds', 'TFLite invoke time per frame.'),
    preprocessSeconds: latency('sidewalk_preprocess_duration_seconds', 'Crop, resize, colour conversion and normalisation time per frame.'),
    frameToActuationSeconds: latency('sidewalk_frame_to_actuation_seconds', 'From frame capture to the speed limiter command it caused.'),
    classConfidence: new Gauge({
      name: 'sidewalk_class_confidence_ratio',
      help: 'Latest model probability per class (0..1).',
      labelNames: ['class'] as const,
      registers,
    }),
    onSidewalk: new Gauge({ name: 'sidewalk_on_sidewalk', help: '1 while the decision is "on a sidewalk".', registers }),
    speedLimitKph: new Gauge({
      name: 'sidewalk_speed_limit_kph',
      help: 'Speed limit currently commanded to the limiter (ramped), km/h.',
      registers,
    }),
    targetSpeedLimitKph: new Gauge({
      name: 'sidewalk_target_speed_limit_kph',
      help: 'Speed limit the decision asks for (before ramping), km/h.',
      registers,
    }),
    limitActivationsTotal: new Counter({
      name: 'sidewalk_limit_activations_total',
      help: 'Times the decision switched to "on a sidewalk" (limit engaged).',
      registers,
    }),
    failSafeActive: new Gauge({
      name: 'sidewalk_fail_safe_active',
      help: '1 while no valid decision is fresh and the limiter holds its fail-safe limit.',
      registers,
    }),
    failSafeActivationsTotal: new Counter({
      name: 'sidewalk_fail_safe_activations_total',
      help: 'Times the fail-safe engaged.',
      registers,
    }),
    cameraRestartsTotal: new Counter({
      name: 'sidewalk_camera_restarts_total',
      help: 'Restarts of the camera capture process.',
      registers,
    }),
    inferenceErrorsTotal: new Counter({
      name: 'sidewalk_inference_errors_total',
      help: 'Frames whose classification failed.',
      registers,
    }),
    limiterErrorsTotal: new Counter({
      name: 'sidewalk_limiter_errors_total',
      help: 'Speed limiter commands that failed.',
      registers,
    }),
    modelInfo: new Gauge({
      name: 'sidewalk_model_info',
      help: 'The loaded model (value 1).',
      labelNames: ['name', 'version', 'location', 'sha256', 'backend'] as const,
      registers,
    }),
    appInfo: new Gauge({
      name: 'sidewalk_app_info',
      help: 'The running app (value 1); the OTA updater checks it after an app update.',
      labelNames: ['version'] as const,
      registers,
    }),
    speedKph: new Gauge({ name: 'sidewalk_speed_kph', help: 'Latest scooter speed reading, km/h.', registers }),
    framesPerSecond: new Gauge({
      name: 'sidewalk_frames_per_second',
      help: 'Classified frames per second over the last few seconds.',
      registers,
    }),
  };
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (and `/healthz`) on host:port. Port 0 picks a free port. */
export async function serveMetrics(registry: Registry, options: { host: string; port: number; health?: () => { ok: boolean; detail: unknown } }): Promise<MetricsServer> {
  const { host } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
    } else if (req.method === 'GET' && path === '/healthz' && options.health) {
      const h = options.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h.detail));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
  log.info(`serving metrics on ${url}`);
  return {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
