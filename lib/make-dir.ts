/**
 * Creates a folder and its missing parents, one level at a time. Node 20's
 * `mkdir(dir, { recursive: true })` never returns for a path under /proc (it retries ENOENT forever,
 * spinning a thread), so folders the project creates for its output go through here instead.
 * Errors are Node's own (ENOENT, ENOTDIR, EACCES, ...); callers wrap them in their coded error.
 */
import { mkdir, mkdtemp, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export async function makeDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    const info = await stat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (info) {
      if (!info.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${resolve(dir)}' (${at} is a file)`), { code: 'ENOTDIR' });
      break;
    }
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/**
 * Checks that `dir` could be created (or written, when it exists) without creating it: a scratch
 * folder is made and removed in its nearest existing ancestor. Throws Node's error when not.
 */
export async function probeWritableDir(dir: string): Promise<void> {
  let at = resolve(dir);
  for (;;) {
    const info = await stat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && dirname(at) !== at) return null;
      throw err;
    });
    if (info) {
      if (!info.isDirectory()) throw Object.assign(new Error(`ENOTDIR: ${at} is a file, not a folder`), { code: 'ENOTDIR' });
      break;
    }
    at = dirname(at);
  }
  await rmdir(await mkdtemp(join(at, '.sidewalk-check-')));
}
