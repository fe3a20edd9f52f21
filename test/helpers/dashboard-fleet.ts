import type { MqttClient } from 'mqtt';
import { topics } from '../../core/topics.js';
import { loadGrids } from '../../lib/grids.js';
import { connectMqtt, type Http } from './gridpatrol.js';

/**
 * Traffic for the dashboard test, through GridPatrol's public interface only: devices registered
 * over HTTP, each connected over MQTT with its own password. Drones fly seeded circles inside the
 * sample county (clear of the no-fly zones, under the ceiling, batteries well charged, so the only
 * alerts are the ones a test causes); sensors stand at seeded points in cells.
 */

const M_PER_DEG = 111_320;
const MODES = ['patrol', 'patrol', 'patrol', 'goto', 'patrol', 'patrol', 'patrol', 'rth', 'patrol', 'takeoff'] as const;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

interface Orbit {
  lat: number;
  lon: number;
  radiusM: number;
  speed: number;
  phase: number;
  mode: string;
  battery: number;
  alt: number;
  rssi: number;
}

export interface DroneFleet {
  ids: string[];
  /** telemetry messages published so far */
  sent(): number;
  /** where a drone is at time t (ms) */
  position(id: string, t: number): { lat: number; lon: number };
  /** publishes one detection event from a drone where it is now */
  detect(id: string, kind: string, confidence: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetOptions {
  count: number;
  /** telemetry messages per drone per second */
  hz: number;
  prefix?: string;
  seed?: number;
  /** the first drone also publishes its track over this many ms before now (playback, charts) */
  historyMs?: number;
}

/** A random point inside a cell of the sample county, at least `clearM` from every no-fly zone. */
function pointInCounty(r: () => number, clearM: number): { lat: number; lon: number; gridId: string } {
  const grids = countyGrids();
  for (;;) {
    const lat = COUNTY.minLat + r() * (COUNTY.maxLat - COUNTY.minLat);
    const lon = COUNTY.minLon + r() * (COUNTY.maxLon - COUNTY.minLon);
    const gridId = grids.cellAt(lat, lon);
    if (gridId === 'none') continue;
    const near = grids.noFly.some((f) => {
      const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0]! : f.geometry.coordinates[0]![0]!;
      return ring.some(([x, y]) => Math.hypot((x! - lon) * M_PER_DEG * Math.cos((lat * Math.PI) / 180), (y! - lat) * M_PER_DEG) < clearM);
    });
    if (!near) return { lat, lon, gridId };
  }
}

/** the sample county's extent (assets/sample-county.geojson) */
const COUNTY = { minLat: 33.7, maxLat: 33.988, minLon: 113.74, maxLon: 114.088 };

let gridsCache: ReturnType<typeof loadGrids> | undefined;
const countyGrids = () => (gridsCache ??= loadGrids());

function at(o: Orbit, t: number) {
  if (o.mode === 'landed') return { lat: o.lat, lon: o.lon, heading: 0, speed: 0 };
  const a = o.phase + ((o.speed / o.radiusM) * t) / 1000;
  const east = o.radiusM * Math.cos(a);
  const north = o.radiusM * Math.sin(a);
  const lat = o.lat + north / M_PER_DEG;
  const lon = o.lon + east / (M_PER_DEG * Math.cos((o.lat * Math.PI) / 180));
  const heading = ((Math.atan2(-Math.sin(a), Math.cos(a)) * 180) / Math.PI + 360) % 360;
  return { lat, lon, heading, speed: o.speed };
}

export async function startDroneFleet(http: Http, mqttPort: number, o: FleetOptions): Promise<DroneFleet> {
  const prefix = o.prefix ?? 'drone';
  const r = rng(o.seed ?? 7);
  const ids = Array.from({ length: o.count }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
  const orbits = new Map<string, Orbit>();
  ids.forEach((id, i) => {
    // a circle that stays inside the county and clear of the no-fly zones
    for (;;) {
      const c = pointInCounty(r, 1500);
      const orbit: Orbit = {
        lat: c.lat, lon: c.lon, radiusM: 250 + r() * 450, speed: 7 + r() * 7, phase: r() * 2 * Math.PI,
        mode: i % 50 === 49 ? 'landed' : MODES[i % MODES.length]!, battery: 70 + r() * 28, alt: 80 + r() * 30, rssi: -55 - r() * 30,
      };
      const inside = Array.from({ length: 12 }, (_, k) => {
        const a = (k / 12) * 2 * Math.PI;
        return countyGrids().cellAt(c.lat + (orbit.radiusM * Math.sin(a)) / M_PER_DEG, c.lon + (orbit.radiusM * Math.cos(a)) / (M_PER_DEG * Math.cos((c.lat * Math.PI) / 180)));
      }).every((cell) => cell !== 'none');
      if (!inside) continue;
      orbits.set(id, orbit);
      break;
    }
  });
  const passwords = await pool(ids, 6, async (id) => {
    const res = await http('POST', '/api/v1/devices', { id, kind: 'drone' });
    if (res.status !== 201) throw new Error(`register ${id}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json.password as string;
  });
  const clients = await pool(ids, 10, (id, i) => connectMqtt(mqttPort, id, passwords[i]!, { will: { topic: topics.droneStatus(id), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true } }));
  const byId = new Map<string, MqttClient>(ids.map((id, i) => [id, clients[i]!]));
  const seq = new Map<string, number>(ids.map((id) => [id, 0]));
  const started = Date.now();
  const telemetry = (id: string, t: number) => {
    const orbit = orbits.get(id)!;
    const p = at(orbit, t - started);
    const n = seq.get(id)!;
    seq.set(id, n + 1);
    const airborne = orbit.mode !== 'landed';
    return {
      ts: t, seq: n, lat: +p.lat.toFixed(6), lon: +p.lon.toFixed(6), alt: airborne ? +orbit.alt.toFixed(1) : 0, speed: +p.speed.toFixed(1),
      heading: +p.heading.toFixed(1), battery: +Math.max(45, orbit.battery - (t - started + (o.historyMs ?? 0)) / 120_000).toFixed(1),
      mode: orbit.mode, rssi: Math.round(orbit.rssi + 4 * Math.sin(n / 9)), sats: 14,
    };
  };

  await Promise.all(ids.map((id) => byId.get(id)!.publishAsync(topics.droneStatus(id), '{"state":"online"}', { qos: 1, retain: true })));
  if (o.historyMs) {
    // a past patrol for the first drone, 1 Hz, sent as arrays of 60 points
    const id = ids[0]!;
    const from = Date.now() - o.historyMs;
    const points = [];
    for (let t = from; t < Date.now() - 1000; t += 1000) points.push(telemetry(id, t));
    for (let i = 0; i < points.length; i += 60) await byId.get(id)!.publishAsync(topics.droneTelemetry(id), JSON.stringify(points.slice(i, i + 60)), { qos: 1 });
  }

  let sent = 0;
  const periodMs = 1000 / o.hz;
  const due = new Map<string, number>(ids.map((id, i) => [id, Date.now() + (i / ids.length) * periodMs]));
  // one timer for the whole fleet; each drone's phase is spread over the period
  const timer = setInterval(() => {
    const now = Date.now();
    for (const id of ids) {
      if (due.get(id)! > now) continue;
      due.set(id, due.get(id)! + periodMs);
      byId.get(id)!.publish(topics.droneTelemetry(id), JSON.stringify(telemetry(id, now)), { qos: 0 });
      sent++;
    }
  }, 20);

  return {
    ids,
    sent: () => sent,
    position: (id, t) => at(orbits.get(id)!, t - started),
    async detect(id, kind, confidence) {
      const p = at(orbits.get(id)!, Date.now() - started);
      await byId.get(id)!.publishAsync(topics.droneEvents(id), JSON.stringify({ ts: Date.now(), kind, confidence, lat: p.lat, lon: p.lon }), { qos: 1 });
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}

export interface SensorField {
  ids: string[];
  /** publishes readings as one of the connected sensors (QoS 1) */
  publish(id: string, readings: object[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Registers `count` sensors at seeded points in cells; the first `live` of them connect, say they
 * are online and publish one reading; the first also sends `historyMs` of water levels at one
 * reading a minute (for the readings chart and its thresholds).
 */
export async function startSensorField(http: Http, mqttPort: number, o: { count: number; live: number; historyMs?: number; seed?: number }): Promise<SensorField> {
  const r = rng(o.seed ?? 11);
  const ids = Array.from({ length: o.count }, (_, i) => `sensor-${String(i + 1).padStart(4, '0')}`);
  const places = ids.map(() => pointInCounty(r, 0));
  const passwords = await pool(ids, 8, async (id, i) => {
    const p = places[i]!;
    const res = await http('POST', '/api/v1/devices', { id, kind: 'sensor', gridId: p.gridId, lat: +p.lat.toFixed(6), lon: +p.lon.toFixed(6) });
    if (res.status !== 201) throw new Error(`register ${id}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json.password as string;
  });
  const live = ids.slice(0, o.live);
  const clients = await pool(live, 10, async (id, i) => {
    const c = await connectMqtt(mqttPort, id, passwords[i]!);
    await c.publishAsync(topics.sensorStatus(id), '{"state":"online"}', { qos: 1, retain: true });
    const metric = i === 0 ? 'water_level' : (['temperature', 'humidity', 'pm25', 'noise'] as const)[i % 4]!;
    const value = metric === 'water_level' ? 2.9 : metric === 'temperature' ? 18 + (i % 9) : 40 + (i % 30);
    const readings = [];
    if (i === 0 && o.historyMs) {
      const from = Date.now() - o.historyMs;
      let n = 0;
      for (let t = from; t < Date.now(); t += 60_000, n++)
        readings.push({ ts: t, seq: n, metric, unit: 'm', value: +(2.6 + 0.5 * ((t - from) / o.historyMs) + 0.015 * Math.sin(n / 15)).toFixed(3) });
    } else readings.push({ ts: Date.now(), seq: 0, metric, value, unit: metric === 'temperature' ? '°C' : metric === 'water_level' ? 'm' : '' });
    await c.publishAsync(topics.sensorReadings(id), JSON.stringify(readings), { qos: 1 });
    return c;
  });
  return {
    ids,
    async publish(id, readings) {
      const c = clients[live.indexOf(id)];
      if (!c) throw new Error(`${id} is not one of the connected sensors`);
      await c.publishAsync(topics.sensorReadings(id), JSON.stringify(readings), { qos: 1 });
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}
