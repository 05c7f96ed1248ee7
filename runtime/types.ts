/**
 * Contracts between the runtime's rooms (the Architecture section of README.md).
 * Every implementation of an interface here has a simulated twin used by tests and replay.
 */

export type FrameFormat = 'rgb24' | 'yuv420';

/**
 * One camera frame. `data` layout:
 *  - rgb24: `height` rows of `stride` bytes (stride >= width*3), R,G,B per pixel.
 *  - yuv420 (I420, full-range BT.601 as rpicam-vid emits it): Y plane of `stride`*`height` bytes,
 *    then U and V planes of (`stride`/2)*(`height`/2) bytes each. `stride` is the ISP's padded row
 *    length (a multiple of 64 on a Pi 4, of 128 on a Pi 5), >= width.
 */
export interface Frame {
  seq: number;
  /** Monotonic capture time (process.hrtime.bigint() clock); frame-to-actuation latency is measured from it. */
  capturedAtNs: bigint;
  /** Position of this frame within a recording (ms from its start), when the source is a recording. */
  mediaTimeMs?: number;
  width: number;
  height: number;
  /** Bytes per row of the (Y) plane; equals width (yuv420) or width*3 (rgb24) when unpadded. */
  stride: number;
  format: FrameFormat;
  data: Uint8Array;
}

export interface FrameSourceStats {
  /** Frames delivered by next(). */
  frames: number;
  /** Frames that arrived but were superseded by a newer one before next() took them. */
  dropped: number;
  /** Times the underlying capture process or decoder was restarted. */
  restarts: number;
}

/**
 * A pull-based frame source. Live sources keep only the newest complete frame (one frame in
 * flight, README.md) and count the rest as dropped; recorded sources in "as fast as possible"
 * mode deliver every frame, in real-time mode they skip frames whose time has passed.
 */
export interface FrameSource {
  /** Human description for logs and STATUS=, e.g. "rpicam 256x256@15" or "replay ride.mp4". */
  readonly description: string;
  readonly stats: FrameSourceStats;
  /** Checks dependencies (binary present, file readable and decodable) and starts capture. Throws SidewalkError. */
  start(): Promise<void>;
  /**
   * Resolves with the next frame, or null when a recording has ended or the source was stopped.
   * A live source that has lost its camera keeps waiting (and restarting it); the runtime's
   * fail-safe timer covers the gap. Rejects only on an unrecoverable error.
   */
  next(): Promise<Frame | null>;
  stop(): Promise<void>;
}

/** A speed reading. */
export interface SpeedReading {
  speedKph: number;
  /** Monotonic time of the reading, in ms (performance.now() clock). */
  atMs: number;
  /** Position, when the source knows it. */
  position?: { lat: number; lon: number; altM?: number };
}

export interface SpeedSource {
  readonly description: string;
  start(): Promise<void>;
  /**
   * Latest reading, or null when none is known (or it is older than the source's staleness limit).
   * `mediaTimeMs` lets recorded sources (replay logs) answer for a frame's position in the recording.
   */
  current(mediaTimeMs?: number): SpeedReading | null;
  stop(): Promise<void>;
}

/**
 * A motor speed limiter. Limits are km/h; each backend converts to its own unit.
 * `setLimit` receives already-ramped values (runtime/actuators/ramp.ts); backends do not ramp.
 * `safeState` drives the backend to its fail-safe state (the limited speed; for the GPIO line,
 * the level that means "limited"). Implementations must not throw from safeState() on a
 * healthy device; it is called on SIGTERM, on fatal errors and before exit.
 */
export interface SpeedLimiter {
  readonly kind: string;
  /** Opens the device; throws SidewalkError if an essential capability is missing. Leaves the limiter in its safe state. */
  init(): Promise<void>;
  /** Commands a limit in km/h; `frameCapturedAtNs` is the capture time of the frame that caused it (for latency metrics), if any. */
  setLimit(limitKph: number, frameCapturedAtNs?: bigint): Promise<void>;
  safeState(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Class probabilities of one frame: one value per label, in the classifier's label order
 * (manifest.labels). The one shape from inference through the decision to the recorder and the
 * metrics; the TFLite classifier hands out its Float32Array, recorded scores are plain arrays.
 */
export type ClassProbabilities = ArrayLike<number>;

/** One classified frame. */
export interface Classification {
  probabilities: ClassProbabilities;
  preprocessMs: number;
  inferenceMs: number;
}

/** What is loaded, for metrics (sidewalk_model_info), recordings and logs. */
export interface ModelInfo {
  name: string;
  version: string;
  location: string;
  /** sha256 of the model file actually loaded. */
  sha256: string;
  /** How it runs: `xnnpack`, `cpu` or `edgetpu` for TFLite; test twins name themselves. */
  backend: string;
}

/**
 * Frames in, class probabilities out. The TFLite classifier (runtime/inference/classifier.ts) runs on
 * the device; tests script answers with an oracle twin. One classify() in flight at a time.
 */
export interface Classifier {
  readonly info: ModelInfo;
  readonly labels: readonly string[];
  /** Label groups the decision averages (manifest.groups). */
  readonly groups: { sidewalk: readonly string[]; road: readonly string[] };
  /** Rejects with a SidewalkError (MODEL_*) when the frame could not be classified. */
  classify(frame: Frame): Promise<Classification>;
  close(): Promise<void>;
}
