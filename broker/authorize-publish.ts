import type { AedesOptions, Client, PublishPacket } from 'aedes';
import { DroneCommand } from '../core/telemetry.js';
import { parseAlertFilter, parseDeviceTopic, type DeviceChannel, type DeviceKind, type DeviceTopic } from '../core/topics.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { ClientSessions } from './sessions.js';
import { PublishThrottle } from './throttle.js';
import type { IncomingDeviceMessage, Principal } from './types.js';

export interface AuthorizePublishDeps {
  sessions: ClientSessions;
  /** ms to hold the publish back (0: none), or -1 to refuse it (see Limits.admitPublish) */
  admitPublish: (client: Client) => number;
  ingest: (msg: IncomingDeviceMessage) => Promise<void>;
  /** true while the broker shuts down: wills are then not published (the devices did not go away, we did) */
  closing: () => boolean;
  /** the registered device of this id (clustered broker: the owner of a will left behind by a dead node) */
  deviceOf?: (id: string) => { kind: DeviceKind; disabled: boolean } | null;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

/** Device → broker channels (CONTRACT: MQTT topics); `commands` only ever flows to a drone. */
const UPLINK: Record<DeviceKind, readonly DeviceChannel[]> = {
  drone: ['telemetry', 'events', 'status'],
  sensor: ['readings', 'status'],
};

class PublishRefused extends Error {
  constructor(readonly reason: string) {
    super(`publish refused: ${reason}`);
  }
}

/**
 * Aedes runs this for every PUBLISH a client sends, and for a client's last will when its
 * connection is lost, before anything is acknowledged or delivered. Calling back with no error
 * lets the message through (for QoS 1 the PUBACK is written only then); an error closes the
 * publisher's connection and nothing is acknowledged [MQTT-3.3.5-2]. Deny by default. A device's
 * message is handed to ingest and the callback waits for it: PUBACK means durable.
 */
export function createAuthorizePublish(deps: AuthorizePublishDeps): NonNullable<AedesOptions['authorizePublish']> {
  const log = deps.log.child({ component: 'broker-acl' });
  const throttle = new PublishThrottle();

  function refused(reason: string, client: Client | null, packet: PublishPacket): PublishRefused {
    deps.metrics.mqttRefused.inc({ action: 'publish', reason });
    log.debug({ clientId: client?.id, topic: packet.topic, reason }, 'publish refused');
    return new PublishRefused(reason);
  }

  function orphanWill(deviceOf: NonNullable<AuthorizePublishDeps['deviceOf']>, packet: PublishPacket, callback: (err?: Error | null) => void): void {
    const owner = orphanWillOf(deviceOf, packet);
    const topic = parseDeviceTopic(packet.topic);
    if (!owner || !topic) return callback(refused('no_principal', null, packet));
    ingestOne(deps.ingest, toMessage(owner, topic, packet, true, deps.now()), callback, (err) => {
      log.debug({ err }, 'ingest did not take the will');
      return refused('ingest', null, packet);
    });
  }

  return (client, packet, callback) => {
    if (!client && deps.deviceOf) return orphanWill(deps.deviceOf, packet, callback);
    const principal = client ? deps.sessions.principalOf(client) : undefined;
    // a will left behind by a connection of another process or an earlier run has no principal here
    if (!client || !principal) return callback(refused('no_principal', client, packet));
    const isWill = deps.sessions.isWill(client, packet);
    if (isWill && deps.closing()) return callback(new PublishRefused('shutdown'));
    const waitMs = isWill ? 0 : deps.admitPublish(client);
    if (waitMs < 0) return callback(new PublishRefused('rate'));
    // throttled: Aedes reads no more of this connection until the callback, so TCP slows the publisher
    const held = throttle.hold(client, waitMs, () => (client.closed ? callback(new PublishRefused('closed')) : authorize(client, principal, isWill, packet, callback)));
    if (!held) authorize(client, principal, isWill, packet, callback);
  };

  function authorize(client: Client, principal: Principal, isWill: boolean, packet: PublishPacket, callback: (err?: Error | null) => void): void {
    if (packet.topic.startsWith('$')) return callback(refused('sys', client, packet));
    if (principal.type === 'person') return callback(commandRefusal(principal, packet, (r) => refused(r, client, packet)));
    if (principal.type === 'service') return callback(serviceRefusal(packet, (r) => refused(r, client, packet)));

    const topic = parseDeviceTopic(packet.topic);
    const reason = deviceRefusal(principal, topic, isWill);
    if (reason || !topic) return callback(refused(reason ?? 'topic', client, packet));
    ingestOne(deps.ingest, toMessage(principal, topic, packet, isWill, deps.now()), callback, (err) => {
      log.debug({ err }, 'ingest did not take the message');
      return refused('ingest', client, packet);
    });
  }
}

/**
 * A clustered broker publishes, with no client, the wills of devices whose node died (Aedes, once
 * that node missed 3 heartbeats). The dead node checked the will topic at CONNECT; it is taken
 * again only while it is the status topic of a registered, enabled device, and ingested as a will.
 */
export function orphanWillOf(deviceOf: NonNullable<AuthorizePublishDeps['deviceOf']>, packet: { topic: string }): Extract<Principal, { type: 'device' }> | null {
  const t = parseDeviceTopic(packet.topic);
  const d = t && deviceOf(t.deviceId);
  if (!t || !d || d.disabled || d.kind !== t.kind || t.channel !== 'status') return null;
  return { type: 'device', id: t.deviceId, kind: t.kind };
}

function deviceRefusal(p: Extract<Principal, { type: 'device' }>, t: DeviceTopic | null, isWill: boolean): string | null {
  if (!t) return 'topic';
  if (t.kind !== p.kind || t.deviceId !== p.id) return 'foreign_device';
  if (!UPLINK[p.kind].includes(t.channel)) return 'channel';
  if (isWill && t.channel !== 'status') return 'will_topic';
  return null;
}

/** People publish only drone commands, and only admins; the payload must be a command drones understand. */
function commandRefusal(p: Extract<Principal, { type: 'person' }>, packet: PublishPacket, refused: (r: string) => Error): Error | null {
  const t = parseDeviceTopic(packet.topic);
  if (!t || t.kind !== 'drone' || t.channel !== 'commands') return refused('topic');
  if (p.role !== 'admin') return refused('role');
  if (!DroneCommand.safeParse(parseJson(packet.payload)).success) return refused('bad_command');
  // a retained command would be replayed to the drone on every reconnect
  packet.retain = false;
  return null;
}

/**
 * GridPatrol's api process publishes what the all-in-one process publishes on its embedded
 * broker: alert transitions on their concrete alert topic, and drone commands.
 */
function serviceRefusal(packet: PublishPacket, refused: (r: string) => Error): Error | null {
  const alert = parseAlertFilter(packet.topic);
  if (alert) return alert.gridId === '+' || alert.severity === '+' || packet.topic.includes('#') ? refused('topic') : null;
  const t = parseDeviceTopic(packet.topic);
  if (!t || t.kind !== 'drone' || t.channel !== 'commands') return refused('topic');
  if (!DroneCommand.safeParse(parseJson(packet.payload)).success) return refused('bad_command');
  packet.retain = false;
  return null;
}

function parseJson(payload: Buffer | string): unknown {
  try {
    return JSON.parse(payload.toString());
  } catch {
    return undefined;
  }
}

function toMessage(p: Extract<Principal, { type: 'device' }>, t: DeviceTopic, packet: PublishPacket, isWill: boolean, receivedAt: number): IncomingDeviceMessage {
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  return { deviceId: p.id, kind: p.kind, channel: t.channel, topic: packet.topic, payload, qos: packet.qos, retain: packet.retain, receivedAt, isWill };
}

/*
 * ingest is called synchronously, so messages of one connection reach it in the order they
 * arrived even when Aedes authorizes several of them at once; only the callbacks wait.
 */
function ingestOne(
  ingest: AuthorizePublishDeps['ingest'],
  msg: IncomingDeviceMessage,
  callback: (err?: Error | null) => void,
  refused: (err: unknown) => Error,
): void {
  let pending: Promise<void>;
  try {
    pending = ingest(msg);
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    () => callback(null),
    (err: unknown) => callback(refused(err)),
  );
}
