/**
 * Publishing an artifact to the static host the devices download from (any web server with Range
 * support serving `publish_dir` at `base_url`): copied under its sha256, so a URL always names one
 * content, and described for desired state (kind and version from the artifact's provides).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { inspectArtifact } from '../../ota/artifact/index.js';
import type { ArtifactInfo } from '../../ota/artifact/index.js';
import type { ArtifactKind, ArtifactRef } from '../../telemetry/fleet/protocol/messages.js';

const KINDS: Record<string, { kind: ArtifactKind; versionKey: string }> = {
  'rootfs-image': { kind: 'os', versionKey: 'rootfs-image.version' },
  'rootfs-tryboot': { kind: 'os', versionKey: 'rootfs-image.version' },
  'sidewalk-model': { kind: 'model', versionKey: 'rootfs-image.sidewalk-model.version' },
  'sidewalk-app': { kind: 'app', versionKey: 'rootfs-image.sidewalk-app.version' },
};

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}

export async function describeArtifact(file: string, options: { allowUnsigned?: boolean } = {}): Promise<{ info: ArtifactInfo; kind: ArtifactKind; version: string }> {
  await stat(file).catch((err: Error) => {
    throw new SidewalkError('FLEET_ARTIFACT_UNREADABLE', `${file}: ${err.message}`);
  });
  // The host reads and checks the artifact's structure and checksums; signatures are the device's gate.
  const info = await inspectArtifact(file, { publicKeys: [], allowUnsigned: true });
  if (!info.signature && !options.allowUnsigned) {
    throw new SidewalkError('FLEET_ARTIFACT_UNSIGNED', `${file}: artifact ${info.name} is not signed; devices refuse it (pass --allow-unsigned only to test that)`);
  }
  const k = KINDS[info.payloadType];
  if (!k) throw new SidewalkError('FLEET_ARTIFACT_TYPE', `${file}: payload type ${JSON.stringify(info.payloadType)} is not deployable (rootfs-image, sidewalk-model, sidewalk-app)`);
  const version = info.provides[k.versionKey];
  if (!version) throw new SidewalkError('FLEET_ARTIFACT_NO_VERSION', `${file}: artifact ${info.name} does not provide ${k.versionKey}`);
  return { info, kind: k.kind, version };
}

export async function publishArtifact(file: string, publishDir: string, baseUrl: string, options: { allowUnsigned?: boolean } = {}): Promise<ArtifactRef> {
  const { info, kind, version } = await describeArtifact(file, options);
  const sha256 = await sha256Of(file);
  const size = (await stat(file)).size;
  const name = basename(file).replace(/[^A-Za-z0-9._-]/g, '_');
  const dir = join(publishDir, sha256);
  await mkdir(dir, { recursive: true });
  const dest = join(dir, name);
  if (!(await stat(dest).catch(() => null))) {
    await copyFile(file, `${dest}.tmp`);
    await rename(`${dest}.tmp`, dest);
  }
  return { kind, name: info.name, version, url: `${baseUrl.replace(/\/+$/, '')}/${sha256}/${encodeURIComponent(name)}`, size, sha256 };
}
