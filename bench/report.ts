/**
 * What every benchmark shares: the two sides of a ratio are run in interleaved rounds (A, B, B, A, …
 * so neither side always runs first), the verdict is the median of the same-round ratios (each pair
 * shares the machine's load of its moment), the spread is printed, and `--check` turns a missed
 * target into a non-zero exit code.
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
}

/**
 * Runs `rounds` rounds of both sides, alternating which goes first, after `warmup` uncounted rounds.
 * Each side returns its measurement (seconds, ms, frames/s: the caller decides).
 */
export async function interleavedRounds(
  rounds: number,
  sides: { a: (round: number) => Promise<number>; b: (round: number) => Promise<number> },
  options: { warmup?: number; onRound?: (round: number, counted: boolean, aFirst: boolean) => void } = {},
): Promise<{ a: number[]; b: number[] }> {
  const a: number[] = [];
  const b: number[] = [];
  const warmup = options.warmup ?? 0;
  for (let round = 0; round < warmup + rounds; round++) {
    const counted = round >= warmup;
    const aFirst = round % 2 === 0;
    options.onRound?.(round, counted, aFirst);
    let va: number;
    let vb: number;
    if (aFirst) {
      va = await sides.a(round);
      vb = await sides.b(round);
    } else {
      vb = await sides.b(round);
      va = await sides.a(round);
    }
    if (counted) {
      a.push(va);
      b.push(vb);
    }
  }
  return { a, b };
}

export interface RatioSummary {
  ratios: number[];
  median: number;
  min: number;
  max: number;
}

/** numerator[i] / denominator[i] for each round, with their median and spread. */
export function sameRoundRatios(numerator: readonly number[], denominator: readonly number[]): RatioSummary {
  if (numerator.length !== denominator.length || numerator.length === 0) throw new Error('same-round ratios need the same, non-zero number of rounds on both sides');
  const ratios = numerator.map((n, i) => n / denominator[i]!);
  return { ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

export function formatRatios(r: RatioSummary, digits = 2): string {
  return `median ${r.median.toFixed(digits)} (rounds: ${r.ratios.map((x) => x.toFixed(digits)).join(', ')}; spread ${r.min.toFixed(digits)}..${r.max.toFixed(digits)})`;
}

export const verdict = (ok: boolean): string => (ok ? 'ok' : 'MISSED');

/** The summary table every bench ends with; `finish()` sets the exit code under --check. */
export class Targets {
  readonly #rows: { name: string; value: string; target: string; ok: boolean }[] = [];

  row(name: string, value: string, target: string, ok: boolean): void {
    this.#rows.push({ name, value, target, ok });
  }

  get missed(): string[] {
    return this.#rows.filter((r) => !r.ok).map((r) => r.name);
  }

  lines(): string[] {
    const w = Math.max(30, ...this.#rows.map((r) => r.name.length)) + 2;
    const out = [`summary${' '.repeat(w - 5)}measured          target        result`];
    for (const r of this.#rows) out.push(`  ${r.name.padEnd(w)} ${r.value.padEnd(17)} ${r.target.padEnd(13)} ${verdict(r.ok)}`);
    return out;
  }

  /** With `--check` on the command line, a missed target ends the process with exit code 3. */
  finish(argv: readonly string[] = process.argv): void {
    const missed = this.missed;
    if (!argv.includes('--check')) return;
    if (missed.length) {
      process.stderr.write(`bench --check: missed ${missed.length} target(s): ${missed.join('; ')}\n`);
      process.exitCode = 3;
    } else {
      process.stderr.write('bench --check: every target met\n');
    }
  }
}
