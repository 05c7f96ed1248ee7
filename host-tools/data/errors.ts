/**
 * Error codes of the dataset tools (`sidewalk data ...`). Reading ride folders and legacy runs is
 * shared with the runtime, so DATA_RIDE_* and DATA_LEGACY_* are in runtime/errors.ts.
 */
import type { ErrorCatalogue } from '../../lib/errors.js';

const DB_OPTION = 'Pass --db, or set SIDEWALK_DATA_DB; `sidewalk data ingest` creates a dataset.';

export const DATA_ERRORS = {
  DATA_BAD_OPTION: { summary: 'An option of a data command is invalid (the message names it).', action: "See the command's --help." },
  DATA_CONFIG_UNREADABLE: { summary: 'The dataset config file cannot be read.', action: 'Check the path given.' },
  DATA_CONFIG_INVALID: { summary: 'The dataset config is not valid YAML or violates its schema (each problem listed).', action: 'Correct the listed fields (host-tools/data/README.md).' },
  DATA_DB_MISSING: { summary: 'There is no dataset database at the given path.', action: DB_OPTION },
  DATA_DB_OPEN: { summary: 'The dataset database cannot be opened (a folder, unreadable, or its folder cannot be made).', action: `Check the path and permissions. ${DB_OPTION}` },
  DATA_DB_NOT_DATABASE: { summary: 'The file is not a dataset database (not SQLite, or another SQLite file); nothing was changed.', action: 'Check the path; give the dataset database.' },
  DATA_DB_OUTDATED: {
    summary: "The dataset database's schema is older than this tool reads; read-only commands do not upgrade it.",
    action: 'Run a writing command once (e.g. `sidewalk data filter`); it upgrades the schema.',
  },
  DATA_DB_TOO_NEW: { summary: "The dataset database's schema is newer than this tool.", action: 'Update the tools (git pull; npm run build).' },
  DATA_INPUT_UNKNOWN: { summary: 'An input to ingest is not a ride folder, legacy run folder, video, or folder of those.', action: 'Give one of those.' },
  DATA_LOCATION_REQUIRED: { summary: 'The input does not name its location (e.g. a plain video).', action: 'Pass --location.' },
  DATA_LOCATION_UNKNOWN: { summary: 'The dataset has no rides of that location.', action: 'See `sidewalk data stats` for the locations.' },
  DATA_RIDE_EMPTY: { summary: 'A ride to ingest has no frames.', action: 'Nothing to ingest: skip that ride.' },
  DATA_RIDE_RACE: { summary: 'The same ride was ingested by another process at the same time; this copy was not added.', action: 'Nothing to repair: the ride is in the dataset once.' },
  DATA_RIDE_UNKNOWN: { summary: 'No ride matches the given ride id, ride key or content-hash prefix.', action: 'See `sidewalk data stats` for the rides.' },
  DATA_RIDE_AMBIGUOUS: { summary: 'The ride reference matches more than one ride.', action: 'Give a longer prefix or the ride id.' },
  DATA_FRAME_UNKNOWN: { summary: 'There is no frame with that id.', action: 'Check the frame id (e.g. from `sidewalk data review`).' },
  DATA_LABEL_UNKNOWN: { summary: "The label is not one of the dataset config's labels.", action: 'Use one of the labels listed in the message.' },
  DATA_VIDEO_DECODE: { summary: 'A video to ingest cannot be decoded.', action: 'Check the file with `ffprobe`; the message says what failed.' },
  DATA_FFMPEG: { summary: 'ffmpeg cannot be run.', action: 'Install ffmpeg (Debian: apt-get install ffmpeg).' },
  DATA_IMAGE_CORRUPT: { summary: 'A stored frame image is damaged (the message names the file and byte).', action: 'Ingest the ride again from its source.' },
  DATA_SENSOR_LOG_MALFORMED: { summary: 'A sensor log line does not parse (file and line named).', action: 'Check the named line; the ride cannot be ingested until it is fixed at the source.' },
  DATA_SPLIT_FRACTIONS: { summary: 'The split fractions do not add up to more than 0.', action: 'Give positive train/val/test fractions.' },
  DATA_SPLIT_EMPTY_TEST: { summary: 'The location has no test rides, and an empty test split is never frozen.', action: 'Ingest more rides of that location, then split again.' },
  DATA_SPLIT_TEST_INCOMPLETE: { summary: 'The test split would miss some classes entirely, so it is not frozen.', action: 'Ingest more rides of the named classes, then split again.' },
  DATA_SPLIT_NOT_FROZEN: { summary: "The location's test split is not frozen yet, so it cannot be exported or evaluated.", action: 'Run `sidewalk data split` for the location first.' },
  DATA_EXPORT_EMPTY: { summary: 'The location has no labelled, split, unflagged frames to export.', action: 'Label and split the location first (`sidewalk data label`, `sidewalk data split`).' },
  DATA_EXPORT_NOT_EMPTY: { summary: 'The export folder is not empty; exports never mix with old files.', action: 'Give a new or empty folder.' },
  DATA_EXPORT_FAILED: { summary: 'ffmpeg failed while writing the exported images.', action: "The message has ffmpeg's output; check free space." },
  DATA_MANIFEST_INVALID: { summary: 'The model manifest given to export with (--manifest) is not valid.', action: 'Give the manifest.json of a model bundle.' },
  DATA_MANIFEST_UNSUPPORTED: {
    summary: "The manifest's resize cannot be reproduced by export.",
    action: 'Export whole frames (without --manifest); training and evaluation crop and resize as the manifest says.',
  },
  DATA_OUTPUT_UNWRITABLE: { summary: 'The output folder (--out) cannot be created.', action: 'Check the path and permissions.' },
} as const satisfies ErrorCatalogue;
