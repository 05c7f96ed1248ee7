/**
 * The host tools an image build runs, each with the Debian package that provides it, so a missing one
 * is reported as "install X" instead of a spawn error. Commands run with their output captured; a failure
 * names the command and ends with its last lines of stderr.
 */
import { spawnSync } from 'node:child_process';
import { SidewalkError } from '../lib/errors.js';
import { runProcess } from '../lib/run-process.js';

export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  genimage: 'genimage',
  fakeroot: 'fakeroot',
  'mkfs.fat': 'dosfstools',
  'fsck.fat': 'dosfstools',
  mcopy: 'mtools',
  mtype: 'mtools',
  mdir: 'mtools',
  mke2fs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  sfdisk: 'fdisk',
  tar: 'tar',
  mmdebstrap: 'mmdebstrap',
  newuidmap: 'uidmap',
};

const HEARTBEAT_MS = 15_000;
const PATH_EXTRA = ['/usr/sbin', '/sbin'];

/** PATH with the sbin folders, where mke2fs, debugfs and sfdisk live but a normal user's PATH may not look. */
export function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const parts = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const p of PATH_EXTRA) if (!parts.includes(p)) parts.push(p);
  return { ...process.env, PATH: parts.join(':'), MTOOLS_SKIP_CHECK: '1', ...extra };
}

export function requireTools(names: readonly string[]): void {
  const env = toolEnv();
  const missing = names.filter((n) => spawnSync('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', n], { env }).status !== 0);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((n) => TOOL_PACKAGES[n] ?? n))];
    throw new SidewalkError('IMAGE_TOOL_MISSING', `${missing.join(', ')} not found: install the Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')})`);
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with IMAGE_COMMAND_FAILED naming it and its stderr tail. */
export async function runTool(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; heartbeat?: (seconds: number) => void } = {},
): Promise<RunResult> {
  const started = Date.now();
  // Long steps (mke2fs of a full root, mmdebstrap) say they are still working.
  const ticker = options.heartbeat ? setInterval(() => options.heartbeat!(Math.round((Date.now() - started) / 1000)), HEARTBEAT_MS) : null;
  try {
    const { stdout, stderr } = await runProcess(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? toolEnv(),
      input: options.input,
      check: true,
      errorCode: 'IMAGE_COMMAND_FAILED',
      missingCode: 'IMAGE_TOOL_MISSING',
      installPackage: TOOL_PACKAGES[cmd] ?? cmd,
    });
    return { stdout, stderr };
  } finally {
    if (ticker) clearInterval(ticker);
  }
}
