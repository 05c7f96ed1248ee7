/**
 * Error codes of telemetry and the fleet: the telemetry agent's config, the device's fleet agent and
 * the host's fleet tool (`sidewalk fleet`), which share the MQTT link and its payloads. One catalogue
 * for both ends, so a code a device reports and the tool that shows it agree.
 */
import type { ErrorCatalogue } from '../lib/errors.js';

const FLEET_CONFIG = 'Correct the fleet config (the message lists each field at fault; host-tools/fleet/README.md).';
const BROKER = 'Check that the MQTT broker runs and is reachable, and the TLS files of the config.';
const STATUS = 'See `sidewalk fleet status` for the rollouts and their states.';

export const TELEMETRY_ERRORS = {
  TELEMETRY_AGENT_CONFIG_INVALID: { summary: 'A value of the telemetry agent config is out of range or of the wrong kind.', action: 'Correct the named field.' },
  TELEMETRY_DASHBOARDS_STALE: {
    summary: 'The committed Grafana dashboards differ from telemetry/grafana/dashboards.ts (found by `--check`).',
    action: 'Run `npm run dashboards` and commit the result.',
  },
  TELEMETRY_DASHBOARDS_FAILED: { summary: 'Generating the Grafana dashboards failed.', action: 'The message says why; check the output folder (--out).' },
  TELEMETRY_AGENT_TEMPLATE_INVALID: { summary: 'The telemetry agent config template names an unknown placeholder.', action: 'Use only the placeholders the template documents.' },

  // Device side: the fleet agent
  FLEET_AGENT_CONFIG_UNREADABLE: { summary: "The fleet agent's config file cannot be read.", action: 'Check the path and permissions (provisioning writes it).' },
  FLEET_AGENT_CONFIG_INVALID: { summary: "The fleet agent's config is not valid YAML or violates its schema.", action: 'Correct the listed fields, or provision the scooter again.' },
  FLEET_TLS_UNREADABLE: { summary: 'A TLS file (CA, certificate or key) named in the config cannot be read.', action: 'Check the named path and its permissions.' },
  FLEET_BROKER_UNREACHABLE: { summary: 'The MQTT broker could not be reached within the connect timeout.', action: BROKER },
  FLEET_PAYLOAD_INVALID: { summary: 'An MQTT message does not match the schema of its topic.', action: 'The message names the topic and fields; the sender and receiver may run different versions.' },
  FLEET_DEVICE_ID_INVALID: { summary: 'A device id does not have the allowed form (it becomes part of MQTT topics and ACLs).', action: 'Use the pattern named in the message.' },
  FLEET_LOCATION_INVALID: { summary: "A device's location does not have the allowed form.", action: 'Use the pattern named in the message.' },
  FLEET_ARTIFACT_MISMATCH: {
    summary: 'A downloaded artifact differs in size or sha256 from what the desired state announced.',
    action: 'The download was refused; publish the artifact again if it changed on the server.',
  },
  FLEET_COMMAND_FAILED: { summary: 'A command sent to a device failed there without a code of its own.', action: "Read the device's message; its log (journalctl -u sidewalk-ota) has the details." },

  // Host side: the fleet tool
  FLEET_CONFIG_UNREADABLE: { summary: 'The fleet config file cannot be read.', action: 'Check the path given with --config.' },
  FLEET_CONFIG_INVALID: { summary: 'The fleet config is not valid YAML or violates its schema.', action: FLEET_CONFIG },
  FLEET_INVENTORY_UNREADABLE: { summary: 'The device inventory file cannot be read.', action: 'Check the path given.' },
  FLEET_INVENTORY_INVALID: { summary: 'The device inventory is not valid YAML or violates its schema.', action: 'Correct the listed fields.' },
  FLEET_PLAN_UNREADABLE: { summary: 'The rollout plan file (--plan) cannot be read.', action: 'Check the path given with --plan.' },
  FLEET_PLAN_INVALID: { summary: 'The rollout plan is invalid, or both --percent and --plan were given.', action: 'Correct the listed fields; give one of --percent and --plan.' },
  FLEET_INVALID_OPTION: { summary: 'The options of a fleet command contradict each other or are missing.', action: "See the command's --help." },
  FLEET_DB_OPEN: { summary: "The fleet tool's database cannot be opened.", action: 'Check the path in the fleet config and its permissions.' },
  FLEET_ARTIFACT_UNREADABLE: { summary: 'The artifact to deploy cannot be read or verified.', action: 'The message says why; check the file with `sidewalk artifact verify`.' },
  FLEET_ARTIFACT_TYPE: { summary: "The artifact's payload type is not deployable (rootfs-image, sidewalk-model, sidewalk-app).", action: 'Build it with `sidewalk artifact rootfs|model|app`.' },
  FLEET_ARTIFACT_NO_VERSION: { summary: 'The artifact does not provide the version key its kind needs.', action: 'Build it with `sidewalk artifact`, which writes the version.' },
  FLEET_ARTIFACT_UNSIGNED: { summary: 'The artifact is not signed, so the devices would refuse it.', action: 'Sign it; --allow-unsigned is only for testing that refusal.' },
  FLEET_MODEL_REF: { summary: '--model is not LOCATION@production, LOCATION@canary or LOCATION@VERSION.', action: 'Give the model in one of those forms.' },
  FLEET_MODEL_UNKNOWN: { summary: 'The model registry has no such model for the location.', action: 'See `sidewalk models list`.' },
  FLEET_NO_SIGNING_KEY: { summary: 'The fleet config has no build.signing_key, and models are deployed only as signed artifacts.', action: 'Set build.signing_key in the fleet config.' },
  FLEET_SUBSCRIBE_REFUSED: {
    summary: "The broker refused the fleet tool's subscriptions (its certificate is not the fleet tool's).",
    action: "Use the fleet tool's client certificate (broker.client_id); `sidewalk fleet acl` writes the broker's ACL.",
  },
  FLEET_BROKER_TIMEOUT: { summary: 'The broker did not answer the fleet tool in time.', action: BROKER },
  FLEET_PUBLISH_FAILED: { summary: 'The broker did not take a message of the fleet tool (desired state, command or marker).', action: `${BROKER} Nothing was changed on the devices.` },
  FLEET_COMMAND_TIMEOUT: { summary: 'A device did not answer a command in time (offline, or busy).', action: 'Try again when the device is online (`sidewalk fleet devices`).' },
  FLEET_ROLLOUT_UNKNOWN: { summary: 'There is no rollout with that id.', action: STATUS },
  FLEET_ROLLOUT_BUSY: { summary: 'The location already has a rollout in progress.', action: 'Abort it or let it complete first.' },
  FLEET_ROLLOUT_STATE: { summary: 'The rollout is in a state that does not allow this command (e.g. resume a rollout that is not paused).', action: STATUS },
  FLEET_ROLLOUT_FAILING: { summary: 'The rollout fails its health rules, so it must be aborted, not advanced.', action: 'Run `sidewalk fleet abort ROLLOUT`, then look at the failed devices.' },
  FLEET_STEP_NOT_DONE: { summary: "The rollout's current step is not finished (devices still updating, or the soak time not over).", action: 'Wait and try again, or pass --force to advance anyway.' },
  FLEET_METRICS_LISTEN: {
    summary: 'The fleet tool cannot serve its rollout metrics on the configured address (often: another `sidewalk fleet watch` holds the port).',
    action: 'Stop the other watcher, or set metrics.port in the fleet config.',
  },
  FLEET_PROMETHEUS_URL: { summary: 'The prometheus.url of the fleet config is not an http(s) URL.', action: FLEET_CONFIG },
  FLEET_PROMETHEUS_UNREACHABLE: {
    summary: 'The fleet Prometheus did not answer; health checks are unknown, so rollouts neither abort nor advance by themselves.',
    action: 'Check that the fleet Prometheus runs at prometheus.url; `sidewalk fleet advance --force` moves on without it.',
  },
  FLEET_PROMETHEUS_QUERY: { summary: 'The fleet Prometheus refused a health query.', action: 'The message shows the query and its answer; check the Prometheus version and the recording rules.' },
  FLEET_PROMETHEUS_BAD_ANSWER: {
    summary: 'The fleet Prometheus answered something that is not a Prometheus API response.',
    action: 'Check that prometheus.url points at Prometheus itself (not a proxy page).',
  },
  FLEET_LAST_STEP: { summary: 'The rollout is at its last step; there is nothing to advance to.', action: STATUS },
} as const satisfies ErrorCatalogue;
