import type { ErrorCode } from '../../lib/errors.js';
import { runProcess } from '../../lib/run-process.js';

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
  await runProcess(cmd, args, { cwd: o.cwd, check: true, errorCode: o.code, missingCode: 'BUILD_TOOL_MISSING', installPackage: TOOL_PACKAGES[cmd], failureHint: o.hint, maxOutputChars: 4000 });
}
