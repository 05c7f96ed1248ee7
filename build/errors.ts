/**
 * Error codes of the build tools: `sidewalk artifact ...` (writing and signing Mender artifacts, the
 * arm64 app bundle, signing keys). Reading and verifying artifacts uses ota/artifact/errors.ts.
 */
import type { ErrorCatalogue } from '../lib/errors.js';

const REBUILD_BUNDLE = 'Rebuild the bundle with `sidewalk artifact bundle` (after `npm run build`).';

export const BUILD_ERRORS = {
  BUILD_INVALID_OPTION: { summary: 'An option of a build command is invalid (the message names it), e.g. SOURCE_DATE_EPOCH or --type.', action: "See the command's --help." },
  BUILD_TOOL_MISSING: { summary: 'A program the build needs is not installed (the message names its Debian package).', action: 'Install it (scripts/apt-packages.txt lists them all).' },
  BUILD_CLI_FAILED: { summary: 'mender-artifact could not be run or failed.', action: 'Install mender-artifact; the message has its output.' },
  BUILD_VALIDATE_FAILED: { summary: "mender-artifact's own validation refused an artifact we wrote (a bug in the writer).", action: 'Report it with the artifact and the message.' },
  BUILD_TAR_FAILED: { summary: 'tar failed while packing the app or a bundle.', action: "The message has tar's output; check free space." },
  BUILD_APP_INVALID: { summary: 'package.json has no name or version, so the app cannot be versioned.', action: 'Set name and version in package.json.' },
  BUILD_DEMO_MODEL: { summary: 'The model bundle is marked demo_only and must not be deployed.', action: 'Deploy a trained model; --allow-demo is for test fleets only.' },
  BUILD_KEY_EXISTS: { summary: 'A signing key already exists at the output path; it is never overwritten.', action: 'Choose another --out folder, or remove the old key deliberately.' },
  BUILD_KEY_INVALID: { summary: 'The signing key is not a PEM private key of a kind Mender accepts (RSA or ECDSA P-256).', action: 'Make one with `sidewalk artifact keygen --type ec|rsa`.' },
  BUILD_KEY_UNWRITABLE: { summary: 'The key pair cannot be written into the output folder.', action: 'Check the folder and its permissions.' },
  BUILD_BUNDLE_INPUT: { summary: "The app bundle's input (dist/) is missing or holds something other than files and folders.", action: 'Run `npm run build` first.' },
  BUILD_BUNDLE_INCOMPLETE: { summary: 'A file the device code loads is missing from dist/.', action: 'Run `npm run build`.' },
  BUILD_BUNDLE_HOST_ONLY: {
    summary: 'A device package needs a host-only package (it would be missing on the scooter).',
    action: 'Move the import behind a host-only area, or make the package a device dependency.',
  },
  BUILD_BUNDLE_FOREIGN_BINARY: {
    summary: 'A native binary in the bundle is not AArch64, so it would not load on the scooter.',
    action: 'Rebuild the native addons for arm64 (`sidewalk artifact bundle` does it).',
  },
  BUILD_BUNDLE_OUTPUT: { summary: 'The output path exists and is not an app bundle; it is not replaced.', action: 'Give a new or empty folder, or an earlier bundle to replace.' },
  BUILD_BUNDLE_INVALID: { summary: "A bundle's manifest does not match its files (format, missing, changed or unlisted files), or a model bundle's manifest is unusable.", action: REBUILD_BUNDLE },
  BUILD_NATIVE_FAILED: { summary: 'Cross-compiling a native addon for arm64 failed.', action: 'Install the arm64 cross compiler (scripts/apt-packages.txt); the message has its output.' },
  BUILD_NODE_FETCH: { summary: 'The arm64 Node.js binary could not be fetched from the npm registry.', action: 'Check that the npm registry is reachable.' },
  BUILD_NODE_INTEGRITY: {
    summary: 'The fetched Node.js package does not match its pinned integrity; it was removed.',
    action: 'Run again to fetch it anew; if it repeats, check the registry mirror.',
  },
  BUILD_NODE_INVALID: { summary: 'The fetched Node.js binary is not an AArch64 executable.', action: 'Remove the cached package and run again.' },
} as const satisfies ErrorCatalogue;
