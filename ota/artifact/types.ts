import type { Readable } from 'node:stream';

export type SignatureScheme = 'rsa-pkcs1v15' | 'ecdsa-p256-raw' | 'ecdsa-p256-der';
export type ArtifactCompression = 'gzip' | 'xz' | 'none';

export interface ArtifactFile {
  name: string;
  /**
   * Bytes of the payload file. Always known from inspectArtifact(). From openArtifact() the size of
   * the first file is known on return; later files' sizes are -1 until payloads() reaches them
   * (a streamed tar reveals each size only in that file's own header).
   */
  size: number;
  sha256: string;
}

export interface ArtifactInfo {
  formatVersion: 3;
  /** artifact_provides.artifact_name from header-info. */
  name: string;
  /**
   * Payload type from header-info ("rootfs-image", "sidewalk-model", ...). Old writers put "type":""
   * in rootfs-image type-info; header-info's value is used then (as the Mender C++ client does).
   * '' for bootstrap artifacts (type null).
   */
  payloadType: string;
  deviceTypes: string[];
  /** header-info artifact_provides (artifact_name, artifact_group) merged with type-info artifact_provides. */
  provides: Record<string, string>;
  /** header-info artifact_depends (artifact_name, artifact_group; device_type is in deviceTypes) merged with type-info's. */
  depends: Record<string, string | string[]>;
  clearsProvides: string[];
  /** headers/0000/meta-data ({} when absent or empty). */
  metaData: Record<string, unknown>;
  /** Payload files in manifest order. */
  files: ArtifactFile[];
  signature: { scheme: SignatureScheme; verified: boolean } | null;
  compression: ArtifactCompression;
  /** State script names from header.tar scripts/ (e.g. "ArtifactInstall_Enter_00"); added, optional. */
  scripts?: string[];
}

/** Payload bytes lent by the reader: `data` stays untouched until release(), after which its buffer may be read into again. */
export interface PayloadChunk {
  data: Buffer;
  /** Hands the buffer back (idempotent). Call it once done with `data`, e.g. when its write has completed. */
  release(): void;
}

export interface ArtifactPayload {
  name: string;
  size: number;
  /** Errors with ARTIFACT_PAYLOAD_CHECKSUM at its end when the content does not match the manifest. */
  stream: Readable;
  /**
   * The same bytes as lent chunks, without a copy: from an artifact file with an uncompressed data
   * member they are read into a small pool of reused buffers, so each chunk must be released when
   * the caller is done with it (holding the whole pool stalls the next chunk). Ends with the same
   * ARTIFACT_PAYLOAD_CHECKSUM error. Consume either this or `stream`, not both.
   */
  chunks(): AsyncIterable<PayloadChunk>;
}

export interface OpenedArtifact {
  info: ArtifactInfo;
  /**
   * Payload files in order. Consuming a stream is optional: moving to the next payload drains (and
   * still verifies) the previous one. The iteration ends only after the whole artifact has been read
   * and checked (every manifest entry seen, nothing after the data member).
   */
  payloads(): AsyncIterable<ArtifactPayload>;
  close(): Promise<void>;
}

export interface ArtifactPolicy {
  /** PEM "PUBLIC KEY" (PKIX) keys; the signature must verify with one of them. */
  publicKeys: string[];
  /** Where each key came from (file names), for error messages. */
  publicKeyNames?: string[];
  /** Accept artifacts without manifest.sig (and, with no keys, signed ones unverified). */
  allowUnsigned?: boolean;
  deviceType?: string;
  /** The device's current provides (artifact_name, artifact_group, rootfs-image.version, ...). */
  deviceProvides?: Record<string, string>;
}
