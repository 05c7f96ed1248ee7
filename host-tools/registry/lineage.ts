/** Where a model came from: the code revision that trained it (git, when the tree is a checkout). */
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../../lib/paths.js';

/**
 * `git rev-parse HEAD` of the checkout, with "-dirty" when tracked files have uncommitted changes
 * (the revision alone would then not reproduce the model); null outside a git checkout.
 */
export function codeRevision(cwd = REPO_ROOT): string | null {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' });
  if (head.error || head.status !== 0) return null;
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
  const dirty = status.status === 0 && status.stdout.trim().length > 0;
  return `${head.stdout.trim()}${dirty ? '-dirty' : ''}`;
}
