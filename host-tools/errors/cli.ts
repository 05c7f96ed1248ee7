/** `sidewalk errors [CODE]`: what an error code means and what to do; `--update-docs` rewrites docs/errors.md. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SidewalkError } from '../../lib/errors.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { errorsMarkdown, lookupError } from './catalogues.js';

export const ERRORS_DOC = 'docs/errors.md';

export function registerErrorsCommands(program: Command): void {
  program
    .command('errors')
    .description(`Explain an error code (what it means, what to do), or print every code as Markdown (${ERRORS_DOC}).`)
    .argument('[code]', 'an error code, e.g. OTA_SCOOTER_MOVING')
    .option('--update-docs', `rewrite ${ERRORS_DOC} from the catalogues`)
    .action((code: string | undefined, opts: { updateDocs?: boolean }) => {
      if (code !== undefined) {
        const entry = lookupError(code.toUpperCase());
        if (!entry) throw new SidewalkError('CLI_USAGE', `${code}: not an error code of Sidewalk Guard (\`sidewalk errors\` lists them all)`);
        process.stdout.write(`${code.toUpperCase()}\n  ${entry.summary}\n  What to do: ${entry.action}\n`);
        return;
      }
      if (!opts.updateDocs) {
        process.stdout.write(errorsMarkdown());
        return;
      }
      writeFileSync(resolve(REPO_ROOT, ERRORS_DOC), errorsMarkdown());
      process.stdout.write(`${ERRORS_DOC} updated\n`);
    });
}
