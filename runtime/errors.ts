/**
 * Error codes of the edge runtime: camera, limiter and serial port, speed sensors, decision, the
 * service, replay and the ride recorder. The model's codes are in runtime/inference/errors.ts.
 * Whatever a code says, the limiter's fail-safe still holds: these codes explain, they do not release.
 */
import type { ErrorCatalogue } from '../lib/errors.js';

const CONFIG = 'Correct the named field in the runtime config (README.md has the reference; `sidewalk config check FILE`).';
const LIMITER_WIRING = 'Check the limiter wiring and config (docs/wiring.md); the service restarts and the scooter stays at its fail-safe speed.';

export const RUNTIME_ERRORS = {
  // Camera
  CAMERA_OPTIONS_INVALID: { summary: 'The camera options are inconsistent (e.g. camera.source replay without camera.replay.input).', action: CONFIG },
  CAMERA_BINARY_MISSING: {
    summary: 'The camera program (rpicam-vid, or libcamera-vid) is not on PATH.',
    action: 'Install rpicam-apps on the Pi, or set camera.rpicam.binary.',
  },
  CAMERA_PROBE_FAILED: {
    summary: "The camera program could not be started to measure the camera's row stride.",
    action: 'Check the camera cable and `rpicam-hello`; or set camera.rpicam.stride.',
  },
  CAMERA_STRIDE_INVALID: { summary: 'A row stride is odd or smaller than the frame width.', action: 'Set camera.rpicam.stride to an even value >= camera.width, or leave it null to measure it.' },
  CAMERA_STRIDE_UNKNOWN: {
    summary: "The camera's frame size implies a row stride no Raspberry Pi ISP produces.",
    action: 'Check camera.width/height against the sensor mode; set camera.rpicam.stride only if you know the stride.',
  },
  CAMERA_BUFFER_TOO_SMALL: { summary: 'An output buffer is too small for the frame being copied into it (a bug).', action: 'Report it with the camera config.' },
  CAMERA_FFMPEG_MISSING: { summary: 'ffmpeg cannot be run to decode the replay input.', action: 'Install ffmpeg (Debian: apt-get install ffmpeg).' },
  CAMERA_INPUT_MISSING: { summary: 'The replay input (video, ride folder or legacy run) cannot be read.', action: 'Check the path given to `sidewalk replay` or camera.replay.input.' },
  CAMERA_INPUT_EMPTY: { summary: 'The replay input has no frames.', action: 'Give a recording with frames.' },
  CAMERA_NOT_A_VIDEO: { summary: 'The replay input is not a video (ffmpeg sees another format, e.g. text).', action: 'Give a video file, a ride folder or a legacy run folder.' },
  CAMERA_DECODE_FAILED: { summary: 'ffmpeg failed while decoding the replay input.', action: "The message has ffmpeg's last line; check the file with `ffprobe`." },
  CAMERA_DECODE_ERRORS: {
    summary: 'ffmpeg reported damaged frames in the replay input and --strict (camera.replay.strict) makes that an error.',
    action: 'Repair or re-record the input, or replay without --strict to skip damaged frames with a warning.',
  },
  CAMERA_SCENE_UNKNOWN: { summary: 'A synthetic camera scene names an unknown kind.', action: 'Use one of the kinds listed in the message (runtime/camera/README.md).' },
  CAMERA_SCENE_SIZE: { summary: 'A synthetic scene size is not a positive whole number of pixels.', action: 'Correct camera.width and camera.height.' },
  CAMERA_SCENE_SCRIPT: {
    summary: 'An item of the synthetic camera script is not kind:seconds.',
    action: 'Correct camera.synthetic.script (kind:seconds items, e.g. "street:5,side:5"; runtime/camera/README.md).',
  },

  // Limiter and serial port
  LIMITER_INVALID_LIMIT: { summary: 'A speed limit that is not a finite speed >= 0 was commanded (a bug upstream).', action: 'Report it; the limiter refused the command.' },
  LIMITER_CLOSED: { summary: 'The limiter was used after close() or before init() (a bug, or during shutdown).', action: 'Nothing to repair during shutdown; otherwise report it.' },
  LIMITER_OPEN_FAILED: { summary: 'The limiter could not be opened (device, line or log file).', action: LIMITER_WIRING },
  LIMITER_WRITE_FAILED: { summary: 'A command to the limiter failed.', action: LIMITER_WIRING },
  LIMITER_TIMEOUT: { summary: 'The limiter did not finish a command within its deadline.', action: LIMITER_WIRING },
  LIMITER_GPIO_UNAVAILABLE: {
    summary: 'The GPIO tools or sysfs GPIO interface are not available.',
    action: 'Install the gpiod package (or use limiter.gpio.backend sysfs on kernels that still have it).',
  },
  LIMITER_GPIO_LINE_NOT_FOUND: { summary: 'No GPIO chip has a line of the configured name.', action: 'Correct limiter.gpio.line (docs/wiring.md names the line).' },
  LIMITER_GPIO_SET_FAILED: { summary: 'gpioset could not set the limiter line.', action: LIMITER_WIRING },
  LIMITER_GPIO_WRITE_FAILED: { summary: 'Writing the limiter line through sysfs GPIO failed.', action: LIMITER_WIRING },
  LIMITER_GPIO_EXPORT_TIMEOUT: { summary: 'An exported sysfs GPIO line did not appear in time.', action: "Check the kernel's GPIO support and permissions (udev rules for the gpio group)." },
  LIMITER_PWM_CONFIG_INVALID: { summary: 'The PWM limiter settings are inconsistent (period, duties, chip or channel).', action: CONFIG },
  LIMITER_PWM_UNAVAILABLE: {
    summary: 'The configured PWM chip or channel does not exist.',
    action: 'Enable the PWM overlay in config.txt and check limiter.pwm.chip_path and channel (docs/wiring.md).',
  },
  LIMITER_PWM_EXPORT_TIMEOUT: { summary: 'An exported PWM channel did not appear in time.', action: 'Check the PWM overlay and permissions (udev rules for the gpio group).' },
  LIMITER_PWM_WRITE_FAILED: { summary: 'Writing a PWM channel setting failed.', action: LIMITER_WIRING },
  LIMITER_SERIAL_TIMEOUT: { summary: 'The motor controller did not acknowledge a command within limiter.serial.reply_timeout_ms.', action: LIMITER_WIRING },
  LIMITER_SERIAL_REJECTED: { summary: 'The motor controller answered a command with an error.', action: "Check the controller's protocol (limiter.serial.protocol) and firmware." },
  LIMITER_SERIAL_LOST: { summary: 'The serial device of the motor controller went away.', action: LIMITER_WIRING },
  SERIAL_OPEN_FAILED: { summary: 'A serial port cannot be opened or configured (stty).', action: 'Check the device path, that the UART is enabled in config.txt, and permissions (dialout group).' },
  SERIAL_PORT_IN_USE: {
    summary: 'Two devices (e.g. GPS and motor controller) are configured on the same serial port.',
    action: 'Give each device its own UART (docs/hardware.md).',
  },
  SERIAL_WRITE_FAILED: { summary: 'Writing to a serial port failed.', action: 'Check the cable and the device.' },
  SERIAL_CLOSED: { summary: 'A write to a serial port after it was closed (shutdown, or a bug).', action: 'Nothing to repair during shutdown; otherwise report it.' },

  // Sensors, decision, ramp
  SENSOR_CONFIG_INVALID: { summary: 'A speed source setting is out of range (e.g. speed_source.replay_log.speed_scale <= 0).', action: CONFIG },
  DECISION_CONFIG_INVALID: { summary: 'A decision setting is out of range or contradicts another (thresholds, frame counts).', action: CONFIG },
  DECISION_UNKNOWN_LABEL: { summary: "The decision's label groups name a label the model does not have.", action: "Use the labels of the model's manifest.json in the groups." },
  RAMP_CONFIG_INVALID: { summary: 'A speed ramp setting is out of range.', action: CONFIG },

  // Service
  CONFIG_PATH_UNWRITABLE: { summary: 'A folder named in the runtime config cannot be created or written.', action: 'Check the path in the named field and its permissions.' },
  METRICS_PORT_UNAVAILABLE: { summary: 'The metrics endpoint cannot listen on metrics.host:metrics.port (in use, or not allowed).', action: 'Choose a free port, or stop the other process using it.' },
  RECORDER_OPEN_FAILED: { summary: 'A ride recording cannot be started in recording.dir.', action: 'Check recording.dir, its free space and permissions.' },
  OUTPUT_IS_FOLDER: { summary: 'An output option names a folder where a file is written.', action: 'Give a file path.' },
  OUTPUT_UNWRITABLE: { summary: 'An output file cannot be written.', action: 'Check the path and the permissions of its folder.' },
  RUNTIME_STOPPING: { summary: 'Start-up was cancelled by a stop request (what was opened was released again).', action: 'Nothing to repair: the service was asked to stop.' },
  RUNTIME_STOP_TIMEOUT: {
    summary: 'The service did not stop within its deadline; the process exits anyway, the limiter at its fail-safe.',
    action: 'Read the log for the part that hung and report it.',
  },
  RUNTIME_RELEASE_FAILED: {
    summary: 'The service stopped, but some resources could not be released (named in the message and log).',
    action: 'Read the log; a limiter that failed to release was set to its fail-safe first.',
  },

  // Replay
  REPLAY_MODEL_REQUIRED: { summary: '`sidewalk replay` was given neither --model nor --recorded-scores.', action: 'Pass --model BUNDLE, or --recorded-scores for a recording with scores.' },
  REPLAY_INPUT_UNKNOWN: { summary: '--recorded-scores needs a legacy run folder (raw_data.txt) or a ride folder (ride.json); the input is neither.', action: 'Give one of those folders.' },
  REPLAY_NO_RECORDED_SCORES: { summary: 'The recording has no recorded scores (e.g. a legacy run without out_data.txt).', action: 'Replay it with --model instead.' },
  REPLAY_SCORES_INCOMPLETE: { summary: 'The recorded scores lack what the decision needs (e.g. the legacy post-process layout has no street score).', action: 'Replay it with --model instead.' },

  // Ride recordings (written here, read here and by the data tools)
  DATA_RECORDER_EXISTS: { summary: 'The ride folder to record into already holds frames.', action: 'Record into a new folder.' },
  DATA_RECORDER_CLOSED: { summary: 'A frame was written to a ride after it was closed (a bug).', action: 'Report it.' },
  DATA_RECORDER_FRAME_SIZE: { summary: "A frame's size or format differs from the ride's.", action: 'Keep camera.width/height fixed during a recording; report it if they were.' },
  DATA_RECORDER_ENCODER: { summary: "The ride recorder's ffmpeg encoder failed.", action: "The message has ffmpeg's output; check the free space in recording.dir." },
  DATA_RIDE_MALFORMED: {
    summary: "A ride folder's ride.json, sensors.jsonl or frames are missing or not valid (the file, line and field are named).",
    action: 'Re-copy the ride from the scooter; a ride damaged at the source cannot be used.',
  },
  DATA_RIDE_INCOMPLETE: { summary: 'The ride was not closed (recording cut off, or still uploading).', action: 'Wait for the upload to finish; a cut-off ride can be ingested only once closed.' },
  DATA_LEGACY_MISSING: { summary: "A legacy run folder's sensor log (raw_data.txt) cannot be read.", action: 'Check the run folder (docs/legacy.md describes its files).' },
  DATA_LEGACY_MALFORMED: {
    summary: "A legacy run's sensor log or scores do not parse, or do not match its images (file and line are named).",
    action: 'Check the named line (docs/legacy.md describes the format).',
  },
  DATA_LEGACY_LAYOUT_AMBIGUOUS: {
    summary: 'A legacy out_data.txt mixes the live and the post-process layouts, so its fields cannot be read one way.',
    action: 'Name the layout with --legacy-layout (docs/legacy.md).',
  },
} as const satisfies ErrorCatalogue;
