/**
 * Runs `systemd-analyze verify` on unit files inside a throwaway root that holds systemd's own
 * units plus dummy executables for the units' ExecStart paths. Its exit code is 0 even for unknown
 * keys, so callers assert on the (empty) output as well (image/README.md).
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './temp.js';

const run = promisify(execFile);

export async function verifyUnits(unitFiles: string[]): Promise<{ code: number; output: string }> {
  const root = await makeTempDir('sd-verify-');
  try {
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await cp('/usr/lib/systemd', join(root, 'usr/lib/systemd'), { recursive: true });
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    const targets: string[] = [];
    for (const file of unitFiles) {
      const text = await readFile(file, 'utf8');
      const target = `/etc/systemd/system/${basename(file)}`;
      await writeFile(join(root, target), text);
      targets.push(target);
      for (const m of text.matchAll(/^Exec\w+=[-@:+!]*(\/\S+)/gm)) {
        const exe = join(root, m[1]!);
        await mkdir(dirname(exe), { recursive: true });
        await writeFile(exe, '#!/bin/sh\n');
        await chmod(exe, 0o755);
      }
    }
    try {
      const { stdout, stderr } = await run('systemd-analyze', ['verify', `--root=${root}`, '--man=no', ...targets]);
      return { code: 0, output: (stdout + stderr).trim() };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
