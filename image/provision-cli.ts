/** `sidewalk provision`: runs on the scooter (sidewalk-provision.service), so it is its own CLI area, apart from the host-only `image`. */
import type { Command } from 'commander';
import { DEVICE_AGENT_TEMPLATE } from '../telemetry/agent-config.js';
import { provision } from './provision.js';

export function registerProvisionCommands(program: Command): void {
  program
    .command('provision')
    .description('first-boot provisioning on the scooter (sidewalk-provision.service): boot partition file -> data partition')
    .requiredOption('--boot <dir>', 'mounted boot partition holding sidewalk-provision.yaml')
    .requiredOption('--data <dir>', 'mounted data partition')
    .option('--runtime-config <file>', "the image's runtime config", '/etc/sidewalk/runtime.yaml')
    .option('--group-file <file>', 'group database (the service group owns the secrets)', '/etc/group')
    .option('--agent-template <file>', "the image's metrics agent config template", DEVICE_AGENT_TEMPLATE)
    .action(async (o: { boot: string; data: string; runtimeConfig: string; groupFile: string; agentTemplate: string }) => {
      const r = await provision({ bootDir: o.boot, dataDir: o.data, runtimeConfig: o.runtimeConfig, groupFile: o.groupFile, agentTemplate: o.agentTemplate });
      process.stderr.write(r.state === 'provisioned' ? `provision: provisioned ${r.deviceId}; secrets moved from ${o.boot} to ${o.data}\n` : `provision: already provisioned as ${r.deviceId}\n`);
    });
}
