/**
 * A stand-in for the runtime's actuation loop, run as a child process by stop-path.test.ts: builds
 * the limiter from a runtime config exactly as the service does (loadConfigFile + limiterConfig),
 * then alternates full speed and the sidewalk limit forever, printing "full" or "limited" after
 * each change has reached the output, until it is killed.
 * Usage: node limiter-driver.js CONFIG [JSON overrides of the SpeedLimiterConfig, e.g. a fake sysfs root] [CHANGES]
 * With CHANGES, it stops changing after that many and holds the output until killed.
 */
import { loadConfigFile } from '../../../runtime/config/load.js';
import { limiterConfig } from '../../../runtime/service/components.js';
import { createSpeedLimiter, type SpeedLimiterConfig } from '../../../runtime/actuators/index.js';

const config = loadConfigFile(process.argv[2]!);
const overrides = JSON.parse(process.argv[3] ?? '{}') as Partial<SpeedLimiterConfig>;
const limiter = createSpeedLimiter({ ...limiterConfig(config), ...overrides } as SpeedLimiterConfig);
await limiter.init();
process.stdout.write('limited\n');
const maxChanges = Number(process.argv[4] ?? Infinity);
for (let full = true, changes = 0; changes < maxChanges; full = !full, changes++) {
  await limiter.setLimit(full ? config.speed.full_kph : config.speed.sidewalk_kph);
  process.stdout.write(full ? 'full\n' : 'limited\n');
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
}
setInterval(() => undefined, 60_000); // hold until killed
