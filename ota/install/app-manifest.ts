/**
 * Checks a staged app bundle against its bundle-manifest.json (the arm64 bundle's manifest, see
 * build/README.md): every listed file present with its size, mode and sha256, nothing unlisted,
 * and the app version the artifact declares. A host-arch app tarball has no manifest: nothing to check.
 * Runs before the staged version is moved into place, so a refused bundle is never switched to.
 */
import { SidewalkError } from '../../lib/errors.js';
import { readIfExists, type OtaFs } from '../fs.js';
import type { StagedFile } from './store.js';
import { join } from 'node:path';

/** The same names as build/bundle/manifest.ts (not imported: build/ is not on the scooter). */
export const APP_MANIFEST_NAME = 'bundle-manifest.json';
const APP_MANIFEST_FORMAT = 'sidewalk-app-bundle/1';

const fail = (message: string) => new SidewalkError('OTA_APP_MANIFEST', `${APP_MANIFEST_NAME}: ${message}`);

/** Returns true when a manifest was found and matched; throws OTA_APP_MANIFEST when it does not match. */
export async function checkAppManifest(fs: OtaFs, stagingDir: string, staged: ReadonlyMap<string, StagedFile>, declaredVersion: string | null): Promise<boolean> {
  const bytes = await readIfExists(fs, join(stagingDir, APP_MANIFEST_NAME));
  if (!bytes) return false;
  let manifest: { format?: unknown; app?: { version?: unknown }; files?: unknown };
  try {
    manifest = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw fail((err as Error).message);
  }
  if (manifest.format !== APP_MANIFEST_FORMAT) throw fail(`format is ${JSON.stringify(manifest.format)}, expected ${APP_MANIFEST_FORMAT}`);
  if (!Array.isArray(manifest.files)) throw fail('files must be a list');
  if (declaredVersion !== null && manifest.app?.version !== declaredVersion) {
    throw fail(`app.version is ${JSON.stringify(manifest.app?.version)}, the artifact declares ${declaredVersion}`);
  }
  const listed = new Set<string>();
  (manifest.files as unknown[]).forEach((entry, i) => {
    const f = entry as { path?: unknown; size?: unknown; mode?: unknown; sha256?: unknown };
    if (typeof f?.path !== 'string') throw fail(`files[${i}].path must be a string`);
    const got = staged.get(f.path);
    if (!got) throw fail(`files[${i}] ${f.path} is not in the payload`);
    if (f.sha256 !== got.sha256) throw fail(`files[${i}] ${f.path}: sha256 ${String(f.sha256)}, the installed file's is ${got.sha256}`);
    if (f.size !== got.bytes) throw fail(`files[${i}] ${f.path}: size ${String(f.size)}, the installed file has ${got.bytes}`);
    const mode = got.mode.toString(8).padStart(4, '0');
    if (f.mode !== mode) throw fail(`files[${i}] ${f.path}: mode ${String(f.mode)}, the installed file's is ${mode}`);
    listed.add(f.path);
  });
  for (const path of staged.keys()) {
    if (path !== APP_MANIFEST_NAME && !listed.has(path)) throw fail(`${path} is in the payload but not listed`);
  }
  return true;
}
