/**
 * Each area's top-level commands and how to register them. The CLI imports only the area whose
 * command runs (every area's modules together cost ~0.1 s of each start); anything else (no command,
 * `help`, a typo) loads them all. test/bin/cli-areas.test.ts checks these lists against what the areas register.
 */
import type { Command } from 'commander';

export interface CliArea {
  commands: readonly string[];
  /** Installed on the scooter (the arm64 app bundle, build/bundle/, carries only these areas). */
  device?: true;
  load(): Promise<(program: Command) => void>;
}

export const CLI_AREAS: readonly CliArea[] = [
  { commands: ['run', 'replay', 'config', 'limiter'], device: true, load: async () => (await import('../runtime/cli.js')).registerRuntimeCommands },
  { commands: ['artifact'], load: async () => (await import('../build/cli.js')).registerArtifactCommands },
  { commands: ['ota'], device: true, load: async () => (await import('../ota/cli.js')).registerOtaCommands },
  { commands: ['data'], load: async () => (await import('../host-tools/data/cli.js')).registerDataCommands },
  { commands: ['train'], load: async () => (await import('../host-tools/train/cli.js')).registerTrainCommands },
  { commands: ['eval'], load: async () => (await import('../host-tools/eval/cli.js')).registerEvalCommands },
  { commands: ['models'], load: async () => (await import('../host-tools/registry/cli.js')).registerRegistryCommands },
  { commands: ['image'], load: async () => (await import('../image/cli.js')).registerImageCommands },
  { commands: ['provision'], device: true, load: async () => (await import('../image/provision-cli.js')).registerProvisionCommands },
  { commands: ['grow-data'], device: true, load: async () => (await import('../image/grow-data-cli.js')).registerGrowDataCommand },
  { commands: ['pipeline'], load: async () => (await import('../host-tools/pipeline/cli.js')).registerPipelineCommands },
  { commands: ['fleet'], load: async () => (await import('../host-tools/fleet/cli.js')).registerFleetCommands },
  { commands: ['errors'], load: async () => (await import('../host-tools/errors/cli.js')).registerErrorsCommands },
];

/** The areas to load for these arguments (argv without node and the script). */
export function areasFor(args: readonly string[]): readonly CliArea[] {
  const command = args.find((a) => !a.startsWith('-'));
  const chosen = CLI_AREAS.filter((area) => command !== undefined && area.commands.includes(command));
  return chosen.length > 0 ? chosen : CLI_AREAS;
}
