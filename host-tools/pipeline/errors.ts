/** Error codes of the training pipeline (`sidewalk pipeline run`). */
import type { ErrorCatalogue } from '../../lib/errors.js';

export const PIPELINE_ERRORS = {
  PIPELINE_CONFIG_UNREADABLE: { summary: 'The pipeline config file cannot be read.', action: 'Check the path given.' },
  PIPELINE_CONFIG_INVALID: { summary: 'The pipeline config is not valid YAML or violates its schema (each problem listed).', action: 'Correct the listed fields (host-tools/pipeline/README.md).' },
  PIPELINE_BAD_LOCATION: { summary: 'The location name has characters other than letters, digits, ".", "_" and "-".', action: 'Use a location name of those characters.' },
  PIPELINE_BUSY: { summary: 'Another pipeline run is working on this location (its pid is named).', action: 'Wait for it; its lock is removed when it ends.' },
  PIPELINE_NO_TEST_SPLIT: { summary: 'The location has no test images to evaluate on.', action: 'Ingest, label and split the location first (`sidewalk data split`).' },
  PIPELINE_KEY_UNREADABLE: { summary: 'The signing key (package.key) cannot be read.', action: 'Check the path in the pipeline config and its permissions.' },
  PIPELINE_STEP_FAILED: {
    summary: 'A pipeline step failed without a code of its own (the run record has its message).',
    action: "Read the run record; run the step's command by hand with --verbose.",
  },
  PIPELINE_FAILED: { summary: 'The pipeline run failed (the failed step and reason are named).', action: 'Read the run record of the run.' },
} as const satisfies ErrorCatalogue;
