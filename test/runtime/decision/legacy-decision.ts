/**
 * The LEGACY decision algorithm, transcribed as literally as possible and nothing else: no hysteresis,
 * no minimum speed, no fail-safe. It is the reference the decision tests compare against.
 *
 * Legacy Python loop (per frame):
 *   history.append(probs)            # deque(maxlen=6)
 *   avg = mean(history, axis=0)      # per-class running average over what the deque holds
 *   sidewalk = avg[side] + avg[crosswalk]
 *   road = avg[street] + avg[bike_lane]
 *   on_sidewalk = sidewalk > 0.5 and road < 0.5
 *   limit = SIDEWALK_SPEED if on_sidewalk else FULL_SPEED
 */
export const LEGACY_LABELS = ['bike_lane', 'crosswalk', 'side', 'street'] as const;
const SIDE = 2;
const CROSSWALK = 1;
const STREET = 3;
const BIKE_LANE = 0;
const WINDOW = 6;

export class LegacyDecision {
  #history: number[][] = [];

  /** Feeds one frame's probabilities (legacy label order); returns whether the scooter is on a sidewalk. */
  step(probs: ArrayLike<number>): { onSidewalk: boolean; sidewalk: number; road: number } {
    this.#history.push(Array.from(probs));
    if (this.#history.length > WINDOW) this.#history.shift();
    const avg = [0, 1, 2, 3].map((c) => {
      let s = 0;
      for (const frame of this.#history) s += frame[c]!;
      return s / this.#history.length;
    });
    const sidewalk = avg[SIDE]! + avg[CROSSWALK]!;
    const road = avg[STREET]! + avg[BIKE_LANE]!;
    return { onSidewalk: sidewalk > 0.5 && road < 0.5, sidewalk, road };
  }
}
