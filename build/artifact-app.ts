import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { REPO_ROOT } from '../lib/paths.js';
import { runProcess } from '../lib/run-process.js';
import type { ArtifactInfo } from '../ota/artifact/index.js';
import { APP_VERSION_KEY } from '../ota/artifact/index.js';
import { writeArtifact, type CliCompression } from './mender-artifact-cli.js';

/**
 * `sidewalk artifact app` and `sidewalk artifact rootfs`.
 * App: module-image `sidewalk-app`, payload = one reproducible tarball of the built runtime
 * (dist/ without tests and benchmarks, package.json, package-lock.json); provides
 * rootfs-image.sidewalk-app.version = package.json version.
 * Rootfs: `rootfs-image` (default), or module-image `rootfs-tryboot` that still provides the standard
 * rootfs-image.version key (reference ota.md §1.8, last row), with a correct type-info type.
 */
export const APP_PAYLOAD_TYPE = 'sidewalk-app';
const TRYBOOT_PAYLOAD_TYPE = 'rootfs-tryboot';

export interface Common {
  deviceTypes: string[];
  output: string;
  privateKeyPath?: string;
  compression?: CliCompression;
}

function optional(o: Common): { privateKeyPath?: string; compression?: CliCompression } {
  return { ...(o.privateKeyPath ? { privateKeyPath: o.privateKeyPath } : {}), ...(o.compression ? { compression: o.compression } : {}) };
}

/** The signed `sidewalk-app` artifact of one app tarball (the host build's, or the arm64 bundle's). */
export function writeAppArtifact(tarball: string, version: string, o: Common): Promise<ArtifactInfo> {
  return writeArtifact({
    kind: 'module-image',
    type: APP_PAYLOAD_TYPE,
    name: `${APP_PAYLOAD_TYPE}-${version}`,
    deviceTypes: o.deviceTypes,
    output: o.output,
    files: [tarball],
    softwareName: APP_PAYLOAD_TYPE,
    softwareVersion: version,
    ...optional(o),
  });
}

export async function buildAppArtifact(o: Common & { repoRoot?: string }): Promise<ArtifactInfo> {
  const root = o.repoRoot ?? REPO_ROOT;
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: string };
  if (typeof version !== 'string' || version === '') throw new SidewalkError('BUILD_APP_INVALID', `${root}/package.json: no version`);
  for (const need of ['dist/bin/sidewalk.js', 'package.json', 'package-lock.json']) {
    if (!(await stat(join(root, need)).catch(() => null))) {
      throw new SidewalkError('BUILD_APP_INVALID', `${join(root, need)} is missing (run \`npm run build\` first)`);
    }
  }
  const tmp = await mkdtemp(join(tmpdir(), 'sidewalk-app-'));
  try {
    const tarball = join(tmp, `${APP_PAYLOAD_TYPE}-${version}.tar.gz`);
    await runProcess(
      'tar',
      [
        '--sort=name',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--mtime=@0',
        '--exclude=dist/test',
        '--exclude=dist/bench',
        '--exclude=*.map',
        '-czf',
        tarball,
        'dist',
        'package.json',
        'package-lock.json',
      ],
      { cwd: root, check: true, errorCode: 'BUILD_TAR_FAILED', installPackage: 'tar' },
    );
    return await writeAppArtifact(tarball, version, o);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
// The provides key above must be the one the reader compares min_app_version against.
void (APP_VERSION_KEY satisfies `rootfs-image.${typeof APP_PAYLOAD_TYPE}.version`);

export async function buildRootfsArtifact(o: Common & { image: string; name: string; softwareVersion?: string; tryboot?: boolean }): Promise<ArtifactInfo> {
  const version = o.softwareVersion ?? o.name;
  if (o.tryboot) {
    return writeArtifact({
      kind: 'module-image',
      type: TRYBOOT_PAYLOAD_TYPE,
      name: o.name,
      deviceTypes: o.deviceTypes,
      output: o.output,
      files: [o.image],
      noDefaultSoftwareVersion: true,
      noDefaultClearsProvides: true,
      provides: { 'rootfs-image.version': version },
      clearsProvides: ['rootfs-image.*'],
      ...optional(o),
    });
  }
  return writeArtifact({
    kind: 'rootfs-image',
    name: o.name,
    deviceTypes: o.deviceTypes,
    output: o.output,
    files: [o.image],
    softwareVersion: version,
    ...optional(o),
  });
}
