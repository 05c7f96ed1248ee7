/**
 * All error catalogues as values, in the order docs/errors.md lists them, and the page rendered from
 * them (`sidewalk errors --update-docs` writes it; a test keeps it in sync). Host-side only: the
 * device bundle carries no host-tools/, and on the device only the code type (lib/error-codes.ts) is needed.
 */
import type { ErrorCode, ErrorEntry } from '../../lib/errors.js';
import { LIB_ERRORS } from '../../lib/error-codes.js';
import { BUILD_ERRORS } from '../../build/errors.js';
import { IMAGE_ERRORS } from '../../image/errors.js';
import { ARTIFACT_ERRORS } from '../../ota/artifact/errors.js';
import { OTA_ERRORS } from '../../ota/errors.js';
import { RUNTIME_ERRORS } from '../../runtime/errors.js';
import { INFERENCE_ERRORS } from '../../runtime/inference/errors.js';
import { TELEMETRY_ERRORS } from '../../telemetry/errors.js';
import { DATA_ERRORS } from '../data/errors.js';
import { EVAL_ERRORS } from '../eval/errors.js';
import { PIPELINE_ERRORS } from '../pipeline/errors.js';
import { REGISTRY_ERRORS } from '../registry/errors.js';
import { TRAIN_ERRORS } from '../train/errors.js';

export interface CatalogueSection {
  title: string;
  /** The catalogue's source file, relative to the repository. */
  file: string;
  entries: Readonly<Record<string, ErrorEntry>>;
}

export const ERROR_CATALOGUES: readonly CatalogueSection[] = [
  { title: 'Command line and shared helpers', file: 'lib/error-codes.ts', entries: LIB_ERRORS },
  { title: 'Runtime: camera, limiter, decision, service, replay, recorder', file: 'runtime/errors.ts', entries: RUNTIME_ERRORS },
  { title: 'Runtime: model and inference', file: 'runtime/inference/errors.ts', entries: INFERENCE_ERRORS },
  { title: 'OTA updater', file: 'ota/errors.ts', entries: OTA_ERRORS },
  { title: 'OTA artifact reader', file: 'ota/artifact/errors.ts', entries: ARTIFACT_ERRORS },
  { title: 'Telemetry and fleet', file: 'telemetry/errors.ts', entries: TELEMETRY_ERRORS },
  { title: 'Build tools (artifacts, app bundle, keys)', file: 'build/errors.ts', entries: BUILD_ERRORS },
  { title: 'SD card image and provisioning', file: 'image/errors.ts', entries: IMAGE_ERRORS },
  { title: 'Dataset tools', file: 'host-tools/data/errors.ts', entries: DATA_ERRORS },
  { title: 'Training', file: 'host-tools/train/errors.ts', entries: TRAIN_ERRORS },
  { title: 'Evaluation', file: 'host-tools/eval/errors.ts', entries: EVAL_ERRORS },
  { title: 'Model registry and promotion gates', file: 'host-tools/registry/errors.ts', entries: REGISTRY_ERRORS },
  { title: 'Training pipeline', file: 'host-tools/pipeline/errors.ts', entries: PIPELINE_ERRORS },
];

/** Every catalogued code: the compiler checks this covers ErrorCode exactly (both directions). */
const ALL = {
  ...LIB_ERRORS,
  ...RUNTIME_ERRORS,
  ...INFERENCE_ERRORS,
  ...OTA_ERRORS,
  ...ARTIFACT_ERRORS,
  ...TELEMETRY_ERRORS,
  ...BUILD_ERRORS,
  ...IMAGE_ERRORS,
  ...DATA_ERRORS,
  ...TRAIN_ERRORS,
  ...EVAL_ERRORS,
  ...REGISTRY_ERRORS,
  ...PIPELINE_ERRORS,
} satisfies Record<ErrorCode, ErrorEntry>;
const onlyInSections: [Exclude<keyof typeof ALL, ErrorCode>] extends [never] ? true : never = true;
void onlyInSections;

export function lookupError(code: string): ErrorEntry | undefined {
  return Object.hasOwn(ALL, code) ? ALL[code as ErrorCode] : undefined;
}

const cell = (text: string): string => text.replaceAll('|', '\\|');

/** docs/errors.md: one table per area, codes sorted, each with its meaning and what to do. */
export function errorsMarkdown(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from the catalogues (the files named below) by `sidewalk errors --update-docs`; do not edit by hand. -->',
    '',
    'Every failure of Sidewalk Guard carries a stable code: on the command line as the one line',
    '`sidewalk: CODE: message` (the message names the file, field or byte at fault), in logs, OTA journals and fleet',
    'reports. `sidewalk errors CODE` prints one entry. One family is not listed code by code: `IO_<ERRNO>`, an',
    'operating-system error (e.g. `IO_ENOSPC`) that no area wrapped; like `INTERNAL_ERROR`, it is a bug to report',
    'when it reaches the command line.',
  ];
  for (const section of ERROR_CATALOGUES) {
    out.push('', `## ${section.title}`, '', `Catalogue: \`${section.file}\``, '', '| Code | Meaning | What to do |', '|---|---|---|');
    for (const code of Object.keys(section.entries).sort()) {
      const e = section.entries[code]!;
      out.push(`| \`${code}\` | ${cell(e.summary)} | ${cell(e.action)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
