/**
 * PWM limiter: a throttle clamp driven by hardware PWM through /sys/class/pwm. The chip is found by
 * its device (pwmchip numbers change between boards and kernels; on a Pi 5 pwmchip0 can be the fan),
 * the channel is exported, and the limit maps linearly onto the duty cycle:
 *   duty_ns = dutyAtZeroNs + (dutyAtFullNs - dutyAtZeroNs) * clamp(limitKph, 0, fullSpeedKph) / fullSpeedKph
 * The safe state is the duty for safeLimitKph. close() leaves the channel exported and running at
 * that duty: the kernel keeps a sysfs PWM channel going after the process exits, so what outlives
 * the runtime is the limited duty, never the last one (docs/wiring.md).
 */
import { access, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SidewalkError } from '../../lib/errors.js';
import type { SpeedLimiter } from '../types.js';
import { checkLimitKph, closedError } from './limit-check.js';

export interface PwmLimiterConfig {
  kind: 'pwm';
  /**
   * The PWM controller: its device name, e.g. "fe20c000.pwm" (Pi 4 PWM0) or "1f00098000.pwm" (Pi 5
   * RP1 PWM0, under /sys/devices/platform/axi/1000120000.pcie/), its device path, or a pwmchip
   * directory itself. Required: there is no default that is right on both boards.
   */
  chipPath: string | null;
  /** PWM channel on that chip (GPIO18: 0 on a Pi 4, 2 on a Pi 5; docs/wiring.md). Required. */
  channel: number | null;
  /** Unit: ns. e.g. 20000000 (50 Hz). */
  periodNs: number;
  /** Duty at 0 km/h. Unit: ns. */
  dutyAtZeroNs: number;
  /** Duty at fullSpeedKph. Unit: ns. */
  dutyAtFullNs: number;
  /** Unit: km/h. */
  fullSpeedKph: number;
  /** Limit of the safe state. Unit: km/h. */
  safeLimitKph: number;
  /** Root of the PWM class (tests use a temp tree). Default /sys/class/pwm. */
  sysfsRoot?: string;
  /** Unit: ms. Default 2000. */
  exportTimeoutMs?: number;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

export class PwmLimiter implements SpeedLimiter {
  readonly kind = 'pwm';
  readonly #config: PwmLimiterConfig & { chipPath: string; channel: number };
  #channelDir: string | null = null;
  #chipDir: string | null = null;
  #dutyNs: number | null = null;

  constructor(config: PwmLimiterConfig) {
    const bad = (why: string): never => {
      throw new SidewalkError('LIMITER_PWM_CONFIG_INVALID', `pwm limiter: ${why}`);
    };
    if (!(Number.isInteger(config.periodNs) && config.periodNs > 0)) bad(`periodNs=${config.periodNs} must be a positive integer`);
    for (const f of ['dutyAtZeroNs', 'dutyAtFullNs'] as const) {
      if (!(config[f] >= 0 && config[f] <= config.periodNs)) bad(`${f}=${config[f]} must be within 0..periodNs (${config.periodNs})`);
    }
    if (!(config.fullSpeedKph > 0)) bad(`fullSpeedKph=${config.fullSpeedKph} must be > 0`);
    if (!config.chipPath) bad('limiter.pwm.chip_path is required: the PWM controller, e.g. fe20c000.pwm (Pi 4) or 1f00098000.pwm (Pi 5); see docs/wiring.md');
    if (config.channel === null) bad('limiter.pwm.channel is required: GPIO18 is channel 0 on a Pi 4 and channel 2 on a Pi 5; see docs/wiring.md');
    if (!(Number.isInteger(config.channel) && config.channel! >= 0)) bad(`channel=${config.channel} must be an integer >= 0`);
    checkLimitKph('pwm', config.safeLimitKph);
    this.#config = config as PwmLimiterConfig & { chipPath: string; channel: number };
  }

  /** Duty cycle (ns) for a limit. */
  dutyNsFor(limitKph: number): number {
    const { dutyAtZeroNs, dutyAtFullNs, fullSpeedKph } = this.#config;
    const fraction = Math.min(Math.max(limitKph, 0), fullSpeedKph) / fullSpeedKph;
    return Math.round(dutyAtZeroNs + (dutyAtFullNs - dutyAtZeroNs) * fraction);
  }

  /** The pwmchip directory and channel directory in use (after init). */
  get paths(): { chipDir: string | null; channelDir: string | null } {
    return { chipDir: this.#chipDir, channelDir: this.#channelDir };
  }

  async init(): Promise<void> {
    const chipDir = await this.#findChip();
    const npwm = Number((await readFile(join(chipDir, 'npwm'), 'utf8').catch(() => 'NaN')).trim());
    if (Number.isFinite(npwm) && this.#config.channel >= npwm) {
      throw new SidewalkError('LIMITER_PWM_UNAVAILABLE', `pwm limiter: channel ${this.#config.channel} does not exist on ${chipDir} (npwm=${npwm})`);
    }
    const channelDir = join(chipDir, `pwm${this.#config.channel}`);
    if (!(await exists(channelDir))) {
      await this.#write(join(chipDir, 'export'), String(this.#config.channel));
      const timeoutMs = this.#config.exportTimeoutMs ?? 2000;
      const deadline = Date.now() + timeoutMs;
      while (!(await exists(join(channelDir, 'enable')))) {
        if (Date.now() > deadline) throw new SidewalkError('LIMITER_PWM_EXPORT_TIMEOUT', `pwm limiter: ${channelDir}/enable did not appear within ${timeoutMs} ms of export`);
        await sleep(10);
      }
    }
    this.#chipDir = chipDir;
    this.#channelDir = channelDir;
    // The kernel refuses a period shorter than the current duty: lower the duty first (0 = most limited).
    const currentDuty = Number((await readFile(join(channelDir, 'duty_cycle'), 'utf8').catch(() => '0')).trim());
    if (currentDuty > this.#config.periodNs) await this.#write(join(channelDir, 'duty_cycle'), '0');
    await this.#write(join(channelDir, 'period'), String(this.#config.periodNs));
    await this.#setDuty(this.dutyNsFor(this.#config.safeLimitKph));
    await this.#write(join(channelDir, 'enable'), '1');
  }

  async setLimit(limitKph: number): Promise<void> {
    if (!this.#channelDir) throw closedError(this.kind);
    checkLimitKph(this.kind, limitKph);
    await this.#setDuty(this.dutyNsFor(limitKph));
  }

  async safeState(): Promise<void> {
    if (this.#channelDir) await this.#setDuty(this.dutyNsFor(this.#config.safeLimitKph));
  }

  /** Safe duty, left running and exported: the limited duty outlives this process (see the header). */
  async close(): Promise<void> {
    const channelDir = this.#channelDir;
    if (!channelDir || !this.#chipDir) return;
    try {
      await this.safeState();
    } finally {
      this.#channelDir = null;
      this.#chipDir = null;
      this.#dutyNs = null;
    }
  }

  async #setDuty(dutyNs: number): Promise<void> {
    if (dutyNs === this.#dutyNs) return;
    this.#dutyNs = null;
    await this.#write(join(this.#channelDir!, 'duty_cycle'), String(dutyNs));
    this.#dutyNs = dutyNs;
  }

  async #findChip(): Promise<string> {
    const root = this.#config.sysfsRoot ?? '/sys/class/pwm';
    const byName = !this.#config.chipPath.includes('/');
    const wanted = byName ? this.#config.chipPath : await realpath(this.#config.chipPath).catch(() => this.#config.chipPath);
    let names: string[];
    try {
      names = (await readdir(root)).filter((n) => /^pwmchip\d+$/.test(n));
    } catch (err) {
      throw new SidewalkError('LIMITER_PWM_UNAVAILABLE', `pwm limiter: cannot read ${root} (${(err as Error).message}); is the pwm overlay enabled?`, { cause: err });
    }
    const found: string[] = [];
    for (const name of names.sort()) {
      const dir = join(root, name);
      const real = await realpath(dir);
      found.push(real);
      // A pwmchip lives at <device>/pwm/pwmchipN.
      if (byName ? basename(dirname(dirname(real))) === wanted : real === wanted || real.startsWith(`${wanted}/`)) return dir;
    }
    throw new SidewalkError('LIMITER_PWM_UNAVAILABLE', `pwm limiter: no pwmchip under ${root} belongs to ${this.#config.chipPath} (found: ${found.join(', ') || 'none'})`);
  }

  async #write(path: string, value: string): Promise<void> {
    try {
      await writeFile(path, value);
    } catch (err) {
      throw new SidewalkError('LIMITER_PWM_WRITE_FAILED', `pwm limiter: writing "${value}" to ${path} failed (${(err as Error).message})`, { cause: err });
    }
  }
}
