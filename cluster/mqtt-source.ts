import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { SERVICE_USERNAME } from '../core/principal.js';
import { parseDeviceTopic, topics } from '../core/topics.js';
import type { Envelope } from '../ingest/stages/types.js';
import type { Logger } from '../lib/logger.js';

export interface MqttSourceOptions {
  url: string;
  /** fixed per node: the broker keeps this client's session (subscriptions, QoS 1 messages not yet acknowledged) */
  clientId: string;
  /** the admin token: GridPatrol's processes log in as SERVICE_USERNAME */
  password: string;
  /** MQTT 5 shared-subscription group: `$share/<group>/<filter>`; unset: plain subscriptions */
  share?: string;
  /** resolves once the message is durable (or refused as a dead letter); the PUBACK waits for it */
  onMessage(env: Envelope): Promise<void>;
  log: Logger;
  now?: () => number;
}

export interface MqttSource {
  client: MqttClient;
  /** Resolves once connected and subscribed. */
  start(): Promise<void>;
  connected(): boolean;
  /** Publishes at QoS 1 (alerts, drone commands); the broker keeps it if we are offline for a moment. */
  publish(topic: string, payload: string): void;
  /** Disconnects; a message whose PUBACK was not sent yet is redelivered to this session later. */
  stop(): Promise<void>;
}

// how long a session outlives its connection at the broker (MQTT 5; 3.1.1 sessions never expire): 7 days, in s
const SESSION_EXPIRY_S = 7 * 24 * 3600;
// how long start() waits for the broker (ms)
const START_TIMEOUT_MS = 30_000;
// leaving a shared-subscription group: done once no message came for QUIET_MS, at most LEAVE_TIMEOUT_MS (ms)
const QUIET_MS = 300;
const LEAVE_TIMEOUT_MS = 10_000;
// a message the pipeline could not take (spool full, disk error) is offered to it again after this long (ms)
const RETRY_MS = 1000;

/**
 * GridPatrol as an MQTT client of any broker (Aedes, Mosquitto, EMQX): a persistent session
 * (clean = false, fixed client id) subscribed at QoS 1 to every device uplink topic. MQTT.js
 * hands over one PUBLISH at a time through `handleMessage` and writes its PUBACK only when our
 * callback runs, so a message is acknowledged only once `onMessage` resolved: a worker killed
 * at any moment loses nothing, the broker redelivers what it had not acknowledged [MQTT-4.4.0-1].
 * The same ordering keeps one device's messages in the order the broker delivers them.
 */
export function createMqttSource(o: MqttSourceOptions): MqttSource {
  const log = o.log.child({ component: 'mqtt-source' });
  const now = o.now ?? Date.now;
  const v5 = o.share !== undefined;
  const options: IClientOptions = {
    clientId: o.clientId, clean: false, username: SERVICE_USERNAME, password: o.password,
    protocolVersion: v5 ? 5 : 4, reconnectPeriod: 1000, connectTimeout: 10_000, resubscribe: true,
    ...(v5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
  };
  const client = mqtt.connect(o.url, { ...options, manualConnect: true });
  let stopping = false;
  let lastMessageAt = 0;
  let inProgress = 0;

  client.handleMessage = (packet: IPublishPacket, callback) => {
    lastMessageAt = performance.now();
    const env = toEnvelope(packet, now());
    if (!env) return callback();
    inProgress++;
    void take(env).finally(() => inProgress--).then(() => callback(), (err: Error) => callback(err));
  };

  async function take(env: Envelope): Promise<void> {
    for (;;) {
      try {
        return await o.onMessage(env);
      } catch (err) {
        // no PUBACK: the broker holds this message and, behind it, this session's others
        if (stopping) throw err;
        log.warn({ err, topic: env.topic }, 'ingest could not take a message; retrying');
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  client.on('error', (err) => log.warn({ err: err.message }, 'broker connection error'));
  client.on('offline', () => log.warn({ url: o.url }, 'broker connection lost; reconnecting'));
  client.on('reconnect', () => log.debug({ url: o.url }, 'reconnecting to the broker'));

  const filters = topics.ingestFilters.map((f) => (o.share ? `$share/${o.share}/${f}` : f));

  /**
   * An orderly stop of a group member: the broker would otherwise keep handing it its share of the
   * messages while it is away (Mosquitto queues them for the absent session). Leave the group, take
   * what was already on its way, then end the session. A killed worker keeps its session, and what
   * was queued for it waits until it comes back under the same node id.
   */
  async function leaveGroup(): Promise<void> {
    try {
      await client.unsubscribeAsync(filters);
      for (const until = performance.now() + LEAVE_TIMEOUT_MS; performance.now() < until;) {
        if (inProgress === 0 && performance.now() - lastMessageAt > QUIET_MS) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      stopping = true;
      await new Promise<void>((resolve) => client.end(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } }, () => resolve()));
    } catch (err) {
      log.warn({ err }, 'could not leave the shared subscription in order; the session stays at the broker');
    }
  }
  return {
    client,
    async start() {
      // a broker that is not up yet is waited for (reconnecting every second), up to START_TIMEOUT_MS;
      // a refused login is final
      let lastError = 'no answer';
      const onError = (err: Error & { code?: string | number }) => (lastError = `${err.code ?? ''} ${err.message}`.trim());
      client.on('error', onError);
      const connack = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`GRIDPATROL_MQTT_URL ${o.url} does not answer after ${START_TIMEOUT_MS / 1000} s (${lastError}): start the broker or fix the setting`)), START_TIMEOUT_MS);
        client.once('connect', () => (clearTimeout(timer), resolve()));
        client.on('error', (err: Error & { code?: string | number }) => {
          if (typeof err.code === 'number' && err.code !== 0) {
            clearTimeout(timer);
            reject(new Error(`the broker at GRIDPATROL_MQTT_URL ${o.url} refused the login of ${SERVICE_USERNAME} (${err.message}): check GRIDPATROL_ADMIN_TOKEN and the broker's ACL`));
          }
        });
      });
      client.connect();
      try {
        await connack;
      } catch (err) {
        await client.endAsync(true);
        throw err;
      } finally {
        client.off('error', onError);
      }
      // a session the broker kept already has them; subscribing again is harmless [MQTT-3.8.4-3]
      const granted = await client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])));
      const refused = granted.filter((g) => g.qos !== 1 && g.qos !== 0);
      if (refused.length) throw new Error(`broker ${o.url} refused the subscriptions ${refused.map((g) => g.topic).join(', ')}`);
      log.info({ url: o.url, clientId: o.clientId, share: o.share ?? null }, 'subscribed to the device topics');
    },
    connected: () => client.connected,
    publish(topic, payload) {
      client.publish(topic, payload, { qos: 1 }, (err) => {
        if (err) log.warn({ err, topic }, 'publish to the broker failed');
      });
    },
    async stop() {
      if (o.share && client.connected) await leaveGroup();
      stopping = true;
      await client.endAsync(true);
    },
  };
}

/**
 * A message as the pipeline takes it; null for what is not for us: a topic outside the contract,
 * and a retained status the broker replays because we (re)subscribed — it is not news (the
 * broker clears the retain flag on live forwarding [MQTT-3.3.1-9]).
 */
function toEnvelope(packet: IPublishPacket, receivedAt: number): Envelope | null {
  if (packet.retain) return null;
  const t = parseDeviceTopic(packet.topic);
  if (!t || t.channel === 'commands') return null;
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  return { deviceId: t.deviceId, kind: t.kind, channel: t.channel, topic: packet.topic, payload, receivedAt, isWill: false };
}
