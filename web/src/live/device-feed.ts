import mqtt from 'mqtt';
import { parseDeviceTopic, TOPIC_ROOT } from '../../../core/topics.js';

/** One telemetry object as a drone sends it (CONTRACT: Telemetry); only what the map uses is checked. */
export interface TelemetryMsg {
  ts: number;
  lat: number;
  lon: number;
  alt: number;
  speed: number;
  heading: number;
  battery: number;
  mode: string;
  rssi: number;
}

export interface ReadingMsg {
  ts: number;
  metric: string;
  value: number;
  unit?: string;
}

export type FeedState = 'connecting' | 'live' | 'down';

export interface DeviceFeedHandlers {
  telemetry(droneId: string, t: TelemetryMsg[]): void;
  readings(sensorId: string, r: ReadingMsg[]): void;
  status(kind: 'drone' | 'sensor', id: string, online: boolean): void;
  state(s: FeedState, detail?: string): void;
}

const FILTERS = [`${TOPIC_ROOT}/drones/+/telemetry`, `${TOPIC_ROOT}/drones/+/status`, `${TOPIC_ROOT}/sensors/+/readings`, `${TOPIC_ROOT}/sensors/+/status`];

/**
 * Live device data over MQTT over WebSocket (CONTRACT: people connect with username `token` and
 * an API token as password; operators may watch every drone and sensor topic). QoS 0: a map
 * wants the newest position, not every one. Payloads are untrusted: anything malformed is skipped.
 */
export function connectDeviceFeed(url: string, token: string, on: DeviceFeedHandlers): { close(): void } {
  on.state('connecting');
  const client = mqtt.connect(url, {
    username: 'token',
    password: token,
    clientId: `dashboard-${Math.random().toString(36).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: 3000,
    connectTimeout: 10_000,
    keepalive: 30,
  });
  client.on('connect', () => {
    client.subscribe(FILTERS, { qos: 0 }, (err) => (err ? on.state('down', `subscribe: ${err.message}`) : on.state('live')));
  });
  client.on('reconnect', () => on.state('connecting'));
  client.on('close', () => on.state('down', 'MQTT over WebSocket closed; reconnecting'));
  client.on('error', (err) => on.state('down', err.message));
  client.on('message', (topic, payload) => {
    const t = parseDeviceTopic(topic);
    if (!t) return;
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return;
    }
    const items = Array.isArray(body) ? body : [body];
    if (t.channel === 'telemetry') {
      const ok = items.map(toTelemetry).filter((x): x is TelemetryMsg => x !== null);
      if (ok.length) on.telemetry(t.deviceId, ok);
    } else if (t.channel === 'readings') {
      const ok = items.map(toReading).filter((x): x is ReadingMsg => x !== null);
      if (ok.length) on.readings(t.deviceId, ok);
    } else if (t.channel === 'status') {
      const state = (body as { state?: unknown } | null)?.state;
      if (state === 'online' || state === 'offline') on.status(t.kind, t.deviceId, state === 'online');
    }
  });
  return { close: () => void client.end(true) };
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function time(v: unknown): number | null {
  if (finite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

function toTelemetry(x: unknown): TelemetryMsg | null {
  const o = x as Record<string, unknown> | null;
  const ts = time(o?.ts);
  if (!o || ts === null || !finite(o.lat) || !finite(o.lon) || Math.abs(o.lat) > 90 || Math.abs(o.lon) > 180) return null;
  const n = (v: unknown) => (finite(v) ? v : NaN);
  return { ts, lat: o.lat, lon: o.lon, alt: n(o.alt), speed: n(o.speed), heading: n(o.heading), battery: n(o.battery), mode: typeof o.mode === 'string' ? o.mode : 'idle', rssi: n(o.rssi) };
}

function toReading(x: unknown): ReadingMsg | null {
  const o = x as Record<string, unknown> | null;
  const ts = time(o?.ts);
  if (!o || ts === null || typeof o.metric !== 'string' || !finite(o.value)) return null;
  return { ts, metric: o.metric, value: o.value, ...(typeof o.unit === 'string' && { unit: o.unit }) };
}
