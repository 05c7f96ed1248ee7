/**
 * A small simulated fleet on loopback for the metrics path: each device is the runtime's real metrics
 * module (createRuntimeMetrics + serveMetrics) fed by a simulated pipeline, scraped by its own real
 * Prometheus agent whose config is rendered from the template the image ships; all agents
 * remote_write to one real fleet Prometheus (telemetry/prometheus/fleet.yml), which also scrapes the fleet tool's metrics
 * (createFleetMetrics) and evaluates telemetry/prometheus/sidewalk.rules.yml.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { OtaMetrics } from '../../ota/metrics.js';
import { renderAgentConfigFile } from '../../telemetry/agent-config.js';
import { AGENT_TEMPLATE_PATH } from '../helpers/paths.js';
import { createFleetMetrics, setRollout, type FleetMetrics } from '../../telemetry/fleet-metrics.js';
import { createRuntimeMetrics, serveMetrics, type MetricsServer, type RuntimeMetrics } from '../../telemetry/runtime-metrics.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { freePort } from '../helpers/service-process.js';
import { removePrometheusFiles, startPrometheus, type PrometheusProcess } from './prometheus-process.js';

export interface SimDeviceSpec {
  id: string;
  location: string;
  appVersion: string;
  model: string;
  /** Simulated behaviour: inference time per frame, fail-safe held, camera restarting. */
  inferenceSeconds: number;
  failSafe?: boolean;
  cameraRestarts?: boolean;
  /** Nothing serves the updater's /metrics (its job reports up == 0, as on a device whose updater is down). */
  updaterDown?: boolean;
}

export interface SimDevice {
  spec: SimDeviceSpec;
  metrics: RuntimeMetrics;
  server: MetricsServer;
  updater: MetricsServer | null;
  agent: PrometheusProcess;
}

export interface SimulatedFleet {
  server: PrometheusProcess;
  devices: SimDevice[];
  fleetTool: FleetMetrics;
  /** Restarts the fleet server on the same port and storage (after stopServer). */
  restartServer(): Promise<void>;
  stopServer(): Promise<void>;
  stop(): Promise<void>;
}

const PROM_DIR = join(REPO_ROOT, 'telemetry/prometheus');
const LAST_UPDATE = { id: '1700000000000', kind: 'model', artifactName: 'model-LA-8', result: 'success', error: null, atMs: 1700000042000 } as const;

/** The shipped fleet config with test intervals, the test's fleet tool target and absolute rule paths. */
export async function serverConfig(fleetToolTarget: string): Promise<string> {
  const doc = parse(await readFile(join(PROM_DIR, 'fleet.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  doc.global.scrape_interval = '1s';
  doc.global.evaluation_interval = '1s';
  doc.rule_files = doc.rule_files.map((f) => join(PROM_DIR, f));
  const job = doc.scrape_configs.find((j) => j.job_name === 'sidewalk-fleet')!;
  job.static_configs = [{ targets: [fleetToolTarget] }];
  return stringify(doc);
}

/**
 * The agent flags of the image's unit (retention, WAL compression, log format), so the agents here run
 * as on a device; paths and the listen address are the test's own.
 */
async function unitAgentFlags(): Promise<string[]> {
  const unit = await readFile(join(REPO_ROOT, 'image/systemd/sidewalk-prometheus-agent.service'), 'utf8');
  const exec = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)![1]!.replace(/\\\n/g, ' ');
  const [binary, ...args] = exec.trim().split(/\s+/);
  if (binary !== '/usr/bin/prometheus' || !args.includes('--enable-feature=agent')) throw new Error(`unexpected ExecStart: ${exec}`);
  const flags = args.filter((a) => !/^--(config\.file|storage\.agent\.path|web\.listen-address|enable-feature)=/.test(a));
  if (!flags.some((a) => a.startsWith('--storage.agent.retention.max-time='))) throw new Error(`no WAL retention in ExecStart: ${exec}`);
  return flags;
}

/** One simulated frame: what the runtime's pipeline records per classified frame. */
function frame(m: RuntimeMetrics, spec: SimDeviceSpec, n: number): void {
  m.framesTotal.inc();
  m.inferenceSeconds.observe(spec.inferenceSeconds * (0.9 + 0.05 * (n % 5)));
  m.preprocessSeconds.observe(0.004);
  m.frameToActuationSeconds.observe(spec.inferenceSeconds + 0.01);
  const side = n % 40 < 20 ? 0.92 : 0.12;
  m.classConfidence.set({ class: 'side' }, side);
  m.classConfidence.set({ class: 'road' }, 1 - side);
  m.onSidewalk.set(side > 0.5 ? 1 : 0);
  if (n % 40 === 0) m.limitActivationsTotal.inc();
  m.speedLimitKph.set(side > 0.5 ? 6 : 25);
  m.targetSpeedLimitKph.set(side > 0.5 ? 6 : 25);
  if (n === 0) m.speedKph.set(12); // left alone afterwards: the WAL test owns it
  m.framesPerSecond.set(10);
  m.failSafeActive.set(spec.failSafe ? 1 : 0);
  if (spec.failSafe && n % 20 === 0) m.failSafeActivationsTotal.inc();
  if (spec.cameraRestarts && n % 10 === 0) m.cameraRestartsTotal.inc();
  if (n % 50 === 0) m.droppedFramesTotal.inc();
}

export async function startSimulatedFleet(specs: SimDeviceSpec[]): Promise<SimulatedFleet> {
  const fleetTool = createFleetMetrics();
  for (const s of specs) fleetTool.deviceInfo.set({ device: s.id, location: s.location }, 1);
  setRollout(fleetTool, {
    rollout: 'app-1.3.0-LA',
    location: 'LA',
    artifact: 'sidewalk-app-1.3.0',
    status: 'running',
    stepPercent: 25,
    devices: { targeted: 4, succeeded: 2, in_progress: 1, failed: 1 },
  });
  setRollout(fleetTool, { rollout: 'model-den-5', location: 'Denver', artifact: 'model-Denver-5', status: 'completed', stepPercent: 100, devices: { targeted: 3, succeeded: 3 } });
  const fleetToolServer = await serveMetrics(fleetTool.registry, { host: '127.0.0.1', port: 0 });
  const fleetToolTarget = new URL(fleetToolServer.url).host;

  let server = await startPrometheus({ config: await serverConfig(fleetToolTarget), agent: false });
  const agentFlags = await unitAgentFlags();
  const devices: SimDevice[] = [];
  let n = 0;
  const ticker = setInterval(() => {
    n++;
    for (const d of devices) frame(d.metrics, d.spec, n);
  }, 100);
  const stopAll = async () => {
    clearInterval(ticker);
    await Promise.all(
      devices.map(async (d) => {
        await d.agent.stop();
        await d.server.close();
        await d.updater?.close();
        await removePrometheusFiles(d.agent);
      }),
    );
    await server.stop();
    await removePrometheusFiles(server);
    await fleetToolServer.close();
  };
  try {
    for (const spec of specs) {
      const metrics = createRuntimeMetrics(); // with the process metrics, as on a device
      metrics.appInfo.set({ version: spec.appVersion }, 1);
      metrics.modelInfo.set({ name: spec.model, version: spec.model.split('-').pop()!, location: spec.model.split('-')[0]!, sha256: 'ab12', backend: 'xnnpack' }, 1);
      frame(metrics, spec, 0);
      const metricsServer = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
      // The updater daemon's real metrics module over a journal that says idle after a committed model.
      const updater = spec.updaterDown ? null : await serveMetrics(new OtaMetrics(async () => ({ state: 'idle', last: LAST_UPDATE })).registry, { host: '127.0.0.1', port: 0 });
      const config = await renderAgentConfigFile(AGENT_TEMPLATE_PATH, {
        device: spec.id,
        location: spec.location,
        remoteWriteUrl: `${server.url}/api/v1/write`,
        runtimeTarget: new URL(metricsServer.url).host,
        updaterTarget: updater ? new URL(updater.url).host : `127.0.0.1:${await freePort()}`,
        scrapeInterval: '1s',
      });
      const agent = await startPrometheus({ config, agent: true, extraArgs: agentFlags }).catch(async (err: unknown) => {
        await metricsServer.close();
        await updater?.close();
        throw err;
      });
      devices.push({ spec, metrics, server: metricsServer, updater, agent });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    get server() {
      return server;
    },
    devices,
    fleetTool,
    async stopServer() {
      await server.stop();
    },
    async restartServer() {
      server = await startPrometheus({ config: await serverConfig(fleetToolTarget), agent: false, port: server.port, storage: server.storage });
    },
    stop: stopAll,
  };
}
