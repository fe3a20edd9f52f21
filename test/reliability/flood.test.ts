import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/topics.js';
import { connectMqtt, eventually, registerDevice, spawnGridPatrol, testEnv, type Http } from '../helpers/gridpatrol.js';
import { FAULTS, metricSum, scrape } from '../helpers/metrics.js';
import { sqliteProbe, type StoreProbe } from '../helpers/stores.js';

/**
 * Issue 8, bad input (8): a flood of malformed payloads of every kind, mixed into valid traffic,
 * against GridPatrol as its own process. Every bad one becomes a dead letter with a reason; every
 * valid one is stored; memory stays bounded; dead letters are capped and what was rotated out is
 * counted. `npm test` sends 5,000, `npm run test:faults` 100,000.
 */
const MALFORMED = FAULTS ? 100_000 : 5_000;
const VALID = MALFORMED / 10;
const MAX_ROWS = MALFORMED / 5;
const ATTACKERS = 4;
const INFLIGHT = 40;

const now = Date.now();
const good = (seq: number, extra: object = {}) => ({ ts: now - 600_000 + seq, seq, lat: 33.8123, lon: 113.9541, alt: 100, speed: 8, heading: 90, battery: 80, mode: 'patrol', rssi: -60, sats: 12, ...extra });
const deep = '['.repeat(5000) + ']'.repeat(5000);

/** Every kind of bad payload, with the stage and code it must be refused with. */
const KINDS: Array<{ code: string; stage: string; payload: (i: number, id: string) => string | Buffer }> = [
  { stage: 'decode', code: 'not_json', payload: (i) => `{"ts":${i},` },
  { stage: 'decode', code: 'not_json', payload: (i) => Buffer.from([0xff, 0xfe, i & 0xff, 0x00, 0x7b]) },
  { stage: 'decode', code: 'empty', payload: () => '' },
  { stage: 'decode', code: 'empty_batch', payload: () => '[]' },
  { stage: 'decode', code: 'not_object', payload: (i) => String(i) },
  { stage: 'decode', code: 'not_object', payload: () => 'null' },
  { stage: 'decode', code: 'too_large', payload: () => Buffer.alloc(70_000, 0x20) },
  { stage: 'decode', code: 'too_deep', payload: () => deep },
  { stage: 'validate', code: 'schema', payload: (i) => JSON.stringify(good(i, { battery: 140 })) },
  { stage: 'validate', code: 'schema', payload: (i) => JSON.stringify(good(i, { mode: 'hover', lat: '33.8' })) },
  { stage: 'validate', code: 'schema', payload: (i) => JSON.stringify({ ...good(i), ts: undefined }) },
  { stage: 'validate', code: 'schema', payload: (i) => JSON.stringify([[good(i)]]) },
  { stage: 'validate', code: 'schema', payload: (i) => JSON.stringify({ ...good(i), __proto__: { battery: 1 }, constructor: 'x', seq: -i - 1 }) },
  { stage: 'validate', code: 'id_mismatch', payload: (i, id) => JSON.stringify(good(i, { droneId: `${id}x` })) },
  { stage: 'normalize', code: 'ts_future', payload: (i) => JSON.stringify(good(i, { ts: now + 48 * 3600_000 })) },
  { stage: 'normalize', code: 'ts_too_old', payload: (i) => JSON.stringify(good(i, { ts: now - 30 * 86_400_000 })) },
  { stage: 'validate', code: 'schema', payload: (i) => JSON.stringify(good(i, { ts: 'yesterday' })) },
];

/** Publishes `count` messages at QoS 1 with up to INFLIGHT awaiting PUBACK; resolves when all are acknowledged. */
async function pump(client: MqttClient, count: number, message: (i: number) => { topic: string; payload: string | Buffer }): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const { topic, payload } = message(next++);
      await client.publishAsync(topic, payload, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
}

describe(`a flood of ${MALFORMED.toLocaleString('en')} malformed payloads mixed into valid traffic`, () => {
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  let h: Http;
  let probe: StoreProbe;
  let dataDir: string;
  const clients: MqttClient[] = [];
  const rss: number[] = [];
  let rssBefore = 0;
  let started = 0;
  let elapsedMs = 0;

  beforeAll(async () => {
    probe = await sqliteProbe();
    const env = testEnv({ GRIDPATROL_MAX_MSGS_PER_SEC: '1000000', GRIDPATROL_DEAD_LETTERS_MAX_ROWS: String(MAX_ROWS) });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    probe.env(dataDir);
    gp = await spawnGridPatrol(env);
    h = gp.http;
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, async (_, a) => connectMqtt(gp.ports.mqttPort, `bad-${a}`, await registerDevice(h, `bad-${a}`, 'drone'))));
    const drone = await connectMqtt(gp.ports.mqttPort, 'good-drone', await registerDevice(h, 'good-drone', 'drone'));
    const sensor = await connectMqtt(gp.ports.mqttPort, 'good-sensor', await registerDevice(h, 'good-sensor', 'sensor', 'LY-B2'));
    clients.push(...attackers, drone, sensor);
    // warm up (JIT, SQLite pages, first store write), then take the baseline
    await pump(drone, 50, (i) => ({ topic: topics.droneTelemetry('good-drone'), payload: JSON.stringify(good(1_000_000 + i)) }));
    await eventually(async () => (await probe.count('drone_telemetry')) === 50);
    rssBefore = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_process_process_resident_memory_bytes');

    const sampler = setInterval(() => void scrape(gp.ports.httpPort).then((t) => rss.push(metricSum(t, 'gridpatrol_process_process_resident_memory_bytes')), () => undefined), 250);
    started = performance.now();
    try {
      const perAttacker = MALFORMED / ATTACKERS;
      await Promise.all([
        ...attackers.map((c, a) =>
          pump(c, perAttacker, (i) => {
            const kind = KINDS[(a * perAttacker + i) % KINDS.length]!;
            return { topic: topics.droneTelemetry(`bad-${a}`), payload: kind.payload(i, `bad-${a}`) };
          }),
        ),
        pump(drone, VALID / 2, (i) => ({ topic: topics.droneTelemetry('good-drone'), payload: JSON.stringify(good(i)) })),
        pump(sensor, VALID / 2, (i) => ({ topic: topics.sensorReadings('good-sensor'), payload: JSON.stringify({ ts: now - 600_000 + i, seq: i, metric: 'water_level', value: i / 100, unit: 'm' }) })),
      ]);
    } finally {
      clearInterval(sampler);
    }
    elapsedMs = performance.now() - started;
  }, 15 * 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores every valid message, exactly once', async () => {
    await eventually(async () => (await probe.count('drone_telemetry')) >= 50 + VALID / 2 && (await probe.count('sensor_reading')) >= VALID / 2, 120_000, 200);
    expect(await probe.count('drone_telemetry', "drone_id = 'good-drone'")).toBe(50 + VALID / 2);
    expect(await probe.count('sensor_reading', "sensor_id = 'good-sensor'")).toBe(VALID / 2);
    // nothing an attacker sent was stored
    expect(await probe.count('drone_telemetry', "drone_id LIKE 'bad-%'")).toBe(0);
  });

  it('refuses every malformed one with its stage, code and a reason, and counts each', async () => {
    const text = await scrape(gp.ports.httpPort);
    expect(metricSum(text, 'gridpatrol_records_refused_total')).toBe(MALFORMED);
    expect(metricSum(text, 'gridpatrol_dead_letters_total')).toBe(MALFORMED);
    for (const kind of new Set(KINDS.map((k) => `${k.stage}/${k.code}`))) {
      const [stage, reason] = kind.split('/') as [string, string];
      expect(metricSum(text, 'gridpatrol_records_refused_total', { stage, reason }), kind).toBeGreaterThan(0);
    }
    const page = await h('GET', '/api/v1/dead-letters?limit=500');
    expect(page.status).toBe(200);
    for (const l of page.json.items) {
      expect(l.deviceId).toMatch(/^bad-\d$/);
      expect(l.stage).toMatch(/^(decode|validate|normalize)$/);
      expect(l.reason.length).toBeGreaterThan(10);
    }
  });

  it('caps the dead letters at the configured rows (+10 %) and counts every one rotated out', async () => {
    const db = new Database(join(dataDir, 'gridpatrol.db'), { readonly: true });
    const kept = (db.prepare('SELECT COUNT(*) AS n FROM dead_letters').get() as { n: number }).n;
    db.close();
    expect(kept).toBeGreaterThanOrEqual(MAX_ROWS);
    expect(kept).toBeLessThanOrEqual(MAX_ROWS * 1.1);
    const rotated = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_dead_letters_rotated_total');
    expect(rotated + kept).toBe(MALFORMED);
  });

  it('keeps memory bounded and stays up', async () => {
    const peak = Math.max(...rss);
    const after = metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_process_process_resident_memory_bytes');
    const mb = (b: number) => Math.round(b / 1e6);
    console.log(`flood: ${MALFORMED} malformed + ${VALID} valid in ${Math.round(elapsedMs)} ms (${Math.round(((MALFORMED + VALID) / elapsedMs) * 1000)} msg/s); RSS before ${mb(rssBefore)} MB, peak ${mb(peak)} MB, after ${mb(after)} MB`);
    // the flood is not kept in memory: growth is a fixed allowance, not proportional to the count
    expect(peak - rssBefore).toBeLessThan(150e6);
    expect(gp.child.exitCode).toBeNull();
    expect((await h('GET', '/healthz', undefined, null)).status).toBe(200);
    for (const c of clients) expect(c.connected).toBe(true);
  });
});
