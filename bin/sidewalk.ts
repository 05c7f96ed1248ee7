#!/usr/bin/env node
/**
 * The one CLI. Each area registers its own subcommands (bin/areas.ts); this file only wires them together
 * and reports every failure the same way: one `sidewalk: CODE: message` line, non-zero exit (lib/errors.ts).
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { configureLogging } from '../lib/log.js';
import { cliErrorLine, exitIfStillRunning } from '../lib/errors.js';
import { appVersion } from '../lib/app-version.js';
import { REPO_ROOT } from '../lib/paths.js';
import { areasFor } from './areas.js';

/** A failed command that is still alive this long after its error line is forced to exit. */
const EXIT_AFTER_ERROR_MS = 3000;

const program = new Command('sidewalk')
  .description('Sidewalk Guard: keeps e-scooters at walking speed on sidewalks.\nRun `sidewalk <command> --help` for details of each command.')
  .version(appVersion())
  .option('-v, --verbose', 'debug logging (same as SIDEWALK_LOG=debug)')
  .option('-q, --quiet', 'warnings and errors only')
  .option('--log-json', 'log one JSON object per line (for journald)')
  .hook('preAction', (cmd) => {
    const o = cmd.opts<{ verbose?: boolean; quiet?: boolean; logJson?: boolean }>();
    configureLogging({
      ...(o.verbose ? { level: 'debug' } : o.quiet ? { level: 'warn' } : {}),
      ...(o.logJson ? { json: true } : {}),
    });
  });

// The device's app bundle (build/bundle/, marked by its manifest) holds only the device areas.
const inAppBundle = existsSync(`${REPO_ROOT}/bundle-manifest.json`);
for (const area of areasFor(process.argv.slice(2))) if (area.device || !inAppBundle) (await area.load())(program);

// An unknown command is an error, also with --help (commander would print the global help and exit 0).
const named = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (named !== undefined && named !== 'help' && !program.commands.some((c) => c.name() === named || c.aliases().includes(named))) {
  process.stderr.write(`sidewalk: CLI_UNKNOWN_COMMAND: unknown command "${named}"; \`sidewalk --help\` lists the commands\n`);
  process.exit(2);
}

// Usage errors are thrown (not printed and exited by commander) so they end like every other failure.
const throwUsageErrors = (cmd: Command): void => {
  cmd.exitOverride().configureOutput({ outputError: () => {} });
  for (const sub of cmd.commands) throwUsageErrors(sub);
};
throwUsageErrors(program);

function fail(err: unknown): void {
  const { exitCode, code } = err as { exitCode?: number; code?: string };
  // --help and --version end through exitOverride too, with exit code 0.
  if (typeof code === 'string' && code.startsWith('commander.') && exitCode === 0) return;
  process.stderr.write(`${cliErrorLine(err)}\n`);
  // Usage errors (bad or missing options) exit 2, as command-line tools do; every other failure 1.
  const usage = typeof code === 'string' && code.startsWith('commander.');
  process.exitCode = Number(process.exitCode) || (usage ? 2 : 1);
  exitIfStillRunning(EXIT_AFTER_ERROR_MS, process.exitCode, 'the error');
}

process.on('uncaughtException', (err) => {
  fail(err);
  process.exit(process.exitCode);
});

program.parseAsync(process.argv).catch(fail);
