/**
 * Error codes of the model registry (`sidewalk models ...`) and of its promotion gates. Gate codes
 * are not thrown: a failed gate is reported (with the others) and the model is not registered.
 */
import type { ErrorCatalogue } from '../../lib/errors.js';

const LIST = 'See `sidewalk models list`.';
const GATE = 'The model stays out of the registry; the pipeline keeps production. ';

export const REGISTRY_ERRORS = {
  REGISTRY_MISSING: { summary: 'There is no model registry (registry.db) at the given folder.', action: 'Pass --registry or set SIDEWALK_REGISTRY.' },
  REGISTRY_OPEN: {
    summary: 'The model registry cannot be opened (a file where the folder should be, unreadable, ...).',
    action: 'Check the path and permissions; the registry is a folder holding registry.db and objects/.',
  },
  REGISTRY_NOT_DATABASE: { summary: 'The registry.db file is not a model registry (not SQLite, or another database); nothing was changed.', action: 'Check the path; give the registry folder.' },
  REGISTRY_MODEL_UNKNOWN: { summary: 'The registry has no model of that name and version.', action: LIST },
  REGISTRY_MODEL_AMBIGUOUS: { summary: 'The model reference matches models of several locations.', action: 'Name the location.' },
  REGISTRY_VERSION_EXISTS: { summary: 'That location already has a model of this version; versions are never replaced.', action: 'Train with a new version.' },
  REGISTRY_DEMO_MODEL: { summary: 'The bundle is demo_only; demo models are never registered.', action: 'Register a trained model.' },
  REGISTRY_BUNDLE_INVALID: { summary: "The bundle's manifest.json is not valid.", action: 'Register a bundle made by `sidewalk train`.' },
  REGISTRY_REPORT_INVALID: { summary: 'The eval report is not valid (the file and field are named).', action: 'Give the report.json written by `sidewalk eval`.' },
  REGISTRY_REPORT_MISMATCH: { summary: 'The eval report is about another model than the bundle being registered.', action: 'Evaluate this bundle and register it with that report.' },
  REGISTRY_GATES_NOT_PASSED: {
    summary: 'The gate decision given with the model did not pass, or is about another report: only a model that passed the gates enters the registry.',
    action: 'Run the gates on this very report (the pipeline does); fix the model if they fail.',
  },
  REGISTRY_STAGE_TRANSITION: { summary: "The stage change is not allowed from the model's current stage (e.g. promote a retired model).", action: `${LIST} The message names the rule.` },
  REGISTRY_FILE_UNREADABLE: { summary: 'A bundle file to store cannot be read.', action: 'Check the named file.' },
  REGISTRY_OBJECT_MISSING: { summary: "A stored model file is missing from the registry's objects/.", action: 'Restore the registry from its backup; the model cannot be bundled meanwhile.' },
  REGISTRY_OBJECT_CORRUPT: { summary: "A stored model file's content does not match its hash.", action: 'Restore the registry from its backup; the model cannot be bundled meanwhile.' },
  GATE_WRONG_EVALUATION: { summary: 'The candidate was not evaluated on the test split, or not for this location.', action: `${GATE}Evaluate it on the location's frozen test split.` },
  GATE_DATASET_MISMATCH: { summary: "Production's report is on another dataset snapshot or split, so the numbers are not comparable.", action: `${GATE}Evaluate production on the same export.` },
  GATE_ACCURACY_REGRESSION: { summary: "The candidate's accuracy is lower than production's by more than the tolerance.", action: `${GATE}Train with more or better data.` },
  GATE_SIDEWALK_RECALL_FLOOR: { summary: 'Sidewalk recall is below the floor (a missed sidewalk is a scooter at full speed on it).', action: `${GATE}Train with more sidewalk data.` },
  GATE_NO_SIDEWALK_FRAMES: {
    summary: 'The test split has no sidewalk frames, so recall cannot be judged (missing data, not a bad model).',
    action: `${GATE}Ingest and label sidewalk rides, then split again.`,
  },
  GATE_ROAD_FALSE_LIMIT_CEILING: { summary: 'Too many road frames are wrongly limited (above the ceiling).', action: `${GATE}Train with more road data.` },
} as const satisfies ErrorCatalogue;
