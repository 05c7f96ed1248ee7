/**
 * Fake libgpiod 1.6 tools: a `gpiofind` that knows one line name and a `gpioset` that records its
 * arguments and holds "the line" until signalled, like the real `gpioset --mode=signal`.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeGpiod {
  dir: string;
  gpiosetPath: string;
  gpiofindPath: string;
  logPath: string;
  /** Running gpioset children: pid -> args (from the record; a child that logged "stop" or was killed is gone). */
  running(): Promise<Map<number, string>>;
  /** Every gpioset invocation's arguments, in order. */
  invocations(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function fakeGpiod(options: { lineName?: string; chip?: string; offset?: number; failSet?: boolean } = {}): Promise<FakeGpiod> {
  const dir = await mkdtemp(join(tmpdir(), 'sidewalk-gpiod-'));
  const logPath = join(dir, 'gpioset.log');
  await writeFile(logPath, '');
  const gpiofindPath = join(dir, 'gpiofind');
  const gpiosetPath = join(dir, 'gpioset');
  await writeFile(
    gpiofindPath,
    `#!/bin/bash\nif [ "$1" = "${options.lineName ?? 'GPIO17'}" ]; then echo "${options.chip ?? 'gpiochip3'} ${options.offset ?? 17}"; exit 0; fi\nexit 1\n`,
  );
  await writeFile(
    gpiosetPath,
    options.failSet
      ? '#!/bin/bash\necho "gpioset: error setting the GPIO line values: Device or resource busy" >&2\nexit 1\n'
      : `#!/bin/bash\necho "start $$ $*" >> "${logPath}"\ntrap 'echo "stop $$" >> "${logPath}"; exit 0' TERM INT\nwhile :; do sleep 0.02; done\n`,
  );
  await chmod(gpiofindPath, 0o755);
  await chmod(gpiosetPath, 0o755);
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const lines = async () => (await readFile(logPath, 'utf8')).split('\n').filter(Boolean);
  const running = async (): Promise<Map<number, string>> => {
      const map = new Map<number, string>();
    for (const line of await lines()) {
        const [what, pid, ...args] = line.split(' ');
        if (what === 'start') map.set(Number(pid), args.join(' '));
        else map.delete(Number(pid));
      }
      for (const pid of [...map.keys()]) if (!alive(pid)) map.delete(pid);
      return map;
  };
  return {
    dir,
    gpiosetPath,
    gpiofindPath,
    logPath,
    running,
    async invocations() {
      return (await lines()).filter((l) => l.startsWith('start ')).map((l) => l.split(' ').slice(2).join(' '));
    },
    async cleanup() {
      for (const pid of (await running()).keys()) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
