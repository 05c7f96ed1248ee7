/**
 * Fleet test harness: a static artifact host with Range support, model artifacts built by build/ with
 * the real mender-artifact CLI (signed, unsigned, signed with a foreign key), simulated device agents
 * (SimulatedUpdaterBackend) and real on-device agents (the real Updater over the simulated boot model
 * in test/ota/sim-device.ts, reading artifacts with the device's keys). Not a test file.
 */
import { createReadStream, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { buildModelArtifact } from '../../../build/artifact-model.js';
import { nodeFs } from '../../../ota/fs.js';
import { openArtifactFile } from '../../../ota/artifact/index.js';
import { DeviceAgent } from '../../../telemetry/fleet/device/agent.js';
import { OtaUpdaterBackend } from '../../../telemetry/fleet/device/ota-backend.js';
import { SimulatedUpdaterBackend } from '../../../telemetry/fleet/device/simulated-backend.js';
import { EventSpool } from '../../../telemetry/fleet/device/spool.js';
import { serveLocal } from '../../helpers/local-http.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { makeKeys } from '../../ota/artifact/fixtures.js';
import { SimDevice } from '../../ota/sim-device.js';
import type { TestBroker } from './broker.js';
import { makeTempDir } from '../../helpers/temp.js';

/** Serves `dir` over HTTP with single-range support; `gate` (when set) holds every response until it resolves. */
export async function artifactHost(dir: string): Promise<{ base: string; close(): Promise<void>; gate: Promise<void> | null; requests: string[] }> {
  const host = { gate: null as Promise<void> | null, requests: [] as string[] };
  const server = await serveLocal((req, res) => {
    void (async () => {
      host.requests.push(`${req.url} ${req.headers.range ?? ''}`);
      if (host.gate) await host.gate;
      const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
      let size: number;
      try {
        if (!path.startsWith(dir)) throw new Error('outside');
        size = statSync(path).size;
      } catch {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = m ? Number(m[1]) : 0;
      if (start >= size && size > 0) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(m ? 206 : 200, {
        'content-length': size - start,
        'accept-ranges': 'bytes',
        etag: `"${size}"`,
        ...(m ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      createReadStream(path, { start }).pipe(res);
    })();
  });
  return Object.assign(host, { base: server.base, close: server.close });
}

export interface Artifacts {
  dir: string;
  /** Device public key (PEM) and a signed model artifact per version. */
  publicKeyPem: string;
  /** The private key the signed artifacts use (SEC1 PEM file). */
  signingKeyPath: string;
  signed(version: string): Promise<string>;
  unsigned(version: string): Promise<string>;
  foreignSigned(version: string): Promise<string>;
}

/** Model artifacts of the float fixture bundle, as build/ writes them with mender-artifact. */
export async function modelArtifacts(dir: string): Promise<Artifacts> {
  const keys = await makeKeys(dir);
  const foreign = await makeKeys(await mkdtemp(join(dir, 'foreign-')));
  const build = async (version: string, key: string | undefined, tag: string): Promise<string> => {
    const bundle = join(dir, `bundle-${version}-${tag}`);
    const src = join(REPO_ROOT, 'test', 'fixtures', 'models', 'float');
    await mkdir(bundle, { recursive: true });
    await cp(join(src, 'model.tflite'), join(bundle, 'model.tflite'));
    const manifest = JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.min_app_version;
    await writeFile(join(bundle, 'manifest.json'), JSON.stringify({ ...manifest, name: 'sidewalk-la', version, location: 'LA', demo_only: false }));
    const out = join(dir, `model-${version}-${tag}.mender`);
    await buildModelArtifact({ bundleDir: bundle, deviceTypes: ['raspberrypi4'], output: out, ...(key ? { privateKeyPath: key } : {}) });
    return out;
  };
  return {
    dir,
    publicKeyPem: keys.ecPublicPem,
    signingKeyPath: keys.ecPrivate,
    signed: (v) => build(v, keys.ecPrivate, 'signed'),
    unsigned: (v) => build(v, undefined, 'unsigned'),
    foreignSigned: (v) => build(v, foreign.ecPrivate, 'foreign'),
  };
}

export interface SimAgent {
  id: string;
  location: string;
  agent: DeviceAgent;
  backend: SimulatedUpdaterBackend;
  spool: EventSpool;
  dir: string;
}

export async function simAgent(broker: TestBroker, root: string, id: string, location: string, options: { model?: string } = {}): Promise<SimAgent> {
  const dir = join(root, id);
  await mkdir(dir, { recursive: true });
  const backend = new SimulatedUpdaterBackend({ os: '1.0', model: options.model ?? '1.0.0', app: '1.0.0' }, { downloadDir: join(dir, 'downloads') });
  return startAgent(broker, dir, id, location, backend);
}

/** A fresh DeviceAgent (new process) on an existing device folder and backend. */
export async function startAgent<B extends SimulatedUpdaterBackend | OtaUpdaterBackend>(
  broker: TestBroker,
  dir: string,
  id: string,
  location: string,
  backend: B,
  bootId = `boot-${id}`,
): Promise<{ id: string; location: string; agent: DeviceAgent; backend: B; spool: EventSpool; dir: string }> {
  const spool = new EventSpool(join(dir, 'spool'), 200);
  const agent = new DeviceAgent({
    device: id,
    location,
    bootId,
    link: { ...(await broker.tls(id)), reconnectMs: 200 },
    backend,
    spool,
    stateFile: join(dir, 'agent-state.json'),
    health: async () => ({ reachable: true, ready: true, model_version: (await backend.versions()).model }),
  });
  agent.start();
  return { id, location, agent, backend, spool, dir };
}

/** A real on-device agent: the real Updater on a simulated Pi (file-backed slots, stores), real artifact reader with the device's key. */
export async function realAgent(broker: TestBroker, template: string, id: string, location: string, publicKeyPem: string) {
  const dev = SimDevice.fromTemplate(template);
  dev.boot();
  const backend = new OtaUpdaterBackend({
    downloadDir: join(dev.stateDir, 'downloads'),
    fetch: { retries: 1, backoffMs: 50 },
    withUpdater: async (onProgress, fn) =>
      fn(
        await dev
          .updater(nodeFs, {
            onProgress,
            // Real waits while the scooter moves (the sim device's default sleep returns at once).
            lockPollMs: 20,
            sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
            openArtifact: async (path) => openArtifactFile(path, { publicKeys: [publicKeyPem], deviceType: 'raspberrypi4', deviceProvides: dev.provides() }),
          })
          .init(),
      ),
    status: async () => (await dev.updater(nodeFs).init()).status(),
    versions: async () => ({ os: dev.provides()['rootfs-image.version'] ?? null, model: await dev.store(nodeFs, 'model').current(), app: await dev.store(nodeFs, 'app').current() }),
  });
  const started = await startAgent(broker, dev.dir, id, location, backend);
  return { ...started, dev };
}

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A fleet test's folder (test/helpers/temp.ts). */
export const tempDir = makeTempDir;
