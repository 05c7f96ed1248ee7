import type { Command } from 'commander';

export function registerDataCommands(_program: Command): void {
  // Commands land here as the area grows.
}
