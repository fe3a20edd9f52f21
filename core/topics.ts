/**
 * MQTT topic names of CONTRACT v1. Everything that builds or reads a topic goes through here:
 * ACLs, ingest routing and simulators never slice topic strings themselves.
 */
export const TOPIC_ROOT = 'gridpatrol/v1';

export type DeviceKind = 'drone' | 'sensor';
export type DeviceChannel = 'telemetry' | 'events' | 'status' | 'commands' | 'readings';

const CHANNELS: Record<DeviceKind, readonly DeviceChannel[]> = {
  drone: ['telemetry', 'events', 'status', 'commands'],
  sensor: ['readings', 'status'],
};
const SEGMENT: Record<DeviceKind, string> = { drone: 'drones', sensor: 'sensors' };

export const topics = {
  droneTelemetry: (id: string) => `${TOPIC_ROOT}/drones/${id}/telemetry`,
  droneEvents: (id: string) => `${TOPIC_ROOT}/drones/${id}/events`,
  droneStatus: (id: string) => `${TOPIC_ROOT}/drones/${id}/status`,
  droneCommands: (id: string) => `${TOPIC_ROOT}/drones/${id}/commands`,
  sensorReadings: (id: string) => `${TOPIC_ROOT}/sensors/${id}/readings`,
  sensorStatus: (id: string) => `${TOPIC_ROOT}/sensors/${id}/status`,
  alerts: (gridId: string, severity: string) => `${TOPIC_ROOT}/alerts/${gridId}/${severity}`,
  device: (kind: DeviceKind, id: string, channel: DeviceChannel) => `${TOPIC_ROOT}/${SEGMENT[kind]}/${id}/${channel}`,
  /** Subscription filters the ingest source uses as an MQTT client. */
  ingestFilters: [
    `${TOPIC_ROOT}/drones/+/telemetry`,
    `${TOPIC_ROOT}/drones/+/events`,
    `${TOPIC_ROOT}/drones/+/status`,
    `${TOPIC_ROOT}/sensors/+/readings`,
    `${TOPIC_ROOT}/sensors/+/status`,
  ],
} as const;

export interface DeviceTopic {
  kind: DeviceKind;
  deviceId: string;
  channel: DeviceChannel;
}

/** Parses a concrete device topic; null for anything that is not exactly one of the contract's. */
export function parseDeviceTopic(topic: string): DeviceTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return null;
  const [, , segment, deviceId, channel] = parts as [string, string, string, string, string];
  const kind: DeviceKind | null = segment === 'drones' ? 'drone' : segment === 'sensors' ? 'sensor' : null;
  if (!kind || !deviceId || deviceId.includes('+') || deviceId.includes('#')) return null;
  if (!(CHANNELS[kind] as readonly string[]).includes(channel)) return null;
  return { kind, deviceId, channel: channel as DeviceChannel };
}

export interface AlertTopic {
  gridId: string;
  severity: string;
}

/** Parses an alerts topic or subscription filter (`+` allowed in either level). */
export function parseAlertFilter(filter: string): AlertTopic | null {
  const parts = filter.split('/');
  if (`${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[2] !== 'alerts') return null;
  if (parts.length === 4 && parts[3] === '#') return { gridId: '+', severity: '+' };
  if (parts.length === 5 && parts[4] === '#') return { gridId: parts[3]!, severity: '+' };
  if (parts.length !== 5) return null;
  return { gridId: parts[3]!, severity: parts[4]! };
}

/** True when an MQTT topic filter is a filter over device topics of the given kind (`+`/`#` allowed). */
export function isDeviceFilter(filter: string): boolean {
  return filter.startsWith(`${TOPIC_ROOT}/drones/`) || filter.startsWith(`${TOPIC_ROOT}/sensors/`);
}

/**
 * True when an MQTT topic filter matches a topic name: `+` one level, `#` this level and all
 * below (also the parent: `a/#` matches `a`) [MQTT-4.7.1-2]; a topic starting with `$` is not
 * matched by a filter starting with a wildcard [MQTT-4.7.2-1].
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
