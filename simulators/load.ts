import mqtt, { type MqttClient } from 'mqtt';
import { DroneTelemetry, type DroneMode } from '../core/telemetry.js';
import { topics } from '../core/topics.js';
import { encodeHistogram, latencyHistogram, summarizeLatency, type Histogram, type LatencySummary } from './lib/latency.js';
import { Rng } from './lib/rng.js';

/**
 * A load generator that speaks only the public interface (CONTRACT v1): one MQTT connection per
 * drone, valid telemetry on the drone's own topic, paced per device, and the time from each
 * publish to its PUBACK. Cheap per message on purpose (a random walk, not the flight model of
 * world/), so that it is not the bottleneck. Used by `npm run bench` and `npm run sim -- load`.
 */

export interface LoadDevice {
  id: string;
  password: string;
}

export interface LoadOptions {
  mqttPort: number;
  /** default 127.0.0.1 */
  host?: string;
  devices: readonly LoadDevice[];
  /** messages per second, per device */
  ratePerDevice: number;
  /** how long to publish, ms */
  durationMs: number;
  qos: 0 | 1;
  /** 1: one telemetry object per message; more: a JSON array of that many objects */
  batchSize: number;
  /** first `seq` of every device (default 1); continue a device's stream with the previous result's `nextSeq` */
  seqStart?: number;
  /**
   * When set, an object's `ts` is `tsOrigin + seq`, epoch ms: unique per device and seq, so a
   * store keyed by (device, time) keeps every point even at over 1000 points/s per device. Unset:
   * the device clock, kept strictly increasing per device.
   */
  tsOrigin?: number;
  /** longest wait for outstanding PUBACKs after the last publish, ms (default 10 000) */
  ackTimeoutMs?: number;
  /** called once every client is connected, just before the first publish */
  onReady?: () => void | Promise<void>;
  /** seed of the position random walk (default 1) */
  seed?: number;
  /** pacing tick, ms (default 5) */
  tickMs?: number;
  /** called about every 250 ms while publishing */
  onProgress?: (p: { sent: number; acked: number; failed: number; elapsedMs: number }) => void;
}

export interface LoadResult {
  /** messages published */
  sent: number;
  /** QoS 1 PUBACKs received (0 for QoS 0) */
  acked: number;
  /** telemetry objects sent */
  points: number;
  /** telemetry objects in acknowledged messages */
  pointsAcked: number;
  /** from the first publish to the last PUBACK (QoS 1) or the last publish (QoS 0), ms */
  elapsedMs: number;
  /** from the first publish to the last, ms */
  sendMs: number;
  /** the seq each device would send next */
  nextSeq: number;
  /** QoS 1 messages that were not acknowledged (a failed publish, a closed connection, the timeout) */
  failed: number;
  /** connections closed by the server or failed publishes, with the first few reasons */
  errors: { count: number; samples: string[] };
  /** publish → PUBACK (QoS 1; empty for QoS 0) */
  latency: LatencySummary;
  /** the same, as an HdrHistogram to merge across worker processes (`addEncoded`) */
  latencyHistogram: string;
}

/** The bundled sample county spans 33.70–33.99 N, 113.74–114.09 E; the walk stays well inside. */
const AREA = { latMin: 33.74, latMax: 33.95, lonMin: 113.8, lonMax: 114.03 };
const METRES_PER_DEG_LAT = 111_320;
const MODES: readonly DroneMode[] = ['patrol', 'patrol', 'patrol', 'goto'];

/** One simulated drone: a random walk at patrol speed, its own seq and clock. */
class Drone {
  private lat: number;
  private lon: number;
  private heading: number;
  private battery = 100;
  private lastTs = 0;

  constructor(
    readonly id: string,
    public seq: number,
    private readonly rng: Rng,
  ) {
    this.lat = rng.range(AREA.latMin, AREA.latMax);
    this.lon = rng.range(AREA.lonMin, AREA.lonMax);
    this.heading = rng.range(0, 360);
  }

  /** The next telemetry object; `dtS` seconds after the previous one. */
  next(tsOrigin: number | undefined, dtS: number): DroneTelemetry {
    const r = () => this.rng.float();
    const speed = 6 + r() * 6; // m/s
    this.heading = (this.heading + (r() - 0.5) * 30 + 360) % 360;
    const rad = (this.heading * Math.PI) / 180;
    this.lat += (Math.cos(rad) * speed * dtS) / METRES_PER_DEG_LAT;
    this.lon += (Math.sin(rad) * speed * dtS) / (METRES_PER_DEG_LAT * Math.cos((this.lat * Math.PI) / 180));
    // turn back at the edge of the area instead of leaving the county
    if (this.lat < AREA.latMin || this.lat > AREA.latMax || this.lon < AREA.lonMin || this.lon > AREA.lonMax) {
      this.lat = Math.min(AREA.latMax, Math.max(AREA.latMin, this.lat));
      this.lon = Math.min(AREA.lonMax, Math.max(AREA.lonMin, this.lon));
      this.heading = (this.heading + 180) % 360;
    }
    this.battery = Math.max(5, this.battery - 0.001);
    const seq = this.seq++;
    const ts = tsOrigin !== undefined ? tsOrigin + seq : (this.lastTs = Math.max(Date.now(), this.lastTs + 1));
    return {
      ts, seq,
      lat: round(this.lat, 6), lon: round(this.lon, 6), alt: round(110 + r() * 20, 1),
      speed: round(speed, 1), heading: round(this.heading, 1), battery: round(this.battery, 1),
      mode: MODES[Math.floor(r() * MODES.length)]!, rssi: -60 - Math.floor(r() * 25), sats: 10 + Math.floor(r() * 8),
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Refuses to run when the generated payload does not pass the contract's own schema. */
function checkAgainstContract(items: readonly DroneTelemetry[]): void {
  for (const item of items) {
    const res = DroneTelemetry.safeParse(item);
    if (!res.success) throw new Error(`simulator drifted from CONTRACT telemetry: ${res.error.message}`);
  }
}

async function connect(host: string, port: number, d: LoadDevice): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://${host}:${port}`, {
    username: d.id, password: d.password, clientId: `${d.id}-load`, clean: true, reconnectPeriod: 0, connectTimeout: 10_000,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => reject(new Error(`${d.id}: ${err.message}`)));
      client.once('close', () => reject(new Error(`${d.id}: connection closed before CONNACK`)));
    });
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

/** Connects every device, publishes for `durationMs` at the given rate, waits for the PUBACKs. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (!(o.ratePerDevice > 0) || !(o.durationMs > 0) || !(o.batchSize >= 1)) throw new Error('ratePerDevice, durationMs and batchSize must be positive');
  const host = o.host ?? '127.0.0.1';
  const seqStart = o.seqStart ?? 1;
  const rng = Rng.seeded(o.seed ?? 1);
  const drones = o.devices.map((d) => new Drone(d.id, seqStart, rng));
  const histogram: Histogram = latencyHistogram();
  const topicOf = o.devices.map((d) => topics.droneTelemetry(d.id));
  const errors = { count: 0, samples: [] as string[] };
  const fail = (msg: string): void => {
    errors.count++;
    if (errors.samples.length < 5) errors.samples.push(msg);
  };

  const dtS = 1 / o.ratePerDevice;
  const itemsOf = (i: number): DroneTelemetry[] => Array.from({ length: o.batchSize }, () => drones[i]!.next(o.tsOrigin, dtS / o.batchSize));
  // the first payload goes through the contract's schema before anything is connected or sent
  const prepared: Array<DroneTelemetry[] | undefined> = [itemsOf(0)];
  checkAgainstContract(prepared[0]!);
  const payloadOf = (i: number): { body: string; n: number } => {
    const items = prepared[i] ?? itemsOf(i);
    prepared[i] = undefined;
    return { body: JSON.stringify(o.batchSize === 1 ? items[0] : items), n: items.length };
  };

  let ending = false;
  let allAcked: (() => void) | undefined;
  const connected = await Promise.allSettled(o.devices.map((d) => connect(host, o.mqttPort, d)));
  const refused = connected.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (refused.length) {
    for (const r of connected) if (r.status === 'fulfilled') r.value.end(true);
    throw new Error(`${refused.length} of ${o.devices.length} devices could not connect; first: ${(refused[0]!.reason as Error).message}`);
  }
  const clients = connected.map((r) => (r as PromiseFulfilledResult<MqttClient>).value);
  const alive = clients.map(() => true);
  clients.forEach((c, i) =>
    c.on('close', () => {
      if (alive[i] && !ending) fail(`${o.devices[i]!.id}: connection closed by the server`);
      alive[i] = false;
      // nothing outstanding on a closed connection will be acknowledged any more
      if (!alive.includes(true)) allAcked?.();
    }),
  );

  let sent = 0;
  let acked = 0;
  let points = 0;
  let pointsAcked = 0;
  let lastAckAt = 0;
  let lastSendAt = 0;
  let outstanding = 0;
  let failed = 0;
  let abandoned = false;
  let started = 0;
  try {
    await o.onReady?.();
  } catch (err) {
    ending = true;
    for (const c of clients) c.end(true);
    throw err;
  }

  const perDevice = new Array<number>(drones.length).fill(0);
  // spread the devices over one period so they do not all publish in the same tick
  const phaseMs = drones.map((_, i) => (i / drones.length) * (1000 / o.ratePerDevice));
  started = performance.now();

  const publish = (i: number): void => {
    const { body, n } = payloadOf(i);
    sent++;
    points += n;
    if (o.qos === 1) outstanding++;
    const sentAt = performance.now();
    clients[i]!.publish(topicOf[i]!, body, { qos: o.qos }, (err) => {
      if (o.qos === 0 || abandoned) return;
      outstanding--;
      if (err) {
        failed++;
        fail(`${o.devices[i]!.id}: ${err.message}`);
      } else {
        acked++;
        pointsAcked += n;
        lastAckAt = performance.now();
        histogram.recordValue(Math.max(1, Math.round((lastAckAt - sentAt) * 1000)));
      }
      if (outstanding === 0) allAcked?.();
    });
  };

  let lastProgressAt = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = Math.min(performance.now() - started, o.durationMs);
      for (let i = 0; i < drones.length; i++) {
        if (!alive[i]) continue;
        const due = Math.floor(((elapsed + phaseMs[i]!) * o.ratePerDevice) / 1000);
        while (perDevice[i]! < due && alive[i]) {
          perDevice[i]!++;
          publish(i);
        }
      }
      lastSendAt = performance.now();
      if (o.onProgress && lastSendAt - lastProgressAt >= 250) {
        lastProgressAt = lastSendAt;
        o.onProgress({ sent, acked, failed, elapsedMs: lastSendAt - started });
      }
      if (elapsed >= o.durationMs) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, o.tickMs ?? 5);
    tick();
  });

  if (o.qos === 1 && outstanding > 0 && alive.includes(true)) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.ackTimeoutMs ?? 10_000);
      allAcked = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  if (outstanding > 0) fail(`${outstanding} messages not acknowledged (${alive.includes(true) ? `within ${o.ackTimeoutMs ?? 10_000} ms` : 'connections closed'})`);
  // what is still outstanding is abandoned below: counted as failed now, once
  failed += outstanding;
  abandoned = true;

  ending = true;
  const endAt = o.qos === 1 ? Math.max(lastAckAt, started) : lastSendAt;
  // force: messages still unacknowledged are abandoned (their fate is the server's to report)
  await Promise.all(clients.map((c) => new Promise<void>((resolve) => c.end(outstanding > 0, {}, () => resolve()))));
  return {
    sent, acked, points, pointsAcked,
    elapsedMs: endAt - started,
    sendMs: lastSendAt - started,
    nextSeq: seqStart + Math.max(...drones.map((d) => d.seq - seqStart)),
    failed,
    errors,
    latency: summarizeLatency(histogram),
    latencyHistogram: encodeHistogram(histogram),
  };
}
