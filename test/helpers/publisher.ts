import type { MqttClient } from 'mqtt';
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
export function publishQos1(client: MqttClient, droneId: string, firstSeq: number, opts: { inflight?: number; max?: number } = {}) {
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
