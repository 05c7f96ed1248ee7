import type { Command } from 'commander';

export function registerTrainCommands(_program: Command): void {
  // Commands land here as the area grows.
}
