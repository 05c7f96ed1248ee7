#!/usr/bin/env node
/**
 * The one CLI. Each area registers its own subcommands (bin/areas.ts); this file only wires them together.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { configureLogging } from '../lib/log.js';
import { errorMessage } from '../lib/errors.js';
import { REPO_ROOT } from '../lib/paths.js';
import { areasFor } from './areas.js';

const { version } = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string };

const program = new Command('sidewalk')
  .description('Sidewalk Guard: keeps e-scooters at walking speed on sidewalks.\nRun `sidewalk <command> --help` for details of each command.')
  .version(version)
  .option('-v, --verbose', 'debug logging (same as SIDEWALK_LOG=debug)')
  .option('-q, --quiet', 'warnings and errors only')
  .option('--log-json', 'log one JSON object per line (for journald)')
  // Usage errors (missing or invalid options) end like every other failure: one coded line (below).
  .exitOverride()
  .configureOutput({ outputError: () => {} })
  .hook('preAction', (cmd) => {
    const o = cmd.opts<{ verbose?: boolean; quiet?: boolean; logJson?: boolean }>();
    configureLogging({
      ...(o.verbose ? { level: 'debug' } : o.quiet ? { level: 'warn' } : {}),
      ...(o.logJson ? { json: true } : {}),
    });
  });

for (const area of areasFor(process.argv.slice(2))) (await area.load())(program);

// An unknown command is an error, also with --help (commander would print the global help and exit 0).
const named = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (named !== undefined && named !== 'help' && !program.commands.some((c) => c.name() === named || c.aliases().includes(named))) {
  process.stderr.write(`sidewalk: CLI_UNKNOWN_COMMAND: unknown command "${named}"; \`sidewalk --help\` lists the commands\n`);
  process.exit(2);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  const usage = err as { code?: unknown; exitCode?: number; message?: string };
  if (typeof usage.code === 'string' && usage.code.startsWith('commander.')) {
    // --help and --version exit 0; a command group run without a subcommand has shown its help already.
    if (usage.exitCode === 0 || usage.code === 'commander.help') {
      process.exitCode = usage.exitCode ?? 1;
      return;
    }
    const [first, second] = process.argv.slice(2).filter((a) => !a.startsWith('-'));
    const group = program.commands.find((c) => c.name() === first);
    const command = group?.commands.some((c) => c.name() === second) ? `${first} ${second}` : first;
    process.stderr.write(`sidewalk: CLI_USAGE: ${String(usage.message).replace(/^error: /, '')} (see \`sidewalk ${command} --help\`)\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`sidewalk: ${errorMessage(err)}\n`);
  process.exitCode = process.exitCode || 1;
});
