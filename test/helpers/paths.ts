export { REPO_ROOT, DIST_ROOT } from '../../lib/paths.js';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../../lib/paths.js';

/** Test data committed with the repository (provenance and licences in each folder's README.md). */
export const FIXTURES = resolve(REPO_ROOT, 'test', 'fixtures');
/** A real dashcam clip (MIT, test/fixtures/video/README.md). */
export const DASHCAM_VIDEO = resolve(FIXTURES, 'video', 'dashcam-solidWhiteRight.mp4');
/** Real Mender artifacts from public repositories (Apache-2.0, test/fixtures/mender-real/README.md). */
export const MENDER_REAL_DIR = resolve(FIXTURES, 'mender-real');
/** The device Prometheus agent's config template in the repository (the image ships a copy; device code reads that one). */
export const AGENT_TEMPLATE_PATH = resolve(REPO_ROOT, 'telemetry', 'prometheus', 'agent.yml.tmpl');
