/**
 * A classifier that answers from the scene script instead of pixels: it lets pipeline tests script
 * exact probability sequences (and failures) while everything else is the real runtime.
 */
import { parseSceneScript, sceneAt } from '../../runtime/camera/scenes.js';
import type { Classification, Classifier, Frame } from '../../runtime/types.js';
import { DEFAULT_GROUPS, DEFAULT_LABELS } from '../../runtime/inference/manifest-types.js';

export class OracleClassifier implements Classifier {
  readonly info = { name: 'oracle', version: '0.0.0', location: 'test', sha256: '0'.repeat(64), backend: 'oracle' };
  readonly labels = DEFAULT_LABELS;
  readonly groups = DEFAULT_GROUPS;
  readonly #script;
  readonly #failBetweenMs: [number, number] | null;
  closed = false;

  constructor(script: string, options: { confidence?: number; failBetweenMs?: [number, number] } = {}) {
    this.#script = parseSceneScript(script);
    this.#failBetweenMs = options.failBetweenMs ?? null;
    this.confidence = options.confidence ?? 0.9;
  }
  readonly confidence: number;

  async classify(frame: Frame): Promise<Classification> {
    const t = frame.mediaTimeMs ?? 0;
    if (this.#failBetweenMs && t >= this.#failBetweenMs[0] && t < this.#failBetweenMs[1]) throw new Error('scripted inference failure');
    const kind = sceneAt(this.#script, t / 1000);
    const rest = (1 - this.confidence) / (this.labels.length - 1);
    const probabilities = Float32Array.from(this.labels, (l) => (l === kind ? this.confidence : rest));
    return { probabilities, preprocessMs: 0.1, inferenceMs: 1 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
