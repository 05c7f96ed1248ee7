/**
 * Fallback backend for the limit line through the deprecated /sys/class/gpio interface (what the
 * `onoff` package uses). Recent kernels number sysfs GPIOs from a per-chip base (512, 522, 571, ...),
 * so the global number is computed from gpiochip*\/{label,base,ngpio}, never assumed. The line stays
 * exported after close(), so it stays driven at the last ("limited") level when the process is gone.
 */
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SidewalkError } from '../../lib/errors.js';
import type { GpioBackend } from './gpio-limiter.js';

export interface SysfsGpioBackendOptions {
  /** Line name, e.g. "GPIO17"; its trailing number is the offset on the chip unless `offset` is given. */
  line: string;
  /** Offset of the line on its chip. Default: the number at the end of `line`. */
  offset?: number | null;
  /** Label of the gpiochip, e.g. "pinctrl-bcm2711" (Pi 4) or "pinctrl-rp1" (Pi 5). Default: the first chip labelled "pinctrl-*". */
  chipLabel?: string | null;
  /** Root of the sysfs GPIO class (tests use a temp tree). Default /sys/class/gpio. */
  root?: string;
  /** How long to wait for gpioN/ to appear after export (udev may also need to fix permissions). Unit: ms. Default 2000. */
  exportTimeoutMs?: number;
}

interface Chip {
  name: string;
  label: string;
  base: number;
  ngpio: number;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

export class SysfsGpioBackend implements GpioBackend {
  readonly #opts: SysfsGpioBackendOptions & { root: string; exportTimeoutMs: number };
  #number = -1;

  constructor(options: SysfsGpioBackendOptions) {
    this.#opts = { root: '/sys/class/gpio', exportTimeoutMs: 2000, ...options };
  }

  get description(): string {
    return `sysfs gpio${this.#number} (${this.#opts.line})`;
  }

  /** The global sysfs GPIO number (base + offset), after open(). */
  get gpioNumber(): number {
    return this.#number;
  }

  async open(initialHigh: boolean): Promise<void> {
    const offset = this.#opts.offset ?? Number(/(\d+)$/.exec(this.#opts.line)?.[1] ?? NaN);
    if (!Number.isInteger(offset) || offset < 0) {
      throw new SidewalkError('LIMITER_GPIO_LINE_NOT_FOUND', `sysfs gpio: line "${this.#opts.line}" has no offset (name it GPIO<n> or set offset)`);
    }
    const chip = await this.#findChip();
    if (offset >= chip.ngpio) {
      throw new SidewalkError('LIMITER_GPIO_LINE_NOT_FOUND', `sysfs gpio: offset ${offset} is beyond ${chip.name} (${chip.label}) which has ${chip.ngpio} lines`);
    }
    this.#number = chip.base + offset;
    const dir = join(this.#opts.root, `gpio${this.#number}`);
    if (!(await exists(dir))) {
      await this.#write(join(this.#opts.root, 'export'), String(this.#number));
      const deadline = Date.now() + this.#opts.exportTimeoutMs;
      while (!(await exists(join(dir, 'direction')))) {
        if (Date.now() > deadline) {
          throw new SidewalkError('LIMITER_GPIO_EXPORT_TIMEOUT', `sysfs gpio: ${dir}/direction did not appear within ${this.#opts.exportTimeoutMs} ms of export`);
        }
        await sleep(10);
      }
    }
    // "high"/"low" sets output direction and value in one write: no glitch through the wrong level.
    await this.#write(join(dir, 'direction'), initialHigh ? 'high' : 'low');
    await this.write(initialHigh);
  }

  async write(high: boolean): Promise<void> {
    await this.#write(join(this.#opts.root, `gpio${this.#number}`, 'value'), high ? '1' : '0');
  }

  /**
   * Leaves the line exported: the kernel keeps driving an exported output at its last level (the
   * limiter's close() leaves "limited") after this process is gone, pull resistor or not.
   */
  async close(): Promise<void> {
    this.#number = -1;
  }

  /** Exports the line if needed and drives the level; it stays driven after exit (see close()). */
  async driveOnce(high: boolean): Promise<void> {
    await this.open(high);
    this.#number = -1;
  }

  async #findChip(): Promise<Chip> {
    let names: string[];
    try {
      names = (await readdir(this.#opts.root)).filter((n) => n.startsWith('gpiochip')).sort();
    } catch (err) {
      throw new SidewalkError('LIMITER_GPIO_UNAVAILABLE', `sysfs gpio: cannot read ${this.#opts.root} (${(err as Error).message})`, { cause: err });
    }
    const chips: Chip[] = [];
    for (const name of names) {
      const read = (f: string) => readFile(join(this.#opts.root, name, f), 'utf8').then((s) => s.trim());
      chips.push({ name, label: await read('label'), base: Number(await read('base')), ngpio: Number(await read('ngpio')) });
    }
    const wanted = this.#opts.chipLabel;
    const chip = wanted ? chips.find((c) => c.label === wanted) : chips.find((c) => c.label.startsWith('pinctrl-'));
    if (!chip) {
      throw new SidewalkError(
        'LIMITER_GPIO_LINE_NOT_FOUND',
        `sysfs gpio: no gpiochip labelled ${wanted ? `"${wanted}"` : '"pinctrl-*"'} under ${this.#opts.root} (found: ${chips.map((c) => `${c.name}=${c.label}`).join(', ') || 'none'})`,
      );
    }
    return chip;
  }

  async #write(path: string, value: string): Promise<void> {
    try {
      await writeFile(path, value);
    } catch (err) {
      throw new SidewalkError('LIMITER_GPIO_WRITE_FAILED', `sysfs gpio: writing "${value}" to ${path} failed (${(err as Error).message})`, { cause: err });
    }
  }
}
