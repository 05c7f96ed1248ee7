export { REPO_ROOT, DIST_ROOT } from '../../lib/paths.js';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../../lib/paths.js';

/** ../shared beside the repository (read-only reference data: real video, real Mender artifacts). */
export const SHARED_ROOT = resolve(REPO_ROOT, '..', 'shared');
