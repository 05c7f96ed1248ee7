/**
 * This app's version: package.json's `version`, read once when first asked. The CLI's --version, the
 * runtime's sidewalk_app_info metric and the model bundles' min_app_version check all use it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SidewalkError } from './errors.js';
import { REPO_ROOT } from './paths.js';

let cached: string | undefined;

export function appVersion(): string {
  if (cached === undefined) {
    const path = join(REPO_ROOT, 'package.json');
    const { version } = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
    if (typeof version !== 'string' || version === '') throw new SidewalkError('APP_VERSION_MISSING', `${path}: no "version" string`);
    cached = version;
  }
  return cached;
}
