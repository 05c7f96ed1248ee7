import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArtifactInfo } from '../../ota/artifact/index.js';
import { APP_PAYLOAD_TYPE, writeAppArtifact, type Common } from '../artifact-app.js';
import { buildAppBundle, type BundleOptions } from './index.js';
import { packBundle, verifyBundle } from './manifest.js';

/**
 * `sidewalk artifact app --arm64` / `--bundle DIR`: the signed sidewalk-app artifact whose payload is
 * the arm64 bundle's reproducible tarball (the same tree the image installs as /opt/sidewalk).
 * A given bundle folder is first checked against its manifest, so what is signed is what was built.
 */
export interface BundleArtifactOptions extends Common {
  /** An already built bundle; without it one is built from the repository. */
  bundleDir?: string;
  build?: Omit<BundleOptions, 'out'>;
}

export async function buildBundleArtifact(o: BundleArtifactOptions): Promise<ArtifactInfo> {
  const tmp = await mkdtemp(join(tmpdir(), 'sidewalk-bundle-artifact-'));
  try {
    const dir = o.bundleDir ?? (await buildAppBundle({ ...o.build, out: join(tmp, 'bundle') })).dir;
    const manifest = await verifyBundle(dir);
    const { version } = manifest.app;
    const tarball = join(tmp, `${APP_PAYLOAD_TYPE}-${version}-${manifest.arch}.tar.gz`);
    await packBundle(dir, tarball, manifest.epoch);
    return await writeAppArtifact(tarball, version, o);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
