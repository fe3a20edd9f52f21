import type { MqttClient } from 'mqtt';
import { connectMqtt } from './gridpatrol.js';
import { topics } from '../../core/topics.js';

/** A fixed time base, so that a seq always maps to the same device time across restarts (the store key). */
export const TIME_BASE = Date.now() - 3_600_000;

export function payloadFor(seq: number): string {
  return JSON.stringify({ ts: TIME_BASE + seq, seq, lat: 33.8123, lon: 113.9541, alt: 100, speed: 8, heading: 90, battery: 80, mode: 'patrol', rssi: -60, sats: 12 });
}

/**
 * Publishes QoS 1 telemetry with up to `inflight` messages awaiting PUBACK, until stopped or the
 * connection drops. `acked` holds exactly the seqs whose PUBACK arrived.
 */
export function publishQos1(client: MqttClient, droneId: string, firstSeq: number, opts: { inflight?: number; max?: number; onAck?: (seq: number) => void } = {}) {
  const acked = new Set<number>();
  let next = firstSeq;
  let running = true;
  const inflight = opts.inflight ?? 20;
  const last = firstSeq + (opts.max ?? Infinity);
  // MQTT.js keeps unacknowledged QoS 1 publishes pending for a reconnect: a lost connection ends the lanes
  const closed = new Promise<'closed'>((resolve) => client.once('close', () => resolve('closed')));
  const lane = async () => {
    while (running && client.connected && next < last) {
      const seq = next++;
      const result = await Promise.race([client.publishAsync(topics.droneTelemetry(droneId), payloadFor(seq), { qos: 1 }).catch(() => 'failed' as const), closed]);
      if (result === 'closed' || result === 'failed') return;
      acked.add(seq);
      opts.onAck?.(seq);
    }
  };
  const done = Promise.all(Array.from({ length: inflight }, lane));
  return {
    acked,
    get nextSeq() {
      return next;
    },
    done,
    stop() {
      running = false;
      return done;
    },
  };
}

/**
 * Publishes QoS 1 telemetry at `ratePerSec` (paced on a 10 ms tick, at most `maxInflight`
 * awaiting PUBACK) until stopped or the connection drops. `acked` holds exactly the seqs whose
 * PUBACK arrived; a PUBACK that does not come holds the pace back (the publisher does not run ahead).
 */
export function publishPaced(client: MqttClient, droneId: string, firstSeq: number, opts: { ratePerSec: number; maxInflight?: number }) {
  const acked = new Set<number>();
  const maxInflight = opts.maxInflight ?? 200;
  const started = performance.now();
  let next = firstSeq;
  let inflight = 0;
  let running = true;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const settle = () => {
    if (!running && inflight === 0) finish();
  };
  const end = () => {
    running = false;
    clearInterval(timer);
    settle();
  };
  client.once('close', () => {
    inflight = 0;
    end();
  });
  const timer = setInterval(() => {
    if (!running || !client.connected) return;
    const due = firstSeq + Math.floor((opts.ratePerSec * (performance.now() - started)) / 1000);
    while (next < due && inflight < maxInflight) {
      const seq = next++;
      inflight++;
      client.publishAsync(topics.droneTelemetry(droneId), payloadFor(seq), { qos: 1 }).then(
        () => {
          acked.add(seq);
          inflight--;
          settle();
        },
        () => {
          inflight = Math.max(0, inflight - 1);
          settle();
        },
      );
    }
  }, 10);
  return {
    acked,
    /** seqs handed to the client (acknowledged or not) end before this one */
    get nextSeq() {
      return next;
    },
    get inflight() {
      return inflight;
    },
    done,
    /** stops publishing and resolves when every PUBACK still due arrived (or the connection closed) */
    stop() {
      end();
      return done;
    },
  };
}

/**
 * A drone that behaves as a QoS 1 sender does across refusals and restarts: it publishes over a
 * fresh connection, and when the connection is closed on it, resumes at the first seq it has no
 * PUBACK for. `acked` holds every seq whose PUBACK arrived, over all connections.
 */
export class ResendingDrone {
  readonly acked = new Set<number>();
  /** the first seq without a PUBACK: where the next connection starts */
  next = 1;
  /** connections closed on it (refusals, a dying server) */
  closed = 0;
  /** every seq handed to a client is below this */
  sentBelow = 1;

  constructor(
    readonly id: string,
    readonly password: string,
  ) {}

  /** Publishes up to `count` more (5 awaiting PUBACK); resolves 'closed' when the connection was closed on it first. */
  async publish(port: number, count: number, inflight = 5): Promise<'done' | 'closed'> {
    const c = await connectMqtt(port, this.id, this.password);
    const p = publishQos1(c, this.id, this.next, { inflight, max: count, onAck: (s) => this.acked.add(s) });
    this.current = p;
    await p.done;
    this.current = undefined;
    const closed = !c.connected;
    c.end(true);
    this.sentBelow = Math.max(this.sentBelow, p.nextSeq);
    while (this.acked.has(this.next)) this.next++;
    if (closed) this.closed++;
    return closed ? 'closed' : 'done';
  }

  /** Stops the publish in progress (it resolves 'done' once its PUBACKs are in). */
  stop(): Promise<void> | undefined {
    return this.current?.stop().then(() => undefined);
  }

  private current: ReturnType<typeof publishQos1> | undefined;
}
