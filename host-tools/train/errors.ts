/**
 * Error codes of training (`sidewalk train`): the Node side (venv, frames, the run) and the Python
 * trainer (host-tools/train/sidewalk_train/, which reports them as JSON events; the catalogue test
 * scans its sources too).
 */
import type { ErrorCatalogue } from '../../lib/errors.js';

const README = 'host-tools/train/README.md describes the options.';

export const TRAIN_ERRORS = {
  // Node side
  TRAIN_PYTHON_MISSING: { summary: 'python3 cannot be run.', action: 'Install it (Debian: apt-get install python3 python3-venv) or point SIDEWALK_PYTHON at one.' },
  TRAIN_PYTHON_TOO_OLD: { summary: 'python3 is older than the trainer needs.', action: 'Install a newer python3, or point SIDEWALK_PYTHON at one.' },
  TRAIN_VENV_UNAVAILABLE: { summary: 'Python has no venv/ensurepip module.', action: 'Install it (Debian: apt-get install python3-venv python3-pip).' },
  TRAIN_VENV_NOT_A_VENV: { summary: "The trainer's venv folder exists but is not a Python venv.", action: 'Choose another SIDEWALK_TRAIN_VENV, or remove that folder.' },
  TRAIN_VENV_LOCKED: { summary: "Another process holds the venv's lock (it is installing packages).", action: 'Wait for it; remove the lock folder named in the message if that process is gone.' },
  TRAIN_VENV_FAILED: { summary: 'Creating the venv failed.', action: "The message has Python's output." },
  TRAIN_REQUIREMENTS_MISSING: { summary: "The trainer's requirements file cannot be read.", action: 'Check out the repository completely (host-tools/train/requirements.txt).' },
  TRAIN_PIP_FAILED: { summary: "pip could not install the trainer's packages.", action: "Check that PyPI is reachable; the message has pip's output." },
  TRAIN_OUT_NOT_DIR: { summary: '--out names a file; the trainer writes a folder.', action: 'Give a folder (it is created when absent).' },
  TRAIN_FFMPEG_MISSING: { summary: 'ffmpeg cannot be run to write training images.', action: 'Install ffmpeg (Debian: apt-get install ffmpeg).' },
  TRAIN_FFMPEG_FAILED: { summary: 'ffmpeg failed writing training images.', action: "The message has ffmpeg's output; check free space." },
  TRAIN_FRAME_SIZE: { summary: 'A frame has a different byte size than its width and height say.', action: 'Report it with the ride.' },
  TRAIN_FAILED: { summary: 'The trainer process exited without a result and without a code of its own.', action: 'Run again with --verbose for its output.' },
  TRAIN_ACCURACY_ZERO: {
    summary: 'A trained model scores 0 % on the test split: it learned nothing (the bundles are written anyway).',
    action: 'Check the labels, the classes of the test split and the epochs.',
  },
  // Python trainer
  TRAIN_BAD_ARCH: { summary: '--arch is not mobilenetv2 or tiny.', action: README },
  TRAIN_BAD_ARCH_PARAMS: { summary: 'MobileNetV2 does not accept the given alpha and input size.', action: README },
  TRAIN_BAD_INPUT_SIZE: { summary: '--input-size is too small for MobileNetV2 (at least 32).', action: README },
  TRAIN_BAD_WEIGHTS: { summary: '--weights is not imagenet or none.', action: README },
  TRAIN_BAD_FINE_TUNE_FROM: { summary: '--fine-tune-from is beyond the number of backbone layers.', action: README },
  TRAIN_BAD_VARIANT: { summary: '--variants names an unknown variant (float32 and int8 exist).', action: README },
  TRAIN_BAD_COLOR_ORDER: { summary: '--color-order is not rgb or bgr.', action: README },
  TRAIN_BAD_CROP: { summary: '--crop is not x,y,width,height as fractions inside the frame.', action: README },
  TRAIN_CROP_TWICE: { summary: 'The dataset export is already cropped; --crop would crop again.', action: "Drop --crop (the export's crop is used)." },
  TRAIN_WEIGHTS_UNAVAILABLE: { summary: 'The ImageNet weights for MobileNetV2 cannot be loaded (no network, no cache).', action: 'Put them in ~/.keras/models/, or train with --weights none.' },
  TRAIN_DATA_MISSING: { summary: 'The dataset folder does not exist.', action: 'Export one with `sidewalk data export`.' },
  TRAIN_DATASET_JSON: { summary: "The export's dataset.json cannot be read.", action: 'Export the dataset again.' },
  TRAIN_DATA_UNKNOWN_CLASS: { summary: 'A split has class folders that are not labels of the trainer.', action: "Export the dataset again with the project's labels." },
  TRAIN_DATA_EMPTY_CLASS: { summary: 'A class has no images in a split.', action: 'Label more frames of that class, then split and export again.' },
  TRAIN_NO_CALIBRATION: { summary: 'The int8 export needs training images for calibration and has none.', action: 'Train with images, or only --variants float32.' },
  TRAIN_TFLITE_SHAPE: {
    summary: "The exported TFLite model's input shape is not the expected one (a converter problem).",
    action: 'Report it with the trainer versions (host-tools/train/requirements.txt).',
  },
  TRAIN_TFLITE_TOO_NEW: {
    summary: "The converted model needs ops or versions the scooter's TFLite runtime would run incorrectly.",
    action: 'Use the pinned TensorFlow (requirements.txt), or a simpler architecture.',
  },
  TRAIN_TFLITE_NO_RUNTIME_VERSION: {
    summary: 'The converted model has no min_runtime_version, so compatibility with the device cannot be proven.',
    action: 'Use the pinned TensorFlow (requirements.txt).',
  },
  TRAIN_EDGETPU_FAILED: { summary: 'edgetpu_compiler failed on the int8 model.', action: "The message has the compiler's output; without edgetpu_compiler on PATH the Edge TPU model is not made." },
} as const satisfies ErrorCatalogue;
