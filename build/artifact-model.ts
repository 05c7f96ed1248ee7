import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { MANIFEST_FILE, loadModelBundle, parseManifest } from '../runtime/inference/bundle.js';
import type { ModelManifest } from '../runtime/inference/manifest-types.js';
import { writeArtifact, type CliCompression } from './mender-artifact-cli.js';
import type { ArtifactInfo } from '../ota/artifact/index.js';

/**
 * `sidewalk artifact model BUNDLE`: a module-image of type `sidewalk-model` whose payload is the bundle's
 * files (manifest.json plus every file the manifest lists). Provides rootfs-image.sidewalk-model.version
 * (and .name/.location, cleared together by the default rootfs-image.sidewalk-model.* clears).
 * Mender depends are exact matches, so the manifest's min_app_version travels in meta-data and the
 * reader compares it with the device's rootfs-image.sidewalk-app.version (ota/artifact/policy.ts).
 */
export const MODEL_PAYLOAD_TYPE = 'sidewalk-model';

export interface ModelArtifactOptions {
  bundleDir: string;
  deviceTypes: string[];
  output: string;
  privateKeyPath?: string;
  compression?: CliCompression;
  /** Demo models (manifest demo_only) are refused unless this is set. */
  allowDemo?: boolean;
}

/**
 * Verifies the bundle with the runtime's own loader (schema, label groups, every file's sha256 and
 * size, TFLite runtime compatibility, tensors vs manifest), so the fleet only receives bundles the
 * device would load. min_app_version is checked on the device, not against the host's app version.
 */
export async function readBundleManifest(bundleDir: string): Promise<ModelManifest> {
  const path = join(bundleDir, MANIFEST_FILE);
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new SidewalkError('BUILD_BUNDLE_INVALID', `${path}: ${err.message}`, { cause: err });
  });
  const declared = parseManifest(bytes, path);
  const { manifest: m } = await loadModelBundle(bundleDir, { appVersion: declared.min_app_version ?? '0.0.0' });
  for (const f of ['name', 'version', 'location'] as const) {
    // These become artifact names and provides values: "key:value" on the mender-artifact command line.
    if (/[\s:]/.test(m[f])) throw new SidewalkError('BUILD_BUNDLE_INVALID', `${path}: ${f} ${JSON.stringify(m[f])} must not contain spaces or ':'`);
  }
  for (const name of Object.keys(m.files)) {
    if (name !== basename(name) || name === MANIFEST_FILE) throw new SidewalkError('BUILD_BUNDLE_INVALID', `${path}: files.${name}: must be a plain file name`);
  }
  return m;
}

export async function buildModelArtifact(o: ModelArtifactOptions): Promise<ArtifactInfo> {
  const m = await readBundleManifest(o.bundleDir);
  if (m.demo_only && !o.allowDemo) {
    throw new SidewalkError('BUILD_DEMO_MODEL', `${o.bundleDir}: model ${m.name} ${m.version} is demo_only and must not be deployed (use --allow-demo for test fleets)`);
  }
  const metaData: Record<string, unknown> = { model_name: m.name, model_version: m.version, location: m.location };
  if (m.min_app_version) metaData.min_app_version = m.min_app_version;
  if (m.demo_only) metaData.demo_only = true;
  return writeArtifact({
    kind: 'module-image',
    type: MODEL_PAYLOAD_TYPE,
    name: `${MODEL_PAYLOAD_TYPE}-${m.name}-${m.version}`,
    deviceTypes: o.deviceTypes,
    output: o.output,
    files: [
      join(o.bundleDir, MANIFEST_FILE),
      ...Object.keys(m.files)
        .sort()
        .map((f) => join(o.bundleDir, f)),
    ],
    softwareName: MODEL_PAYLOAD_TYPE,
    softwareVersion: m.version,
    provides: { [`rootfs-image.${MODEL_PAYLOAD_TYPE}.name`]: m.name, [`rootfs-image.${MODEL_PAYLOAD_TYPE}.location`]: m.location },
    metaData,
    ...(o.compression ? { compression: o.compression } : {}),
    ...(o.privateKeyPath ? { privateKeyPath: o.privateKeyPath } : {}),
  });
}
