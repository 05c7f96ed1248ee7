/**
 * `sidewalk fleet deploy --model LA@production`: the registry's model (by stage or version) written out
 * as a bundle and built into a signed sidewalk-model artifact by build/ (mender-artifact), ready to publish.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModelArtifact } from '../../build/artifact-model.js';
import { SidewalkError } from '../../lib/errors.js';
import { Registry } from '../registry/registry.js';

export interface ModelBuildOptions {
  registryDir: string;
  signingKey: string | null;
  deviceTypes: string[];
  /** Where the bundle and the artifact are built (a temporary folder is made inside). */
  workDir: string;
}

/** `LOCATION@production`, `LOCATION@canary` or `LOCATION@VERSION` -> the path of a signed artifact. */
export async function artifactForModel(ref: string, o: ModelBuildOptions): Promise<{ file: string; location: string; cleanup(): Promise<void> }> {
  const m = /^([^@\s]+)@([^@\s]+)$/.exec(ref);
  if (!m) throw new SidewalkError('FLEET_MODEL_REF', `--model ${ref}: expected LOCATION@production, LOCATION@canary or LOCATION@VERSION`);
  const [, location, which] = m as unknown as [string, string, string];
  if (!o.signingKey) throw new SidewalkError('FLEET_NO_SIGNING_KEY', 'fleet config build.signing_key is not set: models are deployed only as signed artifacts');
  const registry = Registry.open(o.registryDir, { create: false });
  try {
    const model = which === 'production' || which === 'canary' ? registry.current(location, which) : registry.get(location, which);
    if (!model) throw new SidewalkError('FLEET_MODEL_UNKNOWN', `${location} has no ${which} model in ${o.registryDir} (see sidewalk models list)`);
    const dir = await mkdtemp(join(o.workDir, `model-${model.location}-${model.version}-`));
    await registry.materialize(model, join(dir, 'bundle'));
    const file = join(dir, `sidewalk-model-${model.location}-${model.version}.mender`);
    await buildModelArtifact({ bundleDir: join(dir, 'bundle'), deviceTypes: o.deviceTypes, output: file, privateKeyPath: o.signingKey });
    return { file, location: model.location, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } finally {
    registry.close();
  }
}
