/** Mender Artifact v3 reader and verifier (see ota/artifact/reader.ts). */
export { openArtifact, openArtifactFile, inspectArtifact } from './reader.js';
export { ArtifactErrorCodes, type ArtifactErrorCode } from './errors.js';
export { APP_VERSION_KEY } from './policy.js';
export type { ArtifactInfo, ArtifactFile, ArtifactPayload, ArtifactPolicy, PayloadChunk, OpenedArtifact, SignatureScheme, ArtifactCompression } from './types.js';
