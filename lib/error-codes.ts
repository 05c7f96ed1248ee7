/**
 * Every error code of the project: the union of the area catalogues' keys. Imports are type-only, so
 * the device bundle (which carries no host-tools/) still builds; the catalogues as values are gathered
 * for docs/errors.md by host-tools/errors/catalogues.ts.
 */
import type { ErrorCatalogue } from './errors.js';
import type { BUILD_ERRORS } from '../build/errors.js';
import type { DATA_ERRORS } from '../host-tools/data/errors.js';
import type { EVAL_ERRORS } from '../host-tools/eval/errors.js';
import type { PIPELINE_ERRORS } from '../host-tools/pipeline/errors.js';
import type { REGISTRY_ERRORS } from '../host-tools/registry/errors.js';
import type { TRAIN_ERRORS } from '../host-tools/train/errors.js';
import type { IMAGE_ERRORS } from '../image/errors.js';
import type { ARTIFACT_ERRORS } from '../ota/artifact/errors.js';
import type { OTA_ERRORS } from '../ota/errors.js';
import type { RUNTIME_ERRORS } from '../runtime/errors.js';
import type { INFERENCE_ERRORS } from '../runtime/inference/errors.js';
import type { TELEMETRY_ERRORS } from '../telemetry/errors.js';

/** Codes of the CLI itself and of lib/'s shared helpers (config files, SQLite files). */
export const LIB_ERRORS = {
  PROCESS_FAILED: {
    summary: 'An external command could not be started, or ended with a failure, and its caller gave no code of its own.',
    action: 'The message names the command and shows the end of its output; install what is missing or fix the input it names.',
  },
  APP_VERSION_MISSING: {
    summary: "The app's package.json cannot be read or has no version: the installation is incomplete.",
    action: 'Reinstall the app (the bundle or `npm run setup`).',
  },
  CLI_USAGE: {
    summary: 'The command line is wrong: an unknown or missing option, a missing argument, or a command that needs a subcommand.',
    action: 'Read `sidewalk <command> --help` and run the command again.',
  },
  CLI_UNKNOWN_COMMAND: {
    summary: 'There is no command of that name.',
    action: 'Run `sidewalk --help` for the list of commands.',
  },
  INTERNAL_ERROR: {
    summary: 'A failure without a code of ours reached the command line: a bug, not bad input.',
    action: 'Report it with the command and its output; run again with --verbose for details.',
  },
  CONFIG_UNREADABLE: {
    summary: 'A configuration file cannot be read (missing, a folder, no permission).',
    action: "Check the path given (e.g. --config) and the file's permissions.",
  },
  CONFIG_INVALID: {
    summary: 'A configuration file is not valid YAML, or violates its schema; every violation is listed as `path: message`.',
    action: 'Correct the listed fields (`sidewalk config check FILE` checks a runtime config; README.md has the reference).',
  },
} as const satisfies ErrorCatalogue;

export type ErrorCode =
  | keyof typeof LIB_ERRORS
  | keyof typeof RUNTIME_ERRORS
  | keyof typeof INFERENCE_ERRORS
  | keyof typeof OTA_ERRORS
  | keyof typeof ARTIFACT_ERRORS
  | keyof typeof TELEMETRY_ERRORS
  | keyof typeof BUILD_ERRORS
  | keyof typeof IMAGE_ERRORS
  | keyof typeof DATA_ERRORS
  | keyof typeof TRAIN_ERRORS
  | keyof typeof EVAL_ERRORS
  | keyof typeof REGISTRY_ERRORS
  | keyof typeof PIPELINE_ERRORS;
