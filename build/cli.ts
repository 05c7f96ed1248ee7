import type { Command } from 'commander';

export function registerArtifactCommands(_program: Command): void {
  // Commands land here as the area grows.
}
