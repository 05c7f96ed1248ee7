import type { Command } from 'commander';

export function registerOtaCommands(_program: Command): void {
  // Commands land here as the area grows.
}
