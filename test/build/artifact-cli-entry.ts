/**
 * Runs only the `artifact` command group the way bin/sidewalk.ts does (same error output), so the CLI
 * tests do not depend on other areas' commands compiling at the same moment. Not a test file.
 */
import { Command } from 'commander';
import { registerArtifactCommands } from '../../build/cli.js';
import { errorMessage } from '../../lib/errors.js';

const program = new Command('sidewalk');
registerArtifactCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`sidewalk: ${errorMessage(err)}\n`);
  process.exitCode = process.exitCode || 1;
});
