/**
 * The runtime's configuration: one YAML file, one JSON Schema. The schema carries the defaults
 * and the documentation (descriptions); README's configuration reference is generated from the
 * same facts. Field names are snake_case, like the rest of our on-disk formats.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { schemaDefaults } from '../../lib/schema-defaults.js';

/*
 * The TypeScript type is derived from the schema (json-schema-to-ts FromSchema) rather than written
 * beside it, so a field, an enum value or a nullable can never differ between the two. Chosen over
 * TypeBox because the schema stays a plain JSON Schema literal (what Ajv validates, the reference
 * table is rendered from, and reviewers read), and because FromSchema types a field with a default as
 * present: the loader fills every default, so classes receive complete config and never restate one.
 */

const positive = { type: 'number', exclusiveMinimum: 0 } as const;
const nullableString = { type: 'string', nullable: true } as const;

export const runtimeConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mode', 'model'],
  properties: {
    mode: {
      type: 'string',
      enum: ['limit', 'monitor', 'record', 'replay'],
      default: 'limit',
      description: 'limit: actuate; monitor: decide and report, never actuate; record: collect rides; replay: run a recording through the pipeline.',
    },
    device: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        id: { type: 'string', default: 'dev-scooter', description: 'Device id, stamped on metrics and recordings.' },
        location: { type: 'string', default: 'unknown', description: 'City/location this scooter runs in.' },
      },
    },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['bundle'],
      properties: {
        bundle: { type: 'string', minLength: 1, description: 'Model bundle directory (model.tflite + manifest.json).' },
        delegate: {
          type: 'string',
          enum: ['xnnpack', 'cpu', 'edgetpu'],
          default: 'xnnpack',
          description: 'xnnpack (fast CPU), cpu (plain interpreter), edgetpu (Coral; needs libedgetpu.so.1 and model_edgetpu.tflite).',
        },
        num_threads: { type: 'integer', minimum: 1, maximum: 8, default: 2, description: 'TFLite threads.' },
      },
    },
    camera: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        source: {
          type: 'string',
          enum: ['rpicam', 'replay', 'synthetic'],
          default: 'rpicam',
          description: 'rpicam: the Pi camera via rpicam-vid; replay: a recording; synthetic: generated scenes (tests).',
        },
        width: { type: 'integer', minimum: 16, maximum: 4096, default: 256, description: 'Requested frame width; a multiple of 128 avoids ISP row padding on Pi 4 and Pi 5.' },
        height: { type: 'integer', minimum: 16, maximum: 4096, default: 256, description: 'Requested frame height (even).' },
        fps: { type: 'number', exclusiveMinimum: 0, maximum: 120, default: 15, description: 'Camera frame rate; keep it near the inference rate.' },
        rpicam: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            binary: { type: 'string', default: 'rpicam-vid', description: 'Camera program (libcamera-vid on old Bullseye images).' },
            sensor_mode: { ...nullableString, default: null, description: 'rpicam-vid --mode W:H:bit-depth:packing, e.g. a full field-of-view binned mode.' },
            buffer_count: { type: 'integer', minimum: 2, maximum: 16, default: 4, description: 'Camera buffers; fewer buffers, fresher frames.' },
            frame_timeout_ms: { type: 'integer', minimum: 100, default: 2000, description: 'Restart the camera when no frame arrives for this long.' },
            stride: {
              type: 'integer',
              nullable: true,
              minimum: 16,
              default: null,
              description: 'Y row stride in bytes; null = from the board (Pi 4: width rounded up to 64; Pi 5: 2*align64(width/2), a multiple of 128).',
            },
            restart_min_ms: { type: 'integer', minimum: 10, default: 250, description: 'First camera restart back-off.' },
            restart_max_ms: { type: 'integer', minimum: 10, default: 10000, description: 'Longest camera restart back-off.' },
          },
        },
        replay: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            input: { ...nullableString, default: null, description: 'Video file, folder of JPEGs, or legacy run folder.' },
            realtime: { type: 'boolean', default: true, description: 'Pace frames at recording speed (false: as fast as possible).' },
            fps: { type: 'number', nullable: true, exclusiveMinimum: 0, default: null, description: 'Frame rate for image folders.' },
            strict: { type: 'boolean', default: false, description: 'Fail on ffmpeg decode errors (truncated or corrupt input) instead of warning with their count.' },
          },
        },
        synthetic: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            script: { type: 'string', default: 'street:5,side:5,street:5', description: 'Scene segments kind:seconds.' },
            seed: { type: 'integer', default: 1, description: 'Scene randomness seed.' },
          },
        },
      },
    },
    decision: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        window_frames: { type: 'integer', minimum: 1, maximum: 100, default: 6, description: 'Running average length (legacy: 6).' },
        group_score: { type: 'string', enum: ['max', 'sum'], default: 'max', description: "A frame's group score: max of the group's classes (legacy), or their sum." },
        warmup: {
          type: 'string',
          enum: ['zeros', 'partial'],
          default: 'zeros',
          description: 'zeros: the window starts full of zeros and is always divided by window_frames (legacy); partial: average the frames seen so far.',
        },
        sidewalk_enter: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'Sidewalk group average must exceed this (legacy: 0.5).' },
        road_below: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'Road group average must be below this (legacy: 0.5).' },
        sidewalk_exit: {
          type: 'number',
          nullable: true,
          minimum: 0,
          maximum: 1,
          default: null,
          description: 'Hysteresis: stay on the sidewalk while its average is above this (null: sidewalk_enter, as legacy).',
        },
        road_exit: { type: 'number', nullable: true, minimum: 0, maximum: 1, default: null, description: 'Hysteresis: ... and the road average is below this (null: road_below, as legacy).' },
        enter_frames: { type: 'integer', minimum: 1, maximum: 100, default: 1, description: 'Consecutive sidewalk frames needed to enter the sidewalk state (1 = legacy).' },
        exit_frames: { type: 'integer', minimum: 1, maximum: 100, default: 1, description: 'Consecutive road frames needed to leave it (1 = legacy).' },
        fail_safe_release_frames: { type: 'integer', minimum: 1, maximum: 100, default: 1, description: 'Valid frames needed to leave the fail-safe.' },
        min_speed_kph: { type: 'number', minimum: 0, default: 0, description: 'Below this speed the on-sidewalk state does not change.' },
        fail_safe_after_ms: { type: 'integer', minimum: 50, default: 1500, description: 'Fail-safe when no valid decision for this long.' },
      },
    },
    speed: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        full_kph: { ...positive, maximum: 100, default: 25, description: "Limit off a sidewalk (the scooter's own maximum)." },
        sidewalk_kph: { ...positive, maximum: 100, default: 6, description: 'Walking-speed limit on a sidewalk.' },
        fail_safe_kph: { ...positive, maximum: 100, default: 6, description: 'Limit while the fail-safe is active.' },
        ramp_s: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 10, description: 'Seconds for a full <-> sidewalk limit change: the rate of both limit rules.' },
        limit_rule: {
          type: 'string',
          enum: ['measured', 'ramp'],
          default: 'measured',
          description:
            'measured (legacy): the limit follows the measured speed (sidewalk: max(speed - delta, sidewalk_kph); off it: max(sidewalk_kph, min(speed + delta, full_kph)); delta = (full_kph - sidewalk_kph) / ramp_s per second), ramping from the last limit while no speed is fresh; ramp: always ramp from the last limit. A gpio limiter (two states) always ramps.',
        },
      },
    },
    limiter: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        kind: { type: 'string', enum: ['simulated', 'gpio', 'pwm', 'serial'], default: 'simulated', description: 'Speed limiter backend (docs/wiring.md).' },
        simulated: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: { log_file: { ...nullableString, default: null, description: 'JSONL of every command.' } },
        },
        gpio: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            backend: { type: 'string', enum: ['libgpiod', 'sysfs'], default: 'libgpiod', description: 'libgpiod character device (Pi 4 and 5), or the deprecated sysfs interface.' },
            line: { type: 'string', default: 'GPIO17', description: 'Line name of the limit output.' },
            active_low: { type: 'boolean', default: true, description: 'Limited = line driven low (un-driven with pull-down also reads limited).' },
          },
        },
        pwm: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            chip_path: {
              ...nullableString,
              default: null,
              description: 'PWM controller: device name (Pi 4 `fe20c000.pwm`, Pi 5 `1f00098000.pwm`), device path or pwmchip directory; required (docs/wiring.md).',
            },
            channel: { type: 'integer', nullable: true, minimum: 0, default: null, description: 'PWM channel; required (GPIO18: 0 on a Pi 4, 2 on a Pi 5).' },
            period_ns: { type: 'integer', minimum: 1000, default: 20000000, description: 'PWM period (20 ms = RC servo/ESC pulse).' },
            duty_at_zero_ns: { type: 'integer', minimum: 0, default: 1000000, description: 'Duty cycle that limits to 0 km/h.' },
            duty_at_full_ns: { type: 'integer', minimum: 0, default: 2000000, description: 'Duty cycle at speed.full_kph (no limit).' },
          },
        },
        serial: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            device: {
              type: 'string',
              default: '/dev/ttyAMA4',
              description: 'Motor controller serial port: UART4 as on the legacy scooter (the image config.txt enables it on Pi 4 and Pi 5; never /dev/serial0, docs/hardware.md).',
            },
            baud: { type: 'integer', minimum: 1200, default: 115200, description: 'Controller baud rate.' },
            protocol: { type: 'string', enum: ['line', 'vesc'], default: 'line', description: 'line: `LIMIT <kph>` text protocol; vesc: VESC UART packets.' },
            reply_timeout_ms: { type: 'integer', minimum: 10, default: 200, description: 'How long to wait for the controller to acknowledge.' },
          },
        },
      },
    },
    speed_source: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        kind: {
          type: 'string',
          enum: ['none', 'simulated', 'nmea', 'replay-log'],
          default: 'none',
          description: 'Where the scooter speed comes from (for speed.limit_rule measured and decision.min_speed_kph).',
        },
        simulated_kph: { type: 'number', minimum: 0, default: 15, description: 'Constant speed of the simulated source.' },
        nmea: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            device: { type: 'string', default: '/dev/ttyAMA2', description: "GPS serial port: UART2 as on the legacy scooter; must differ from the limiter's (docs/hardware.md)." },
            baud: { type: 'integer', minimum: 1200, default: 9600, description: 'GPS baud rate.' },
            stale_after_ms: { type: 'integer', minimum: 100, default: 3000, description: 'A fix older than this is no speed at all.' },
          },
        },
        replay_log: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          properties: {
            speed_scale: {
              ...positive,
              default: 0.0402336,
              description: "km/h per unit of the logged speed column (a legacy run's raw_data.txt logs motor rpm; scooter.py: 160 rpm ~ 4 mph, so 0.0402336).",
            },
          },
        },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Serve /metrics.' },
        host: { type: 'string', default: '127.0.0.1', description: 'Listen address (loopback: the on-device Prometheus agent scrapes it).' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 9101, description: 'Metrics port (0: any free port).' },
      },
    },
    recording: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: { dir: { type: 'string', default: '/var/lib/sidewalk/rides', description: 'Where record mode writes rides.' } },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        stale_after_ms: { type: 'integer', minimum: 100, default: 3000, description: 'No WATCHDOG=1 when the last frame or inference is older than this.' },
      },
    },
  },
} as const satisfies JSONSchema;

/** A validated runtime config: every default filled in (load.ts). */
export type RuntimeConfig = FromSchema<typeof runtimeConfigSchema>;
export type Mode = RuntimeConfig['mode'];

/** Every default of the schema: a config with no field set but the model bundle (which has none). */
export type RuntimeDefaults = Omit<RuntimeConfig, 'model'> & { model: Omit<RuntimeConfig['model'], 'bundle'> };
export const RUNTIME_DEFAULTS = schemaDefaults(runtimeConfigSchema) as RuntimeDefaults;
