import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/topics.js';
import { connectMqtt, eventually, registerDevice, startInProcess, telemetry, testEnv, type Http } from './helpers/gridpatrol.js';
import { influxProbe, sqliteProbe, type StoreProbe } from './helpers/stores.js';

/**
 * The spine end to end, once per store: real MQTT connections into the embedded broker, real
 * HTTP, and the rows read back from the store itself (SQLite file / influxd's InfluxQL).
 */
describe.each([['sqlite'], ['influx']] as const)('pipeline with the %s store', (storeName) => {
  let probe: StoreProbe;
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let h: Http;
  let drone: MqttClient;
  let sensor: MqttClient;
  let dronePassword: string;

  beforeAll(async () => {
    probe = storeName === 'sqlite' ? await sqliteProbe() : await influxProbe();
    const env = testEnv();
    gp = await startInProcess({ ...env, ...probe.env(env.GRIDPATROL_DATA_DIR) });
    h = gp.http;
    dronePassword = await registerDevice(h, 'drone-1', 'drone', 'LY-C3');
    drone = await connectMqtt(gp.ports.mqttPort, 'drone-1', dronePassword);
    sensor = await connectMqtt(gp.ports.mqttPort, 'river-7', await registerDevice(h, 'river-7', 'sensor', 'LY-B2'));
  });

  afterAll(async () => {
    drone?.end(true);
    sensor?.end(true);
    await gp?.stop();
    await probe?.close();
  });

  it('stores telemetry, batches, events and readings with the contract measurements, tags and fields', async () => {
    const t1 = telemetry(1, { vs: 0.5, voltage: 22.1, patrolId: 'p-9' });
    await drone.publishAsync(topics.droneTelemetry('drone-1'), JSON.stringify(t1), { qos: 1 });
    await drone.publishAsync(topics.droneTelemetry('drone-1'), JSON.stringify([telemetry(2), telemetry(3, { lat: 0, lon: 0 })]), { qos: 1 });
    await drone.publishAsync(topics.droneEvents('drone-1'), JSON.stringify({ ts: t1.ts, kind: 'smoke', confidence: 0.91, lat: 33.8123, lon: 113.9541, imageUrl: 'https://example.org/snap.jpg' }), { qos: 1 });
    await sensor.publishAsync(topics.sensorReadings('river-7'), JSON.stringify({ ts: new Date(t1.ts).toISOString(), seq: 7, metric: 'water_level', value: 1.82, unit: 'm' }), { qos: 1 });

    const rows = await eventually(async () => {
      const r = await probe.rows('drone_telemetry');
      return r.length === 3 && r;
    });
    expect(rows[0]).toMatchObject({ time: t1.ts, drone_id: 'drone-1', grid_id: expect.stringMatching(/^LY-/), seq: 1, lat: 33.8123, lon: 113.9541, alt: 118.5, speed: 8.2, heading: 270, battery: 76, rssi: -67, sats: 14, vs: 0.5, voltage: 22.1, mode: 'patrol', patrol_id: 'p-9' });
    expect(rows[2]).toMatchObject({ seq: 3, grid_id: 'none' });

    const [event] = await eventually(async () => { const r = await probe.rows('drone_event'); return r.length > 0 && r; });
    expect(event).toMatchObject({ time: t1.ts, drone_id: 'drone-1', kind: 'smoke', confidence: 0.91, image_url: 'https://example.org/snap.jpg', grid_id: rows[0]!.grid_id });
    const [reading] = await eventually(async () => { const r = await probe.rows('sensor_reading'); return r.length > 0 && r; });
    expect(reading).toMatchObject({ time: t1.ts, sensor_id: 'river-7', grid_id: 'LY-B2', metric: 'water_level', value: 1.82, seq: 7, unit: 'm' });

    if (probe.name === 'influx') {
      // tags are tags (not fields) and seq is an integer field: what Grafana users rely on
      const res = await fetch(`${probe.influxd!.url}/query?db=gridpatrol&q=${encodeURIComponent('SHOW TAG KEYS; SHOW FIELD KEYS FROM drone_telemetry')}`);
      const body = (await res.json()) as { results: Array<{ series: Array<{ name: string; values: string[][] }> }> };
      const tagKeys = Object.fromEntries(body.results[0]!.series.map((s) => [s.name, s.values.map((v) => v[0]).sort()]));
      expect(tagKeys).toEqual({ alert_transition: ['grid_id', 'rule', 'severity'], drone_event: ['drone_id', 'grid_id', 'kind'], drone_telemetry: ['drone_id', 'grid_id'], sensor_reading: ['grid_id', 'metric', 'sensor_id'] });
      const fieldTypes = Object.fromEntries(body.results[1]!.series[0]!.values);
      expect(fieldTypes).toMatchObject({ seq: 'integer', lat: 'float', battery: 'float', sats: 'float', mode: 'string', patrol_id: 'string' });
    }
  });

  it('answers the fleet, the track and the readings through the API', async () => {
    await drone.publishAsync(topics.droneStatus('drone-1'), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    const drones = await eventually(async () => {
      const r = await h('GET', '/api/v1/drones');
      return r.json.items?.[0]?.online === true && r;
    });
    expect(drones.json.items[0]).toMatchObject({ id: 'drone-1', registered: true, online: true, assignedGridId: 'LY-C3', last: { seq: 3, mode: 'patrol' } });
    expect(drones.json.next).toBeNull();

    const from = Date.now() - 3_600_000;
    const track = await h('GET', `/api/v1/drones/drone-1/track?from=${from}&to=${new Date().toISOString()}&limit=100`);
    expect(track.status).toBe(200);
    expect(track.json.items.map((p: { lat: number }) => p.lat)).toEqual([33.8123, 33.8123, 0]);

    const readings = await h('GET', `/api/v1/sensors/river-7/readings?from=${from}&every=1h`);
    expect(readings.json.items).toEqual([expect.objectContaining({ metric: 'water_level', mean: 1.82, min: 1.82, max: 1.82, count: 1 })]);
    const sensors = await h('GET', '/api/v1/sensors');
    expect(sensors.json.items[0]).toMatchObject({ id: 'river-7', gridId: 'LY-B2', readings: [expect.objectContaining({ metric: 'water_level', value: 1.82 })] });

    const grids = await h('GET', '/api/v1/grids');
    expect(grids.json.type).toBe('FeatureCollection');
    expect(grids.json.features.find((f: { id: string }) => f.id === 'LY-C3').properties.officer.name).toBeTruthy();
  });

  it('does not store a repeated seq twice', async () => {
    const t = telemetry(50);
    for (let i = 0; i < 3; i++) await drone.publishAsync(topics.droneTelemetry('drone-1'), JSON.stringify(t), { qos: 1 });
    await drone.publishAsync(topics.droneTelemetry('drone-1'), JSON.stringify(telemetry(51)), { qos: 1 });
    await eventually(async () => (await probe.count('drone_telemetry', probe.name === 'influx' ? 'seq >= 50' : 'seq >= 50')) === 2);
    const metrics = await h('GET', '/metrics', undefined, null);
    expect(metrics.json).toMatch(/gridpatrol_duplicates_total 2/);
  });

  it('turns every kind of bad payload into a dead letter with a reason, and the device carries on', async () => {
    const now = Date.now();
    const bad: Array<[string, string | Buffer, string, RegExp]> = [
      ['not JSON', '{"ts": 1, "seq":', 'decode', /not valid JSON/],
      ['too large', JSON.stringify({ ...telemetry(60), pad: 'x'.repeat(70_000) }), 'decode', /at most 65536 bytes/],
      ['wrong types', JSON.stringify(telemetry(61, { battery: 'full' })), 'validate', /battery/],
      ['latitude out of range', JSON.stringify(telemetry(62, { lat: 123 })), 'validate', /lat/],
      ['battery out of range', JSON.stringify(telemetry(63, { battery: 140 })), 'validate', /battery.*100/],
      ['missing ts', JSON.stringify({ ...telemetry(64), ts: undefined }), 'validate', /ts: .*missing/],
      ['time in the future', JSON.stringify(telemetry(65, { ts: now + 30 * 3600_000 })), 'normalize', /ahead of the server clock/],
      ['time too old', JSON.stringify(telemetry(66, { ts: now - 9 * 86_400_000 })), 'normalize', /old/],
      ['id mismatch', JSON.stringify(telemetry(67, { droneId: 'drone-2' })), 'validate', /names device "drone-2"/],
    ];
    for (const [, payload] of bad) await drone.publishAsync(topics.droneTelemetry('drone-1'), payload, { qos: 1 });
    await drone.publishAsync(topics.droneTelemetry('drone-1'), JSON.stringify(telemetry(68)), { qos: 1 });

    const letters = (await h('GET', '/api/v1/dead-letters?device=drone-1&limit=50')).json.items as Array<{ stage: string; reason: string; payload: string; topic: string }>;
    expect(letters).toHaveLength(bad.length);
    bad.forEach(([what, , stage, reason], i) => {
      const letter = letters[bad.length - 1 - i]!; // newest first
      expect(letter.stage, what).toBe(stage);
      expect(letter.reason, what).toMatch(reason);
      expect(letter.topic).toBe(topics.droneTelemetry('drone-1'));
      expect(letter.payload.length).toBeGreaterThan(0);
    });
    await eventually(async () => (await probe.count('drone_telemetry', 'seq = 68')) === 1);
    expect(await probe.count('drone_telemetry', 'seq >= 60 AND seq <= 67')).toBe(0);
    expect(drone.connected).toBe(true);
  });

  it('refuses wrong passwords and foreign topics, and counts them', async () => {
    await expect(connectMqtt(gp.ports.mqttPort, 'drone-1', 'not-the-password')).rejects.toThrow(/Bad username or password|Not authorized/);
    await expect(connectMqtt(gp.ports.mqttPort, 'ghost', 'x')).rejects.toThrow();

    const intruder = await connectMqtt(gp.ports.mqttPort, 'drone-1', dronePassword, { clientId: 'second-connection' });
    const closed = new Promise<void>((r) => intruder.once('close', () => r()));
    intruder.publish(topics.sensorReadings('river-7'), JSON.stringify({ ts: Date.now(), metric: 'water_level', value: 99 }), { qos: 1 });
    await closed;
    intruder.end(true);
    // SUBACK 128 (failure); MQTT.js turns it into an error
    await expect(drone.subscribeAsync(topics.droneCommands('drone-2'))).rejects.toThrow(/Subscribe error/);

    expect(await probe.count('sensor_reading', 'value = 99')).toBe(0);
    const metrics = (await h('GET', '/metrics', undefined, null)).json as string;
    expect(metrics).toMatch(/gridpatrol_mqtt_refused_total\{action="connect",reason="[^"]+"\} [1-9]/);
    expect(metrics).toMatch(/gridpatrol_mqtt_refused_total\{action="publish",reason="[^"]+"\} [1-9]/);
    expect(metrics).toMatch(/gridpatrol_mqtt_refused_total\{action="subscribe",reason="[^"]+"\} [1-9]/);
  });

  it('marks a drone offline by its last will', async () => {
    const pw = await registerDevice(h, 'drone-9', 'drone');
    const d9 = await connectMqtt(gp.ports.mqttPort, 'drone-9', pw, { will: { topic: topics.droneStatus('drone-9'), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true } });
    await d9.publishAsync(topics.droneStatus('drone-9'), '{"state":"online"}', { qos: 1, retain: true });
    const state = async () => ((await h('GET', '/api/v1/drones')).json.items as Array<{ id: string; online: boolean | null }>).find((d) => d.id === 'drone-9')?.online;
    expect(await state()).toBe(true);
    (d9 as unknown as { stream: { destroy(): void } }).stream.destroy();
    await eventually(async () => (await state()) === false);
  });
});

describe('metrics', () => {
  it('cover the pipeline: MQTT, ingest, spool, store, alerts, SSE, webhooks, HTTP', async () => {
    const gp = await startInProcess();
    try {
      await gp.http('GET', '/api/v1/drones');
      const text = (await gp.http('GET', '/metrics', undefined, null)).json as string;
      for (const name of [
        'gridpatrol_mqtt_connections', 'gridpatrol_mqtt_refused_total', 'gridpatrol_messages_in_total', 'gridpatrol_records_accepted_total',
        'gridpatrol_records_refused_total', 'gridpatrol_spool_records', 'gridpatrol_spool_bytes', 'gridpatrol_spool_oldest_age_seconds',
        'gridpatrol_store_write_seconds', 'gridpatrol_store_writes_total', 'gridpatrol_alerts', 'gridpatrol_alert_deadlines_missed',
        'gridpatrol_sse_clients', 'gridpatrol_webhook_deliveries', 'gridpatrol_http_request_seconds',
      ])
        expect(text, name).toContain(`# TYPE ${name} `);
      expect(text).toMatch(/gridpatrol_http_request_seconds_count\{method="GET",route="\/api\/v1\/drones",status="2xx"\} 1/);
    } finally {
      await gp.stop();
    }
  });
});
