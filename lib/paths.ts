import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (package) root: compiled files live in dist/<area>/..., sources in <area>/... */
function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/lib -> repo root; lib -> repo root
  return here.endsWith(`${'/'}dist${'/'}lib`) ? resolve(here, '..', '..') : resolve(here, '..');
}

export const REPO_ROOT = findRoot();
/** Compiled output root (dist/). */
export const DIST_ROOT = resolve(REPO_ROOT, 'dist');
