import { SidewalkError } from '../../lib/errors.js';
import { meetsMinimum } from '../../lib/versions.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { ArtifactInfo, ArtifactPolicy } from './types.js';

/** Key our app artifacts provide (build/artifact-app.ts); model artifacts' meta-data min_app_version is compared to it. */
export const APP_VERSION_KEY = 'rootfs-image.sidewalk-app.version';

/**
 * Device checks, after the (verified) header is parsed and before any payload byte is used.
 * Mender semantics: every depends key must be provided by the device with one of the listed values.
 */
export function checkPolicy(info: ArtifactInfo, policy: ArtifactPolicy): void {
  if (policy.deviceType !== undefined && !info.deviceTypes.includes(policy.deviceType)) {
    throw new SidewalkError(E.DEVICE_TYPE, `header-info artifact_depends.device_type ${JSON.stringify(info.deviceTypes)} does not include this device's type ${JSON.stringify(policy.deviceType)}`);
  }
  const have = policy.deviceProvides;
  if (have === undefined) return;
  for (const [key, want] of Object.entries(info.depends)) {
    const wanted = Array.isArray(want) ? want : [want];
    const value = have[key];
    if (value === undefined || !wanted.includes(value)) {
      throw new SidewalkError(E.DEPENDS_UNMET, `artifact_depends.${key} needs one of ${JSON.stringify(wanted)}, device provides ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
    }
  }
  // Mender depends are exact matches; a minimum app version travels in meta-data (build/artifact-model.ts).
  const min = info.metaData.min_app_version;
  if (typeof min === 'string' && have[APP_VERSION_KEY] !== undefined && !meetsMinimum(have[APP_VERSION_KEY], min)) {
    throw new SidewalkError(E.DEPENDS_UNMET, `meta-data min_app_version ${min} is newer than the device's ${APP_VERSION_KEY} ${have[APP_VERSION_KEY]}`);
  }
}
