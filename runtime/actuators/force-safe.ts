/**
 * The stop path: puts the limit output in its limited state from a process that is not the
 * runtime, whatever ended the runtime (clean stop, crash, SIGKILL, OOM kill, watchdog abort).
 * sidewalk-runtime.service runs it as ExecStopPost (`sidewalk limiter safe`), when nothing of the
 * runtime holds the output any more (docs/hardware.md).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SpeedLimiterConfig } from './create.js';
import { GpioLimiter } from './gpio-limiter.js';
import { PwmLimiter } from './pwm-limiter.js';
import { SerialLimiter } from './serial-limiter.js';
import type { LimitCommand } from './simulated-limiter.js';

/** Drives the limited state once and returns a line saying what was done. */
export async function forceLimitedState(config: SpeedLimiterConfig): Promise<string> {
  switch (config.kind) {
    case 'simulated': {
      if (!config.logFile) return 'simulated limiter without a log file: nothing to drive';
      const command: LimitCommand = { t: new Date().toISOString(), monoMs: performance.now(), limitKph: config.safeLimitKph, safe: true };
      await mkdir(dirname(config.logFile), { recursive: true });
      await appendFile(config.logFile, `${JSON.stringify({ ...command, stopPath: true })}\n`);
      return `simulated limiter: logged ${config.safeLimitKph} km/h to ${config.logFile}`;
    }
    case 'gpio': {
      const limiter = new GpioLimiter(config);
      await limiter.forceSafe();
      return `gpio limiter: ${config.line} driven limited (${limiter.levelFor(true) ? 'high' : 'low'}) with ${limiter.backend.description}`;
    }
    case 'pwm': {
      // init() sets the period and the safe duty and enables the output; close() leaves it running.
      const limiter = new PwmLimiter(config);
      await limiter.init();
      await limiter.close();
      return `pwm limiter: channel ${config.channel} of ${config.chipPath} at ${limiter.dutyNsFor(config.safeLimitKph)} ns (${config.safeLimitKph} km/h)`;
    }
    case 'serial': {
      // init() sends the safe limit and waits for the controller's acknowledgement.
      const limiter = new SerialLimiter({ ...config, keepaliveMs: 0, reopenDelayMs: 0 });
      await limiter.init();
      await limiter.close();
      return `serial limiter: ${config.device} acknowledged ${config.safeLimitKph} km/h`;
    }
  }
}
