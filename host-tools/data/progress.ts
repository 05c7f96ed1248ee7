/** A one-line progress bar on stderr (only when stderr is a terminal; pipes and logs stay clean). */
export class Progress {
  #total: number;
  #done = 0;
  #label: string;
  #enabled: boolean;

  constructor(label: string, total: number, enabled = process.stderr.isTTY === true) {
    this.#label = label;
    this.#total = total;
    this.#enabled = enabled;
  }

  tick(step = 1, note = ''): void {
    this.#done += step;
    if (!this.#enabled) return;
    const width = 30;
    const frac = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 1;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    process.stderr.write(`\r${this.#label} [${bar}] ${this.#done}/${this.#total} ${note}`.slice(0, 120).padEnd(120));
  }

  done(): void {
    if (this.#enabled) process.stderr.write('\n');
  }
}
