/** Error codes of model evaluation (`sidewalk eval`). */
import type { ErrorCatalogue } from '../../lib/errors.js';

const EXPORT = 'Export the dataset again with `sidewalk data export` (host-tools/eval/README.md).';

export const EVAL_ERRORS = {
  EVAL_ARGS_MISSING: { summary: 'eval was given neither --model and --data nor --rides with --recorded-scores.', action: 'Pass --model BUNDLE --data EXPORT, or --rides DIR --recorded-scores.' },
  EVAL_NO_MODEL: { summary: 'No model bundle was given.', action: 'Pass --model BUNDLE.' },
  EVAL_DATA_MISSING: { summary: 'The dataset export has no folder for the requested split.', action: EXPORT },
  EVAL_DATA_EMPTY: { summary: 'The split has no .png/.jpg images in any class folder.', action: EXPORT },
  EVAL_DATA_UNKNOWN_CLASS: { summary: 'The split has class folders that are not labels of the model.', action: "Evaluate a model trained on these labels, or export with the model's labels." },
  EVAL_DATASET_JSON: { summary: "The export's dataset.json is not valid JSON.", action: EXPORT },
  EVAL_DATASET_CROP: {
    summary: "The export's crop differs from the one in the model's manifest, so the images are not what the model sees.",
    action: "Export the dataset with this model's manifest (`sidewalk data export --manifest`).",
  },
  EVAL_IMAGE_UNREADABLE: { summary: 'An image of the export cannot be read (the file and byte are named).', action: EXPORT },
  EVAL_DECODE_FAILED: { summary: 'ffmpeg decoded fewer images than given; one is missing or unreadable.', action: 'Check the named image, or export again.' },
  EVAL_KERAS_FAILED: { summary: 'Running the Keras model for the parity check failed.', action: "The message has Python's last line; check the trainer's venv (host-tools/train/README.md)." },
  EVAL_KERAS_LOAD: {
    summary: 'The Keras model (OUT/model.keras of `sidewalk train`) cannot be loaded; the Python helper reports it inside EVAL_KERAS_FAILED.',
    action: 'Check that the file is the model.keras written by `sidewalk train`.',
  },
  EVAL_PARITY_MISMATCH: { summary: 'Keras and TFLite predictions were made on different numbers of images (a bug).', action: 'Report it with the command.' },
  EVAL_RIDES_MISSING: { summary: 'The rides folder (--rides) cannot be read.', action: 'Check the path.' },
} as const satisfies ErrorCatalogue;
