/**
 * Real on-device agents for fleet tests: the real Updater over the simulated boot model in
 * test/ota/sim-device.ts, reading artifacts with the device's keys. The rest of the simulated fleet
 * (broker, PKI, agents, artifact hosts) is shared with bench:fleet in telemetry/fleet/sim/. Not a test file.
 */
import { join } from 'node:path';
import { nodeFs } from '../../../ota/fs.js';
import { openArtifactFile } from '../../../ota/artifact/index.js';
import { OtaUpdaterBackend } from '../../../telemetry/fleet/device/ota-backend.js';
import { startAgent } from '../../../telemetry/fleet/sim/agents.js';
import type { SimBroker } from '../../../telemetry/fleet/sim/broker.js';
import { SimDevice } from '../../ota/sim-device.js';

/** A real on-device agent: the real Updater on a simulated Pi (file-backed slots, stores), real artifact reader with the device's key. */
export async function realAgent(broker: SimBroker, template: string, id: string, location: string, publicKeyPem: string) {
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
