import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** Connects one MQTT client; rejects with the broker's reason (bad credentials, refused, closed). */
export async function connectClient(url: string, opts: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, clean: true, ...opts });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => reject(err));
      client.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
  } catch (err) {
    client.end(true);
    throw err;
  }
  client.removeAllListeners('error');
  client.on('error', () => {});
  return client;
}

type Done = (err?: Error) => void;

/**
 * One device's connection as the device keeps it: publishes wait while it (re)connects and go out
 * in order; every publish ends in exactly one callback, also when the connection dies (MQTT.js
 * would keep an unacknowledged QoS 1 message for a reconnect that, here, never comes).
 */
export class DeviceLink {
  private client: MqttClient | null = null;
  private up = false;
  private readonly waiting: Array<{ send: () => void; fail: (err: Error) => void }> = [];
  private readonly pending = new Set<Done>();
  private idle: Array<() => void> = [];
  /** while true, a closed connection is what was meant (lost link, end of run) */
  private quiet = false;
  private reconnectDelayMs = 1000;
  /** drop and reopen run one after the other, in the order the world asked */
  private ops: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly url: string,
    private readonly options: IClientOptions,
    private readonly hooks: {
      onConnect?: (c: MqttClient) => void;
      onUnexpectedClose?: (why: string) => void;
      /** connected again on its own after the server closed the link (a broker restart): before any waiting publish goes out */
      onReconnect?: () => void;
    },
  ) {}

  get connected(): boolean {
    return this.up;
  }

  get inflight(): number {
    return this.pending.size;
  }

  /** connects again after a drop (queued behind it) */
  reopen(): Promise<void> {
    const op = this.ops.then(() => this.open());
    this.ops = op.catch(() => {});
    return op;
  }

  /** `first` runs once connected, before the publishes that waited for the connection. */
  async open(first?: () => void): Promise<void> {
    this.quiet = false;
    const client = await connectClient(this.url, this.options);
    this.client = client;
    this.up = true;
    this.reconnectDelayMs = 1000;
    client.on('close', () => this.closed(client));
    this.hooks.onConnect?.(client);
    first?.();
    for (const w of this.waiting.splice(0)) w.send();
  }

  private closed(client: MqttClient): void {
    if (this.client !== client) return;
    this.up = false;
    this.client = null;
    for (const done of [...this.pending]) done(new Error('connection closed before the acknowledgement'));
    if (this.quiet) return;
    this.hooks.onUnexpectedClose?.('connection closed by the server');
    this.reconnectLater();
  }

  /** A device whose connection dropped connects again, a little later each time (at most 10 s apart), until it is back or told to stop. */
  private reconnectLater(): void {
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(10_000, delay * 2);
    setTimeout(() => {
      if (this.quiet || this.client) return;
      this.open(this.hooks.onReconnect).catch((err: Error) => {
        this.hooks.onUnexpectedClose?.(`reconnect failed: ${err.message}`);
        this.reconnectLater();
      });
    }, delay).unref();
  }

  publish(topic: string, payload: string, qos: 0 | 1, retain: boolean, done: Done): void {
    if (!this.client || !this.up) {
      this.waiting.push({ send: () => this.publish(topic, payload, qos, retain, done), fail: done });
      return;
    }
    let settled = false;
    const finish: Done = (err) => {
      if (settled) return;
      settled = true;
      this.pending.delete(finish);
      done(err);
      if (this.pending.size === 0) for (const w of this.idle.splice(0)) w();
    };
    this.pending.add(finish);
    this.client.publish(topic, payload, { qos, retain }, (err) => finish(err ?? undefined));
  }

  /** resolves once nothing is awaiting an acknowledgement, or after `timeoutMs` */
  settle(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The link dies without a DISCONNECT: the socket is destroyed, so the broker publishes the
   * device's last will. What was already published is given a moment to be acknowledged first,
   * so that the run's counts stay exact.
   */
  drop(): Promise<void> {
    const op = this.ops.then(() => this.destroy());
    this.ops = op.catch(() => {});
    return op;
  }

  private async destroy(): Promise<void> {
    this.quiet = true;
    await this.settle(2000);
    const client = this.client;
    this.up = false;
    if (!client) return;
    (client.stream as Socket).destroy();
    await new Promise<void>((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
    client.end(true);
  }

  /** a clean DISCONNECT (no will) once everything was acknowledged */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.settle(timeoutMs);
    this.quiet = true;
    const client = this.client;
    this.up = false;
    this.client = null;
    for (const done of [...this.pending]) done(new Error('not acknowledged before the end of the run'));
    for (const w of this.waiting.splice(0)) w.fail(new Error('never connected again before the end of the run'));
    if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}
