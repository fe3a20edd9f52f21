import type { MqttClient } from 'mqtt';
import { DroneCommand } from '../../core/telemetry.js';
import { topics } from '../../core/topics.js';
import { faultCount, noteError, type RunSummary } from '../run/summary.js';
import type { FaultKind } from '../world/faults.js';
import { WILL_PAYLOAD, type Emission } from '../world/types.js';
import { connectClient, DeviceLink } from './link.js';
import type { Credential } from './register.js';

export interface FleetOptions {
  mqttUrl: string;
  credentials: ReadonlyMap<string, Credential>;
  summary: RunSummary;
  /** a command from a drone's commands topic that passed DroneCommand; true when the drone takes it */
  onCommand: (drone: string, cmd: DroneCommand) => boolean;
  /** every publish's outcome: acknowledged (QoS 1) or sent (QoS 0) without `err`, else why not */
  onPublished?: (e: Extract<Emission, { type: 'publish' }>, err?: Error) => void;
}

const LOG_PAYLOAD_CHARS = 512;

/**
 * The devices' side of MQTT: one connection per device (username = device id, its own password,
 * its status topic as last will), publishing what the world emits and counting what GridPatrol
 * acknowledges; drones listen on their commands topic. Connection-level faults (wrong
 * credentials, another device's topic, reconnect storms) use connections of their own.
 */
export class Fleet {
  private readonly links = new Map<string, DeviceLink>();
  private readonly side = new Set<Promise<unknown>>();
  private faultSerial = 0;

  constructor(private readonly o: FleetOptions) {}

  private credential(id: string): Credential {
    const c = this.o.credentials.get(id);
    if (!c) throw new Error(`no credentials for device ${id}`);
    return c;
  }

  /** Connects every device, `concurrency` at a time (each connect costs the broker a password check). */
  async connectAll(devices: ReadonlyArray<{ id: string; kind: 'drone' | 'sensor' }>, concurrency = 32, onProgress?: (n: number) => void): Promise<void> {
    let done = 0;
    for (let i = 0; i < devices.length; i += concurrency) {
      await Promise.all(
        devices.slice(i, i + concurrency).map(async (d) => {
          const link = this.linkOf(d.id, d.kind);
          try {
            await link.open();
          } catch (err) {
            throw new Error(`device ${d.id} could not connect: ${(err as Error).message}`);
          }
          onProgress?.(++done);
        }),
      );
    }
  }

  private linkOf(id: string, kind: 'drone' | 'sensor'): DeviceLink {
    let link = this.links.get(id);
    if (link) return link;
    const c = this.credential(id);
    const status = topics.device(kind, id, 'status');
    link = new DeviceLink(
      id, this.o.mqttUrl,
      { username: id, password: c.password, clientId: id, will: { topic: status, payload: Buffer.from(WILL_PAYLOAD), qos: 1, retain: true } },
      {
        onConnect: (client) => {
          if (kind === 'drone') this.listenForCommands(id, client);
        },
        onUnexpectedClose: (why) => noteError(this.o.summary, `${id}: ${why}`),
        // a broker that restarted may have lost the retained status: say `online` again, as on the first connect
        onReconnect: () => this.publish(onlineStatus(kind, id)),
      },
    );
    this.links.set(id, link);
    return link;
  }

  private listenForCommands(id: string, client: MqttClient): void {
    const topic = topics.droneCommands(id);
    client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) noteError(this.o.summary, `${id}: cannot subscribe to its commands (${err.message})`);
    });
    client.on('message', (t, payload) => {
      if (t !== topic) return;
      const s = this.o.summary.commands;
      s.received++;
      let json: unknown;
      try {
        json = JSON.parse(payload.toString('utf8'));
      } catch {
        json = undefined;
      }
      const cmd = DroneCommand.safeParse(json);
      if (!cmd.success) s.invalid++;
      else if (this.o.onCommand(id, cmd.data)) s.accepted++;
      else s.refused++;
    });
  }

  /** Carries out one emission of the world. Never throws; what goes wrong is counted. */
  handle(e: Emission): void {
    const s = this.o.summary;
    switch (e.type) {
      case 'publish':
        return this.publish(e);
      case 'link_down':
        s.links.lost++;
        this.track(this.links.get(e.device)!.drop());
        return;
      case 'link_up':
        s.links.restored++;
        this.track(this.links.get(e.device)!.reopen().catch((err: Error) => noteError(s, `${e.device}: could not connect again (${err.message})`)));
        return;
      case 'wrong_credentials':
        this.track(this.wrongCredentials(e.device));
        return;
      case 'foreign_publish':
        this.track(this.foreignPublish(e.device, e.topic, e.payload));
        return;
      case 'reconnect_storm':
        this.track(this.storm(e.device, e.connections));
        return;
    }
  }

  private publish(e: Extract<Emission, { type: 'publish' }>): void {
    const s = this.o.summary;
    const link = this.links.get(e.device)!;
    const counted = e.valid || e.fault === 'out_of_order';
    const ch = s.channels[e.channel];
    const dev = counted && e.channel !== 'status' ? ((s.perDevice[e.device] ??= {})[e.channel] ??= { items: 0, itemsAcked: 0 }) : null;
    if (counted) {
      ch.sent++;
      ch.items += e.items;
      if (dev) dev.items += e.items;
    }
    const fault = e.fault ? faultCount(s, e.fault) : null;
    if (fault) fault.sent++;
    link.publish(e.topic, e.payload, e.qos, e.retain, (err) => {
      this.o.onPublished?.(e, err);
      if (err) {
        if (counted) ch.failed++;
        if (fault) fault.unexpected++;
        if (e.fault) this.log(e.fault, e.device, e.topic, e.payload, 'failed');
        noteError(s, `${e.device}: ${e.channel} not acknowledged (${err.message})`);
        return;
      }
      if (e.qos === 0) return;
      if (counted) {
        ch.acked++;
        ch.itemsAcked += e.items;
        if (dev) dev.itemsAcked += e.items;
      }
      if (fault) fault.acked++;
      if (e.fault) this.log(e.fault, e.device, e.topic, e.payload, 'acked');
    });
  }

  private log(kind: FaultKind, device: string, topic: string, payload: string, result: RunSummary['faultLog'][number]['result']): void {
    this.o.summary.faultLog.push({ kind, device, topic, payload: payload.slice(0, LOG_PAYLOAD_CHARS), result });
  }

  private track(p: Promise<unknown>): void {
    this.side.add(p);
    void p.finally(() => this.side.delete(p));
  }

  /** a connect with the device's name and a wrong password: the broker must refuse it */
  private async wrongCredentials(id: string): Promise<void> {
    const f = faultCount(this.o.summary, 'wrong_credentials');
    f.sent++;
    try {
      const client = await connectClient(this.o.mqttUrl, { username: id, password: `not-the-password-of-${id}`, clientId: `${id}-badauth-${++this.faultSerial}` });
      f.unexpected++;
      this.log('wrong_credentials', id, '', '', 'accepted');
      client.end(true);
    } catch {
      f.refused++;
      this.log('wrong_credentials', id, '', '', 'refused');
    }
  }

  /**
   * A publish on another device's topic, on a second connection of this device: the broker
   * refuses it and closes that connection (MQTT 3.1.1 has no negative acknowledgement).
   */
  private async foreignPublish(id: string, topic: string, payload: string): Promise<void> {
    const f = faultCount(this.o.summary, 'foreign_topic');
    f.sent++;
    let client: MqttClient;
    try {
      client = await connectClient(this.o.mqttUrl, { username: id, password: this.credential(id).password, clientId: `${id}-foreign-${++this.faultSerial}` });
    } catch (err) {
      f.unexpected++;
      noteError(this.o.summary, `${id}: could not connect to publish on a foreign topic (${(err as Error).message})`);
      return;
    }
    const result = await new Promise<'acked' | 'refused' | 'failed'>((resolve) => {
      const timer = setTimeout(() => resolve('failed'), 10_000);
      client.once('close', () => {
        clearTimeout(timer);
        resolve('refused');
      });
      client.publish(topic, payload, { qos: 1 }, (err) => {
        if (err) return;
        clearTimeout(timer);
        resolve('acked');
      });
    });
    client.end(true);
    if (result === 'refused') f.refused++;
    else f.unexpected++;
    this.log('foreign_topic', id, topic, payload, result === 'acked' ? 'accepted' : result);
  }

  /** connections opened and closed in quick succession with the device's credentials */
  private async storm(id: string, connections: number): Promise<void> {
    const f = faultCount(this.o.summary, 'reconnect_storm');
    f.sent++;
    const serial = ++this.faultSerial;
    let accepted = 0;
    for (let k = 1; k <= connections; k++) {
      try {
        const client = await connectClient(this.o.mqttUrl, { username: id, password: this.credential(id).password, clientId: `${id}-storm-${serial}-${k}` });
        accepted++;
        await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
      } catch {
        f.unexpected++;
      }
    }
    f.connections += accepted;
    this.log('reconnect_storm', id, '', `${accepted}/${connections} connections accepted`, accepted === connections ? 'accepted' : 'failed');
  }

  /** publishes and side connections still in flight */
  get busy(): number {
    let n = this.side.size;
    for (const l of this.links.values()) n += l.inflight;
    return n;
  }

  /** waits for every acknowledgement and side connection (at most `timeoutMs`) */
  async settle(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    await Promise.race([Promise.allSettled([...this.side]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    await Promise.all([...this.links.values()].map((l) => l.settle(Math.max(0, until - Date.now()))));
  }

  /** disconnects every device cleanly (their offline status was published before) */
  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close(5000)));
  }
}

/** The retained status a device publishes when it (re)connects (its last will says `offline`). */
function onlineStatus(kind: 'drone' | 'sensor', id: string): Extract<Emission, { type: 'publish' }> {
  const t = Date.now();
  return { type: 'publish', t, device: id, kind, channel: 'status', topic: topics.device(kind, id, 'status'), payload: JSON.stringify({ state: 'online', ts: t }), qos: 1, retain: true, items: 1, valid: true };
}
