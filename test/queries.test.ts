import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { connectMqtt, eventually, registerDevice, startInProcess, testEnv } from './helpers/gridpatrol.js';
import { influxProbe, sqliteProbe, type StoreProbe } from './helpers/stores.js';

const HOURS = 6;
const HZ = 10;
const POINTS = HOURS * 3600 * HZ; // 216,000
const PER_MESSAGE = 300;
const CENTRE = { lat: 33.84, lon: 113.92 };

/** A drone circling CENTRE once an hour: every stored point lies on the circle, so the reduced track can be checked for shape. */
function position(i: number) {
  const angle = (2 * Math.PI * i) / (3600 * HZ);
  return { lat: CENTRE.lat + 0.01 * Math.sin(angle), lon: CENTRE.lon + 0.012 * Math.cos(angle) };
}

describe.each([['sqlite'], ['influx']] as const)('queries that hold up (%s store)', (storeName) => {
  let probe: StoreProbe;
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  afterAll(async () => {
    await gp?.stop();
    await probe?.close();
  });

  it('reduces 6 hours of 10 Hz telemetry sent over MQTT to 500 points that keep the shape, and a day of readings to 5-minute windows', async () => {
    probe = storeName === 'sqlite' ? await sqliteProbe() : await influxProbe();
    const env = testEnv();
    gp = await startInProcess({ ...env, ...probe.env(env.GRIDPATROL_DATA_DIR), GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    const drone = await connectMqtt(gp.ports.mqttPort, 'drone-q', await registerDevice(gp.http, 'drone-q', 'drone'));
    const sensor = await connectMqtt(gp.ports.mqttPort, 'gauge-q', await registerDevice(gp.http, 'gauge-q', 'sensor', 'LY-C3'));
    const start = Math.floor((Date.now() - 2 * 86_400_000) / 300_000) * 300_000; // on a 5-minute boundary

    for (let first = 0; first < POINTS; first += PER_MESSAGE) {
      const batch = [];
      for (let i = first; i < Math.min(POINTS, first + PER_MESSAGE); i++)
        batch.push({ ts: start + i * (1000 / HZ), seq: i, ...position(i), alt: 80, speed: 9, heading: 90, battery: 90, mode: 'patrol', rssi: -60, sats: 12 });
      await drone.publishAsync(topics.droneTelemetry('drone-q'), JSON.stringify(batch), { qos: 1 });
    }
    // a day of readings, one a minute: value = minute of the day
    const readings = Array.from({ length: 1440 }, (_, m) => ({ ts: start + m * 60_000, seq: m, metric: 'water_level', value: m, unit: 'm' }));
    for (let i = 0; i < readings.length; i += 240) await sensor.publishAsync(topics.sensorReadings('gauge-q'), JSON.stringify(readings.slice(i, i + 240)), { qos: 1 });
    await eventually(async () => (await probe.count('drone_telemetry')) === POINTS && (await probe.count('sensor_reading')) === 1440, 120_000, 500);
    drone.end(true);
    sensor.end(true);

    let t0 = performance.now();
    const track = await gp.http('GET', `/api/v1/drones/drone-q/track?from=${start}&to=${start + HOURS * 3_600_000}&limit=500`);
    const trackMs = performance.now() - t0;
    expect(track.status).toBe(200);
    const pts = track.json.items as Array<{ ts: string; lat: number; lon: number }>;
    expect(pts.length).toBeGreaterThan(400);
    expect(pts.length).toBeLessThanOrEqual(500);
    const times = pts.map((p) => Date.parse(p.ts));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const bucket = (HOURS * 3_600_000) / 500;
    expect(times[0]! - start).toBeLessThan(2 * bucket);
    expect(start + HOURS * 3_600_000 - times[times.length - 1]!).toBeLessThan(2 * bucket);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThan(3 * bucket);
    for (const p of pts) {
      // on the circle: ((lat-c)/0.01)^2 + ((lon-c)/0.012)^2 = 1
      const r = ((p.lat - CENTRE.lat) / 0.01) ** 2 + ((p.lon - CENTRE.lon) / 0.012) ** 2;
      expect(r).toBeCloseTo(1, 6);
    }

    t0 = performance.now();
    const windows = await gp.http('GET', `/api/v1/sensors/gauge-q/readings?from=${start}&to=${start + 86_400_000 - 1}&every=5m`);
    const readingsMs = performance.now() - t0;
    const items = windows.json.items as Array<{ ts: string; mean: number; min: number; max: number; count: number }>;
    expect(items).toHaveLength(288);
    const total = items.reduce((s, w) => s + w.count, 0);
    expect(total).toBe(1440);
    items.forEach((w, k) => expect(w).toMatchObject({ count: 5, min: 5 * k, max: 5 * k + 4, mean: 5 * k + 2 }));
    console.info(`[${storeName}] track 6 h @ 10 Hz → ${pts.length} points: ${trackMs.toFixed(0)} ms; readings 1 day → 288 windows: ${readingsMs.toFixed(0)} ms`);
  }, 240_000);
});
