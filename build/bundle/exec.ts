import { spawn } from 'node:child_process';
import { type ErrorCode, SidewalkError } from '../../lib/errors.js';

/** The Debian package that provides each external tool the bundle build runs. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu',
  'aarch64-linux-gnu-g++': 'g++-aarch64-linux-gnu',
  'qemu-aarch64-static': 'qemu-user-static',
  tar: 'tar',
  gzip: 'gzip',
  npm: 'npm',
};

interface RunOptions {
  cwd?: string;
  /** Error code for a non-zero exit. */
  code: ErrorCode;
  hint?: string;
}

/** Runs a tool to completion; a missing tool or a failure becomes a SidewalkError naming what to do. */
export async function run(cmd: string, args: string[], o: RunOptions): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', (err: NodeJS.ErrnoException) => {
      const pkg = TOOL_PACKAGES[cmd];
      reject(
        err.code === 'ENOENT'
          ? new SidewalkError('BUILD_TOOL_MISSING', `${cmd} not found${pkg ? `: install it (Debian: apt-get install ${pkg})` : ''}`)
          : err,
      );
    });
    child.on('close', (status) => {
      if (status === 0) return resolve();
      const tail = stderr.trim().split('\n').slice(-5).join(' | ');
      reject(new SidewalkError(o.code, `${cmd} ${args.slice(0, 3).join(' ')} ...: exit ${status}${o.hint ? ` (${o.hint})` : ''}: ${tail}`));
    });
  });
}
