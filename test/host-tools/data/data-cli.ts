/**
 * Runs only the `data` commands, the way bin/sidewalk.ts does (same error output and exit code), so the
 * data CLI can be tested while other areas' commands are being edited.
 */
import { Command } from 'commander';
import { errorMessage } from '../../../lib/errors.js';
import { registerDataCommands } from '../../../host-tools/data/cli.js';

const program = new Command('sidewalk').exitOverride((err) => {
  process.exitCode = err.exitCode;
  throw err;
});
registerDataCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  if ((err as { code?: string }).code?.startsWith('commander.')) return;
  process.stderr.write(`sidewalk: ${errorMessage(err)}\n`);
  process.exitCode = process.exitCode || 1;
});
