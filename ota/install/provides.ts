/**
 * The device's provides (artifact_name, rootfs-image.version, rootfs-image.sidewalk-app.version, ...)
 * on the data partition, replaced atomically on commit. `clears_artifact_provides` patterns (`*` = any
 * run of characters) erase matching keys unless the new artifact provides that key (Mender spec).
 */
import { SidewalkError } from '../../lib/errors.js';
import { readIfExists, replaceFile, type OtaFs } from '../fs.js';

export interface ProvidesFile {
  current: Record<string, string>;
  /** What `current` was before the last commit (for a manual rollback). */
  previous: Record<string, string> | null;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** `protect`: patterns of keys that no clear may erase (what lives outside the replaced payload). */
export function applyProvides(current: Record<string, string>, provides: Record<string, string>, clears: string[], protect: string[] = []): Record<string, string> {
  const patterns = clears.map(globToRegExp);
  const kept = protect.map(globToRegExp);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(current)) {
    if (!(k in provides) && patterns.some((p) => p.test(k)) && !kept.some((p) => p.test(k))) continue;
    out[k] = v;
  }
  return { ...out, ...provides };
}

const sameRecord = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** `factory`: what a device that never committed an update provides (from the image, via the OTA config). */
export async function readProvides(fs: OtaFs, path: string, factory: Record<string, string> = {}): Promise<ProvidesFile> {
  const bytes = await readIfExists(fs, path);
  if (!bytes) return { current: { ...factory }, previous: null };
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as ProvidesFile;
    if (typeof parsed.current !== 'object' || parsed.current === null) throw new Error('"current" must be an object');
    return { current: parsed.current, previous: parsed.previous ?? null };
  } catch (err) {
    throw new SidewalkError('OTA_PROVIDES_INVALID', `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Idempotent: a resumed commit that already applied these provides writes nothing. */
export async function commitProvides(
  fs: OtaFs,
  path: string,
  provides: Record<string, string>,
  clears: string[],
  options: { factory?: Record<string, string>; protect?: string[] } = {},
): Promise<ProvidesFile> {
  const file = await readProvides(fs, path, options.factory);
  const next = applyProvides(file.current, provides, clears, options.protect);
  if (sameRecord(next, file.current)) return file;
  const updated: ProvidesFile = { current: next, previous: file.current };
  await replaceFile(fs, path, `${JSON.stringify(updated, null, 2)}\n`);
  return updated;
}
