/**
 * Simulated device agents for tests and bench:fleet: the real DeviceAgent (link, spool, state file)
 * over a SimulatedUpdaterBackend, each with its own client certificate from the simulated broker's
 * PKI. Host-side simulation, never shipped to a device.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceAgent } from '../device/agent.js';
import type { OtaUpdaterBackend } from '../device/ota-backend.js';
import { SimulatedUpdaterBackend } from '../device/simulated-backend.js';
import { EventSpool } from '../device/spool.js';
import type { SimBroker } from './broker.js';

export interface Agent<B> {
  id: string;
  location: string;
  agent: DeviceAgent;
  backend: B;
  spool: EventSpool;
  dir: string;
}

export type SimAgent = Agent<SimulatedUpdaterBackend>;

export async function simAgent(broker: SimBroker, root: string, id: string, location: string, options: { model?: string } = {}): Promise<SimAgent> {
  const dir = join(root, id);
  await mkdir(dir, { recursive: true });
  const backend = new SimulatedUpdaterBackend({ os: '1.0', model: options.model ?? '1.0.0', app: '1.0.0' }, { downloadDir: join(dir, 'downloads') });
  return startAgent(broker, dir, id, location, backend);
}

/** A fresh DeviceAgent (as after a process restart) on an existing device folder and backend. */
export async function startAgent<B extends SimulatedUpdaterBackend | OtaUpdaterBackend>(
  broker: SimBroker,
  dir: string,
  id: string,
  location: string,
  backend: B,
  bootId = `boot-${id}`,
): Promise<Agent<B>> {
  const spool = new EventSpool(join(dir, 'spool'), 200);
  const agent = new DeviceAgent({
    device: id,
    location,
    bootId,
    link: { ...(await broker.tls(id)), reconnectMs: 200, reconnectMaxMs: 2000 },
    backend,
    spool,
    stateFile: join(dir, 'agent-state.json'),
    health: async () => ({ reachable: true, ready: true, model_version: (await backend.versions()).model }),
  });
  agent.start();
  return { id, location, agent, backend, spool, dir };
}
