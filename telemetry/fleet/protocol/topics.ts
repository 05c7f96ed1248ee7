/**
 * The fleet control plane's topic tree (MQTT 5), shared by the device agent and the fleet tool:
 *
 *   fleet/v1/device/<id>/status               retained  device: online | offline (last will), boot id + session
 *   fleet/v1/device/<id>/reported             retained  device: versions, OTA state, rollout outcome, health
 *   fleet/v1/device/<id>/events                         device: OTA progress, each with a per-device sequence number
 *   fleet/v1/device/<id>/cmd/<name>                     fleet tool -> device, with a request id
 *   fleet/v1/device/<id>/cmd/<name>/response            device -> fleet tool, echoing the request id
 *   fleet/v1/desired/location/<location>      retained  fleet tool: the location's rollout (cohort percent)
 *   fleet/v1/desired/device/<id>              retained  fleet tool: a per-device override
 *   fleet/v1/sync/<client>                              fleet tool -> itself: marks the end of the retained backlog
 *
 * Device topics sit under `device/` so no device id can collide with the desired-state tree, and the
 * broker's ACL (acl.ts) can give each certificate identity exactly its own subtree.
 */
export const TOPIC_ROOT = 'fleet/v1';

/** Device ids and locations become topic levels and certificate CNs: no '/', '+', '#', spaces. */
export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
export const LOCATION_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$';
export const COMMAND_NAMES = ['report', 'rollback'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export type TopicKind = 'status' | 'reported' | 'events' | 'cmd' | 'response' | 'desired-location' | 'desired-device' | 'sync';

export const topics = {
  status: (device: string) => `${TOPIC_ROOT}/device/${device}/status`,
  reported: (device: string) => `${TOPIC_ROOT}/device/${device}/reported`,
  events: (device: string) => `${TOPIC_ROOT}/device/${device}/events`,
  cmd: (device: string, name: string) => `${TOPIC_ROOT}/device/${device}/cmd/${name}`,
  response: (device: string, name: string) => `${TOPIC_ROOT}/device/${device}/cmd/${name}/response`,
  desiredLocation: (location: string) => `${TOPIC_ROOT}/desired/location/${location}`,
  desiredDevice: (device: string) => `${TOPIC_ROOT}/desired/device/${device}`,
  sync: (client: string) => `${TOPIC_ROOT}/sync/${client}`,
  /** Subscriptions of the fleet tool. */
  allStatus: `${TOPIC_ROOT}/device/+/status`,
  allReported: `${TOPIC_ROOT}/device/+/reported`,
  allEvents: `${TOPIC_ROOT}/device/+/events`,
  allResponses: `${TOPIC_ROOT}/device/+/cmd/+/response`,
} as const;

export interface ParsedTopic {
  kind: TopicKind;
  /** Device id (device topics and per-device desired state). */
  device?: string;
  location?: string;
  command?: string;
  client?: string;
}

const deviceRe = new RegExp(DEVICE_ID_PATTERN);
const locationRe = new RegExp(LOCATION_PATTERN);

/** Which map entry a topic belongs to, or null for anything outside the tree (never acted on). */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== 'fleet' || parts[1] !== 'v1') return null;
  const [, , area, id, leaf, name, tail, ...rest] = parts;
  if (rest.length > 0) return null;
  if (area === 'sync' && id !== undefined && leaf === undefined && /^[A-Za-z0-9._-]{1,100}$/.test(id)) return { kind: 'sync', client: id };
  if (area === 'desired') {
    if (name !== undefined || leaf === undefined) return null;
    if (id === 'location' && locationRe.test(leaf)) return { kind: 'desired-location', location: leaf };
    if (id === 'device' && deviceRe.test(leaf)) return { kind: 'desired-device', device: leaf };
    return null;
  }
  if (area === 'device' && id !== undefined && deviceRe.test(id)) {
    if (leaf === 'status' && name === undefined) return { kind: 'status', device: id };
    if (leaf === 'reported' && name === undefined) return { kind: 'reported', device: id };
    if (leaf === 'events' && name === undefined) return { kind: 'events', device: id };
    if (leaf === 'cmd' && name !== undefined && (COMMAND_NAMES as readonly string[]).includes(name)) {
      if (tail === undefined) return { kind: 'cmd', device: id, command: name };
      if (tail === 'response') return { kind: 'response', device: id, command: name };
    }
  }
  return null;
}
