/**
 * `sidewalk ota sim init DIR`: a simulated scooter to try the updater on a host (ota/README.md has the
 * walk-through). The disk holds slot A with OS 1.0 (the simulated firmware's image format), the model
 * and app stores start empty, and a stand-in runtime (runtime.mjs, run as the reload/restart command)
 * writes the status file the health checks read, reporting the model `models/current` points at.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { makeSimImage } from './boot/sim-image.js';
import { SimulatedFirmware, simulatedLayout } from './boot/simulated.js';

export interface SimDeviceFiles {
  config: string;
  signingKey: string;
  verifyKey: string;
}

const RUNTIME_SCRIPT = `// Stand-in for the runtime: what it would report after loading models/current (see ota/sim-init.ts).
import { readFileSync, writeFileSync } from 'node:fs';
const here = new URL('.', import.meta.url).pathname;
let model = null;
try {
  model = JSON.parse(readFileSync(here + 'models/current/manifest.json', 'utf8')).version;
} catch {
  // no model installed yet: the runtime would not get ready
}
writeFileSync(here + 'status.json', JSON.stringify({ ready: model !== null, model_version: model, last_decision_unix_ms: Date.now(), speed_kph: 0, started_unix_ms: Date.now() }));
`;

export function initSimDevice(dirArg: string): SimDeviceFiles {
  const dir = resolve(dirArg);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new SidewalkError('OTA_SIM_EXISTS', `${dirArg} is not empty; give a new or empty folder for the simulated device`);
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new SidewalkError('OTA_SIM_UNWRITABLE', `${dirArg}: cannot create the folder (${(err as Error).message})`, { cause: err });
  }
  SimulatedFirmware.createDisk(simulatedLayout(join(dir, 'disk')), {
    bootBytes: 64 * 1024,
    rootBytes: 1024 * 1024,
    bootA: makeSimImage({ version: 'boot-1.0', bodyBytes: 4096 }),
    rootA: makeSimImage({ version: '1.0', bodyBytes: 256 * 1024 }),
  });
  for (const d of ['state', 'models', 'app']) mkdirSync(join(dir, d), { recursive: true });
  // The signing key stays with the person building artifacts: on a real scooter only verify-key.pem exists.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signingKey = join(dir, 'host-signing-key.pem');
  writeFileSync(signingKey, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
  chmodSync(signingKey, 0o600);
  const verifyKey = join(dir, 'verify-key.pem');
  writeFileSync(verifyKey, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'runtime.mjs'), RUNTIME_SCRIPT);
  const runtime = JSON.stringify([process.execPath, join(dir, 'runtime.mjs')]);
  const config = join(dir, 'ota.yaml');
  writeFileSync(
    config,
    [
      '# A simulated scooter made by `sidewalk ota sim init` (ota/README.md, "Trying it on a host").',
      '# Paths are relative to this file. Every key and its default: ota/config.ts.',
      'device_type: raspberrypi4',
      'state_dir: state',
      'stores: { model: models, app: app }',
      'keys: [verify-key.pem]',
      'factory_provides: { artifact_name: sim-os-1.0, rootfs-image.version: "1.0" }',
      'boot: { backend: simulated, simulated_dir: disk }',
      `runtime: { source: status-file, status_file: status.json, reload_command: ${runtime}, restart_command: ${runtime} }`,
      'health:',
      '  os: { ready_timeout_s: 5, window_s: 1, poll_s: 0.2 }',
      '  model: { ready_timeout_s: 5, window_s: 1, poll_s: 0.2 }',
      '  app: { ready_timeout_s: 5, window_s: 1, poll_s: 0.2 }',
      'lock: { poll_s: 0.5, timeout_s: 30 }',
      'download: { retries: 2, backoff_s: 1 }',
      '',
    ].join('\n'),
  );
  return { config, signingKey, verifyKey };
}
