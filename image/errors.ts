/**
 * Error codes of the SD card image build (`sidewalk image build`) and of provisioning a scooter
 * from its boot partition (`sidewalk provision`).
 */
import type { ErrorCatalogue } from '../lib/errors.js';

export const IMAGE_ERRORS = {
  IMAGE_INVALID_OPTION: { summary: 'An option of `sidewalk image build` is invalid (the message names it).', action: 'See `sidewalk image build --help` and image/README.md.' },
  IMAGE_TOOL_MISSING: {
    summary: 'A program the image build needs is not installed (e.g. fakeroot, genimage).',
    action: 'Install the Debian package the message names (scripts/apt-packages.txt lists them).',
  },
  IMAGE_COMMAND_FAILED: { summary: 'A command of the image build failed (the message has its output).', action: 'Read the output; check free space in the work folder.' },
  IMAGE_BUILD_FAILED: { summary: 'The image build stage failed without a code of its own.', action: 'Run again with --verbose; the message has the last output.' },
  IMAGE_BASE_INVALID: {
    summary: 'The base (a root folder, tarball or Raspberry Pi OS image) is missing or not usable: no etc/, no kernel or firmware, bad partitions, no free system user id.',
    action: 'Give a base image/README.md describes, or rebuild it.',
  },
  IMAGE_APP_INVALID: { summary: 'The app bundle folder given to the image has no bin/sidewalk launcher.', action: 'Give a folder made by `sidewalk artifact bundle`.' },
  IMAGE_KEY_INVALID: { summary: 'The artifact verification key for the image cannot be read.', action: 'Check the path of the public key given.' },
  IMAGE_NO_USERNS: { summary: 'User namespaces are disabled, so the base cannot be built without root.', action: 'Enable them (sysctl user.max_user_namespaces=10000) or build as root.' },
  IMAGE_NO_BINFMT: {
    summary: 'qemu-aarch64 is not registered with binfmt_misc, so arm64 package scripts cannot run.',
    action: 'Do as root what the message lists (qemu-user-static, binfmt-support, update-binfmts).',
  },
  GROW_TABLE_INVALID: {
    summary: "The card's partition table is not the image's MBR layout (the message names the sector or the fstab line), so the data partition is not grown.",
    action: 'Nothing is written; the data partition keeps its size. Write the SD card again from a built image.',
  },
  GROW_RESIZE_FAILED: {
    summary: 'resize2fs could not grow the data filesystem to its partition (the message has its output).',
    action: 'The next boot tries again; if it keeps failing, check the card with e2fsck.',
  },
  PROVISION_MISSING: { summary: 'The boot partition has no provisioning file.', action: "Write one onto the SD card's boot partition (image/README.md); until then the runtime only monitors." },
  PROVISION_UNREADABLE: { summary: 'The provisioning file cannot be read.', action: 'Write it again onto the boot partition.' },
  PROVISION_INVALID: {
    summary: 'The provisioning file violates its schema (every problem is listed).',
    action: 'Correct the listed fields; the previous provisioning (or monitor mode) stays meanwhile.',
  },
  PROVISION_AGENT_TEMPLATE: {
    summary: "The image's metrics agent config template cannot be read or rendered, so provisioning stops before writing anything.",
    action: 'Rebuild the image (the template ships as /etc/prometheus/sidewalk-agent.yml.tmpl); the message names the file.',
  },
  PROVISION_RUNTIME_CONFIG: { summary: "The image's runtime config cannot be read, so provisioning cannot be applied to it.", action: 'The image is damaged: write the SD card again.' },
} as const satisfies ErrorCatalogue;
