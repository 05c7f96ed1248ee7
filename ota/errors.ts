/**
 * Error codes of the updater (install, commit, rollback, boot selection, the simulated device). The
 * artifact reader's own codes are in ota/artifact/errors.ts. The fleet agent reports these codes in
 * its update steps (telemetry/fleet/device/), so a code is renamed only with its consumers.
 */
import type { ErrorCatalogue } from '../lib/errors.js';

const STATUS = 'Run `sidewalk ota status` to see the slots and the update in progress.';
const SIM_INIT = 'Create a simulated device with `sidewalk ota sim init DIR` and point boot.simulated_dir at it.';

export const OTA_ERRORS = {
  OTA_UPDATE_IN_PROGRESS: {
    summary: 'An update is already under way (or the running slot is an uncommitted trial boot); a second one is not started.',
    action: `Let it finish, or commit or roll it back first. ${STATUS}`,
  },
  OTA_OTHER_UPDATER_RUNNING: {
    summary: "Another updater process holds the updater's lock file (its pid is named).",
    action: 'Wait for it to finish and try again (a lock left by a process that is gone is removed by the next updater).',
  },
  OTA_SCOOTER_MOVING: {
    summary: 'The scooter kept moving for longer than the updater waits; the step that needs it standing still was not done.',
    action: 'Nothing to repair: the update continues when the scooter stands still (retry the command when parked).',
  },
  OTA_UPDATE_FAILED: {
    summary: 'An update failed and was rolled back; the message says which step failed and why.',
    action: `Read the reason in the message and the updater's journal. ${STATUS}`,
  },
  OTA_HEALTH_FAILED: {
    summary: 'The updated slot, model or app failed its health check after the restart, so the update was rolled back.',
    action: "Check the new version's logs (journalctl -u sidewalk-runtime) on a test device before deploying it again.",
  },
  OTA_HEALTH_UNREADABLE: {
    summary: "The runtime's health (its status file or metrics endpoint) cannot be read while the updater checks a new version.",
    action: 'Check that the runtime service runs and can write its status; see the message for the file.',
  },
  OTA_HEALTH_COMMAND: {
    summary: 'A health check command of the OTA config could not be run; the check counts as failed.',
    action: 'Check the command named in health.commands of the OTA config (installed, executable).',
  },
  OTA_DROP_CACHE_FAILED: {
    summary: 'The page cache of a written slot could not be dropped before verifying it, so the check may read cached data.',
    action: 'Check that dd is installed (coreutils) and that the slot device is readable.',
  },
  OTA_METRICS_LISTEN: {
    summary: 'The updater cannot serve /metrics on the configured address; it runs on without them.',
    action: 'Free the port, or set metrics.port in the OTA config (null turns the endpoint off).',
  },
  OTA_ARTIFACT_MISSING: {
    summary: 'The artifact file given to install cannot be read.',
    action: 'Check the path or URL given to `sidewalk ota install`.',
  },
  OTA_DOWNLOAD_FAILED: {
    summary: 'The artifact could not be downloaded within the retry budget (network or server error).',
    action: 'Check the network and the server; download.retries in the OTA config sets how long it retries.',
  },
  OTA_DOWNLOAD_HTTP: {
    summary: 'The server answered the artifact download with an HTTP error status.',
    action: 'Check the URL and that the server offers the artifact (the status is in the message).',
  },
  OTA_PAYLOAD_TYPE: {
    summary: "The artifact's payload type is not one this device installs (rootfs-image, rootfs-tryboot, sidewalk-model, sidewalk-app).",
    action: 'Build the artifact with `sidewalk artifact rootfs|model|app`.',
  },
  OTA_PAYLOAD_LAYOUT: {
    summary: "The OS artifact's payload files are not the expected boot and root images (missing, duplicated, unlisted or short).",
    action: 'Build the OS artifact with `sidewalk artifact rootfs` from an image of `sidewalk image build`.',
  },
  OTA_IMAGE_TOO_LARGE: {
    summary: 'An OS image does not fit the partition of the slot it would be written to.',
    action: 'Build a smaller image, or an SD card layout with larger slots (image/README.md).',
  },
  OTA_MODEL_INVALID: {
    summary: "A model artifact's bundle is not valid, or its manifest disagrees with the artifact (name, version).",
    action: 'Build the model artifact from a registered bundle (`sidewalk fleet deploy --model`, or `sidewalk artifact model`).',
  },
  OTA_APP_MANIFEST: {
    summary: "An app artifact's bundle manifest does not match the app it carries (version, files, architecture).",
    action: 'Build the app artifact with `sidewalk artifact bundle` and `sidewalk artifact app`.',
  },
  OTA_BUNDLE_PATH: {
    summary: 'A model or app bundle names a file path outside its own folder (absolute, or with ..).',
    action: 'Rebuild the bundle; the path in the message is not allowed.',
  },
  OTA_VERSION_INVALID: {
    summary: 'A version is not a safe folder name ([A-Za-z0-9._+-], up to 100 characters).',
    action: 'Give the model or app a version made of those characters.',
  },
  OTA_VERSION_INSTALLED: {
    summary: 'That model or app version is already installed (current or previous); nothing was done.',
    action: 'Nothing to repair; deploy a new version to change it.',
  },
  OTA_VERSION_MISSING: {
    summary: "The version the store names as current is not installed (the store's state is damaged).",
    action: 'Install the model or app again over OTA; the message names the store.',
  },
  OTA_NOTHING_TO_COMMIT: {
    summary: 'There is no update waiting to be committed.',
    action: STATUS,
  },
  OTA_NOTHING_TO_ROLL_BACK: {
    summary: 'No update is in progress and no kind (os, model or app) was named to roll back.',
    action: 'Name what to roll back: `sidewalk ota rollback os|model|app`.',
  },
  OTA_NOT_IN_TRIAL: {
    summary: 'The new slot is not the one running, so it cannot be committed (the trial boot did not happen or fell back).',
    action: `Reboot into the trial first, or roll back. ${STATUS}`,
  },
  OTA_SLOT_STATE: {
    summary: 'The booted slot is not the default one in autoboot.txt: the device is between states.',
    action: `Reboot, then try again. ${STATUS}`,
  },
  OTA_SLOT_MISSING: {
    summary: "A slot's partition does not exist or its size cannot be read.",
    action: 'Check boot.slots in the OTA config against the SD card layout (image/README.md).',
  },
  OTA_SLOT_VERIFY: {
    summary: 'A slot written with an OS image reads back different from the image (checksum or size).',
    action: 'The SD card may be failing: the update was refused; retry, and replace the card if it repeats.',
  },
  OTA_NO_SLOTS: {
    summary: 'This device has no A/B OS slots configured, so it cannot take OS updates.',
    action: 'Set boot.slots in the OTA config (ota/ota.example.yaml).',
  },
  OTA_JOURNAL_STATE: {
    summary: "The updater's journal holds a state the updater does not expect at this point (a bug or a damaged journal).",
    action: `Report it with the journal file. ${STATUS}`,
  },
  OTA_AUTOBOOT_INVALID: {
    summary: 'autoboot.txt on the boot-selector partition is not what the firmware reads (too long, unsupported sections).',
    action: 'Restore autoboot.txt from the image (image/README.md describes it).',
  },
  OTA_AUTOBOOT_MISSING: {
    summary: 'The boot-selector partition has no autoboot.txt.',
    action: 'Restore autoboot.txt from the image (image/README.md describes it).',
  },
  OTA_SELECTOR_INVALID: {
    summary: 'The boot-selector FAT partition is not a FAT file system the updater can rewrite in place.',
    action: 'Check boot.selector in the OTA config; rewrite the SD card from the image if the partition is damaged.',
  },
  OTA_SELECTOR_NOT_IN_PLACE: {
    summary: 'The new autoboot.txt is not the same length as the old, so it cannot be rewritten in place.',
    action: 'Nothing to repair: the updater falls back to the mounted file system when one is configured.',
  },
  OTA_SELECTOR_VERIFY: {
    summary: 'autoboot.txt reads back different after the updater wrote it.',
    action: 'The SD card may be failing; retry, and replace the card if it repeats.',
  },
  OTA_DEVICE_TREE: {
    summary: "The firmware's boot information in the device tree (/proc/device-tree/chosen/bootloader) is missing or malformed.",
    action: 'This needs a Raspberry Pi booted by its firmware; on other machines use the simulated boot backend.',
  },
  OTA_BOOT_UNKNOWN_SLOT: {
    summary: "The firmware booted a partition that is neither slot's boot partition.",
    action: 'Check boot.slots in the OTA config against the SD card layout.',
  },
  OTA_BOOTLOADER_TOO_OLD: {
    summary: "The Pi's bootloader predates tryboot, which A/B OS updates need; the OS update was refused.",
    action: 'Update the bootloader EEPROM (the message says how; docs/hardware.md).',
  },
  OTA_REBOOT_FAILED: {
    summary: 'The firmware did not accept the one-time tryboot flag, so the trial reboot was not started.',
    action: 'Update the Pi firmware (docs/hardware.md); the update was not applied.',
  },
  OTA_PROVIDES_INVALID: {
    summary: "The device's provides file (what is installed, for artifact depends) is not valid.",
    action: 'The message names the file and the problem; restore it from the image or the last update.',
  },
  OTA_RUNTIME_NOTIFY: {
    summary: 'The updater could not tell the runtime service to reload a new model or app (systemctl failed).',
    action: 'Check the runtime service (systemctl status sidewalk-runtime); the update is rolled back if it stays unhealthy.',
  },
  CONFIG_KEY_UNREADABLE: {
    summary: 'A verification key file named in the OTA config (keys) cannot be read.',
    action: 'Check the path and permissions of the key file named in the message.',
  },
  OTA_NOT_SIMULATED: {
    summary: 'A simulated-device command was run with an OTA config whose boot.backend is not simulated.',
    action: 'Give the config of a simulated device (boot.backend: simulated).',
  },
  OTA_SIM_EXISTS: {
    summary: 'The folder given for a new simulated device is not empty.',
    action: 'Give a new or empty folder.',
  },
  OTA_SIM_UNWRITABLE: {
    summary: 'The folder for a new simulated device cannot be created.',
    action: 'Check the path and its permissions.',
  },
  OTA_SIM_MISSING: {
    summary: 'boot.simulated_dir holds no simulated disk.',
    action: SIM_INIT,
  },
  OTA_SIM_SELECTOR: {
    summary: "The simulated device's FAT boot-selector image cannot be made (mkfs.fat, mcopy).",
    action: 'Install dosfstools and mtools.',
  },
  OTA_SIM_BRICKED: {
    summary: 'The simulated device does not boot (neither slot is bootable): what a bricked scooter would do.',
    action: 'A test found a bricking sequence: report it with the simulated device folder.',
  },
} as const satisfies ErrorCatalogue;
