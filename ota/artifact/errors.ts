/**
 * Stable error codes of the artifact reader/verifier. Consumers (installer, fleet reports, tests)
 * key on these codes; messages name the member, field or byte offset at fault. `ArtifactErrorCodes`
 * are the short names the reader's modules throw with (E.TRUNCATED); ARTIFACT_ERRORS says what each means.
 */
import type { ErrorCatalogue } from '../../lib/errors.js';

export const ArtifactErrorCodes = {
  TRUNCATED: 'ARTIFACT_TRUNCATED',
  TAR_INVALID: 'ARTIFACT_TAR_INVALID',
  BAD_MEMBER_ORDER: 'ARTIFACT_BAD_MEMBER_ORDER',
  UNEXPECTED_MEMBER: 'ARTIFACT_UNEXPECTED_MEMBER',
  BAD_VERSION: 'ARTIFACT_BAD_VERSION',
  MANIFEST_INVALID: 'ARTIFACT_MANIFEST_INVALID',
  MANIFEST_CHECKSUM: 'ARTIFACT_MANIFEST_CHECKSUM',
  SIGNATURE_INVALID: 'ARTIFACT_SIGNATURE_INVALID',
  NO_VERIFY_KEY: 'ARTIFACT_NO_VERIFY_KEY',
  KEY_INVALID: 'ARTIFACT_KEY_INVALID',
  KEY_PRIVATE: 'ARTIFACT_KEY_PRIVATE',
  UNSIGNED: 'ARTIFACT_UNSIGNED',
  DEVICE_TYPE: 'ARTIFACT_DEVICE_TYPE',
  DEPENDS_UNMET: 'ARTIFACT_DEPENDS_UNMET',
  PAYLOAD_CHECKSUM: 'ARTIFACT_PAYLOAD_CHECKSUM',
  HEADER_INVALID: 'ARTIFACT_HEADER_INVALID',
  UNSUPPORTED_COMPRESSION: 'ARTIFACT_UNSUPPORTED_COMPRESSION',
  COMPRESSION_INVALID: 'ARTIFACT_COMPRESSION_INVALID',
  UNSUPPORTED: 'ARTIFACT_UNSUPPORTED',
  TOO_LARGE: 'ARTIFACT_TOO_LARGE',
  READ_FAILED: 'ARTIFACT_READ_FAILED',
  CLOSED: 'ARTIFACT_CLOSED',
} as const;

export type ArtifactErrorCode = (typeof ArtifactErrorCodes)[keyof typeof ArtifactErrorCodes];

const REBUILD = 'Rebuild the artifact with `sidewalk artifact` (or mender-artifact) and download it again.';

export const ARTIFACT_ERRORS = {
  ARTIFACT_TRUNCATED: {
    summary: 'The artifact file ends inside a tar header or member body (an interrupted download or copy).',
    action: 'Download or copy the artifact again; compare its size with the original.',
  },
  ARTIFACT_TAR_INVALID: {
    summary: 'A tar header of the artifact is damaged (bad header checksum, bad size field, bad PAX record).',
    action: REBUILD,
  },
  ARTIFACT_BAD_MEMBER_ORDER: {
    summary: 'The outer members are not in the order version, manifest, manifest.sig, header.tar*, data/0000.tar*.',
    action: REBUILD,
  },
  ARTIFACT_UNEXPECTED_MEMBER: {
    summary: 'A member (outer, header or data) that the Mender format does not allow, or a duplicate.',
    action: REBUILD,
  },
  ARTIFACT_BAD_VERSION: {
    summary: 'The `version` member is not {"format":"mender","version":3}; only Mender artifact format 3 is read.',
    action: 'Build the artifact in format 3 (the default of mender-artifact 3 and `sidewalk artifact`).',
  },
  ARTIFACT_MANIFEST_INVALID: {
    summary: 'The `manifest` member is malformed (line syntax, duplicate entries, unknown names).',
    action: REBUILD,
  },
  ARTIFACT_MANIFEST_CHECKSUM: {
    summary: "A member's sha256 differs from the manifest, or a manifest entry was never seen: the artifact was altered or damaged.",
    action: 'Download the artifact again; if it persists, rebuild and re-sign it.',
  },
  ARTIFACT_SIGNATURE_INVALID: {
    summary: '`manifest.sig` does not verify with any of the configured public keys.',
    action: "Sign with the private key whose public key is in the device's OTA config (verify_keys), or add that public key.",
  },
  ARTIFACT_NO_VERIFY_KEY: {
    summary: 'The artifact is signed but no verification key is configured.',
    action: 'Set verify_keys in the OTA config (the public key of the signing key).',
  },
  ARTIFACT_KEY_INVALID: {
    summary: 'A public key given to verify with cannot be parsed, or is of an unsupported kind.',
    action: 'Give a PEM public key, ECDSA P-256 or RSA (`sidewalk artifact keygen` makes a pair).',
  },
  ARTIFACT_KEY_PRIVATE: {
    summary: 'A key given to verify with is a private key; the signing key must never be on a device.',
    action: 'Configure the public half (the .pub file) and remove the private key from the device.',
  },
  ARTIFACT_UNSIGNED: {
    summary: 'The artifact has no `manifest.sig` and the policy does not allow unsigned artifacts.',
    action: 'Sign the artifact (`sidewalk artifact <kind> --key`); unsigned artifacts are for test devices only.',
  },
  ARTIFACT_DEVICE_TYPE: {
    summary: "The device's type is not in the artifact's artifact_depends.device_type.",
    action: 'Build the artifact for this device type (see the device type in the OTA config).',
  },
  ARTIFACT_DEPENDS_UNMET: {
    summary: "The artifact's depends (header-info or type-info) are not satisfied by what the device provides.",
    action: 'Install the artifact it depends on first, or build one for the version the device has (`sidewalk ota status`).',
  },
  ARTIFACT_PAYLOAD_CHECKSUM: {
    summary: "A payload file's sha256 differs from the manifest: the payload was altered or damaged.",
    action: 'Download the artifact again; if it persists, rebuild it.',
  },
  ARTIFACT_HEADER_INVALID: {
    summary: 'header-info, type-info or meta-data is not the JSON the format requires.',
    action: REBUILD,
  },
  ARTIFACT_UNSUPPORTED_COMPRESSION: {
    summary: 'A member uses zstd or an unknown suffix; the reader supports none, gzip and xz.',
    action: 'Build the artifact with gzip, lzma (xz) or no compression.',
  },
  ARTIFACT_COMPRESSION_INVALID: {
    summary: 'A compressed member does not decompress (bad gzip/xz data, CRC error).',
    action: 'Download the artifact again; if it persists, rebuild it.',
  },
  ARTIFACT_UNSUPPORTED: {
    summary: 'A recognised but unsupported feature: augmented artifacts, more than one payload.',
    action: 'Build a plain artifact with one payload.',
  },
  ARTIFACT_TOO_LARGE: {
    summary: "A member or header file exceeds the reader's memory bound.",
    action: 'Keep headers and metadata small; large content belongs in the payload.',
  },
  ARTIFACT_READ_FAILED: {
    summary: "Reading the artifact's source failed (an I/O or network error), not its content.",
    action: 'Check the file or the server and try again.',
  },
  ARTIFACT_CLOSED: {
    summary: 'The artifact was closed or the read aborted while it was being read.',
    action: 'Nothing to repair: the operation was cancelled; run it again.',
  },
} as const satisfies Record<ArtifactErrorCode, { summary: string; action: string }> & ErrorCatalogue;
