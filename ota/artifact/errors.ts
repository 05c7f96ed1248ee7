/**
 * Stable error codes of the artifact reader/verifier. Consumers (installer, fleet reports, tests)
 * key on these codes; messages name the member, field or byte offset at fault.
 */
export const ArtifactErrorCodes = {
  /** The file ended inside a tar header or member body. */
  TRUNCATED: 'ARTIFACT_TRUNCATED',
  /** A tar header is damaged (bad header checksum, bad size field, bad PAX record). */
  TAR_INVALID: 'ARTIFACT_TAR_INVALID',
  /** Outer members are not in the order version, manifest, manifest.sig?, header.tar*, data/0000.tar*. */
  BAD_MEMBER_ORDER: 'ARTIFACT_BAD_MEMBER_ORDER',
  /** A member (outer, header or data) that the format does not allow, or a duplicate. */
  UNEXPECTED_MEMBER: 'ARTIFACT_UNEXPECTED_MEMBER',
  /** `version` is not {"format":"mender","version":3}. */
  BAD_VERSION: 'ARTIFACT_BAD_VERSION',
  /** `manifest` is malformed (line syntax, duplicate entries, unknown names). */
  MANIFEST_INVALID: 'ARTIFACT_MANIFEST_INVALID',
  /** A member's sha256 differs from the manifest, or a manifest entry was never seen. */
  MANIFEST_CHECKSUM: 'ARTIFACT_MANIFEST_CHECKSUM',
  /** `manifest.sig` does not verify with any of the configured keys. */
  SIGNATURE_INVALID: 'ARTIFACT_SIGNATURE_INVALID',
  /** The artifact is signed but no verification key was configured. */
  NO_VERIFY_KEY: 'ARTIFACT_NO_VERIFY_KEY',
  /** A configured public key cannot be parsed or is of an unsupported kind. */
  KEY_INVALID: 'ARTIFACT_KEY_INVALID',
  /** A key given to verify with is a private key: the signing key must never be on a device. */
  KEY_PRIVATE: 'ARTIFACT_KEY_PRIVATE',
  /** No `manifest.sig` and the policy does not allow unsigned artifacts. */
  UNSIGNED: 'ARTIFACT_UNSIGNED',
  /** The device type is not in artifact_depends.device_type. */
  DEVICE_TYPE: 'ARTIFACT_DEVICE_TYPE',
  /** artifact_depends (header-info or type-info) not satisfied by the device's provides. */
  DEPENDS_UNMET: 'ARTIFACT_DEPENDS_UNMET',
  /** A payload file's sha256 differs from the manifest. */
  PAYLOAD_CHECKSUM: 'ARTIFACT_PAYLOAD_CHECKSUM',
  /** header-info / type-info / meta-data is not the JSON the format requires. */
  HEADER_INVALID: 'ARTIFACT_HEADER_INVALID',
  /** zstd, or an unknown member suffix. */
  UNSUPPORTED_COMPRESSION: 'ARTIFACT_UNSUPPORTED_COMPRESSION',
  /** A compressed member does not decompress (bad gzip/xz data, CRC error). */
  COMPRESSION_INVALID: 'ARTIFACT_COMPRESSION_INVALID',
  /** A recognised but unsupported feature: augmented artifacts, more than one payload. */
  UNSUPPORTED: 'ARTIFACT_UNSUPPORTED',
  /** A member or header file exceeds the reader's memory bound. */
  TOO_LARGE: 'ARTIFACT_TOO_LARGE',
  /** The source stream failed (I/O or network error), not the artifact's content. */
  READ_FAILED: 'ARTIFACT_READ_FAILED',
  /** The artifact was closed or aborted while reading. */
  CLOSED: 'ARTIFACT_CLOSED',
} as const;

export type ArtifactErrorCode = (typeof ArtifactErrorCodes)[keyof typeof ArtifactErrorCodes];
