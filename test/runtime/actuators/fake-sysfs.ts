/**
 * Temp directory trees that mimic /sys/class/gpio and /sys/class/pwm, plus a tiny "kernel" that
 * creates and removes the per-line directories when export/unexport are written (as sysfs does).
 */
import { mkdir, readFile, rename, rm, symlink, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../../helpers/temp.js';

export interface FakeKernel {
  root: string;
  /** Final contents of each unexported line's files, keyed by the exported name (gpio529, pwm1). */
  released: Map<string, Record<string, string>>;
  stop(): Promise<void>;
}

/** Watches `dir/export` and `dir/unexport`; `makeEntry` fills a newly exported `dir/<prefix>N`. */
function runKernel(root: string, dirs: string[], prefix: string, files: Record<string, string>): FakeKernel {
  const released = new Map<string, Record<string, string>>();
  let inFlight: Promise<void> | null = null;
  const tick = (): void => {
    inFlight ??= step()
      .catch((err: unknown) => {
        throw new Error(`fake sysfs kernel: ${(err as Error).message}`);
      })
      .finally(() => {
        inFlight = null;
      });
  };
  const step = async (): Promise<void> => {
    for (const dir of dirs) {
      const exp = (await readFile(join(dir, 'export'), 'utf8').catch(() => '')).trim();
      if (exp) {
        await writeFile(join(dir, 'export'), '');
        // Build the entry aside and rename it in, so it appears complete in one step like sysfs.
        const staging = join(dir, `.staging-${prefix}${exp}`);
        await mkdir(staging, { recursive: true });
        for (const [f, v] of Object.entries(files)) await writeFile(join(staging, f), v);
        await rename(staging, join(dir, `${prefix}${exp}`));
      }
      const unexp = (await readFile(join(dir, 'unexport'), 'utf8').catch(() => '')).trim();
      if (unexp) {
        await writeFile(join(dir, 'unexport'), '');
        const entry = join(dir, `${prefix}${unexp}`);
        const snapshot: Record<string, string> = {};
        for (const f of await readdir(entry).catch(() => [] as string[])) snapshot[f] = (await readFile(join(entry, f), 'utf8')).trim();
        released.set(`${prefix}${unexp}`, snapshot);
        await rm(entry, { recursive: true, force: true });
      }
    }
  };
  const timer = setInterval(tick, 3);
  return {
    root,
    released,
    stop: async () => {
      clearInterval(timer);
      await inFlight; // never pull the tree out from under a running step
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** /sys/class/gpio with the Pi 4 header chip at base 512 and the expander chip at 570 (Bookworm numbering). */
export async function fakeGpioSysfs(): Promise<FakeKernel & { classDir: string }> {
  const root = await makeTempDir('sidewalk-gpio-');
  const classDir = join(root, 'class', 'gpio');
  await mkdir(classDir, { recursive: true });
  await writeFile(join(classDir, 'export'), '');
  await writeFile(join(classDir, 'unexport'), '');
  const chips = [
    { name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
    { name: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
  ];
  for (const c of chips) {
    await mkdir(join(classDir, c.name));
    await writeFile(join(classDir, c.name, 'label'), `${c.label}\n`);
    await writeFile(join(classDir, c.name, 'base'), `${c.base}\n`);
    await writeFile(join(classDir, c.name, 'ngpio'), `${c.ngpio}\n`);
  }
  return { ...runKernel(root, [classDir], 'gpio', { direction: 'in', value: '', active_low: '0' }), classDir };
}

/**
 * /sys/class/pwm with pwmchip0 (a fan controller) and pwmchip2 -> the Pi 5 RP1 PWM device, linked
 * like the real class directory (class/pwm/pwmchipN -> ../../devices/.../pwm/pwmchipN).
 */
export async function fakePwmSysfs(): Promise<FakeKernel & { classDir: string; devicePath: string; chipDir: string }> {
  const root = await makeTempDir('sidewalk-pwm-');
  const classDir = join(root, 'class', 'pwm');
  await mkdir(classDir, { recursive: true });
  const devices = [
    { chip: 'pwmchip0', device: join(root, 'devices', 'platform', 'cooling_fan', 'fan-pwm') },
    { chip: 'pwmchip2', device: join(root, 'devices', 'platform', 'axi', '1f00098000.pwm') },
  ];
  const chipDirs: string[] = [];
  for (const d of devices) {
    const chipDir = join(d.device, 'pwm', d.chip);
    await mkdir(chipDir, { recursive: true });
    await writeFile(join(chipDir, 'npwm'), '4\n');
    await writeFile(join(chipDir, 'export'), '');
    await writeFile(join(chipDir, 'unexport'), '');
    await symlink(chipDir, join(classDir, d.chip));
    chipDirs.push(chipDir);
  }
  const kernel = runKernel(root, chipDirs, 'pwm', { period: '0', duty_cycle: '0', enable: '0', polarity: 'normal' });
  return { ...kernel, classDir, devicePath: devices[1]!.device, chipDir: chipDirs[1]! };
}
