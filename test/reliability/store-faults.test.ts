import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/topics.js';
import { connectMqtt, eventually, registerDevice, spawnGridPatrol, testEnv } from '../helpers/gridpatrol.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { FAULTS, metricSum, scrape } from '../helpers/metrics.js';
import { payloadFor, publishPaced, TIME_BASE } from '../helpers/publisher.js';
import { influxProbe, type StoreProbe } from '../helpers/stores.js';
import { waitForLanded } from '../helpers/stored.js';

/**
 * Issue 8, faults (1, second part): a store that misbehaves rather than vanishes. A small
 * fault-injecting proxy stands between GridPatrol (its own process) and a real influxd and
 * answers writes with 500s, answers them seconds late, or passes them through; a field type
 * conflict planted in influxd makes it refuse one point of a batch. Under steady QoS 1 load
 * throughout. `npm test`: 10 s per fault at 200 msg/s; `npm run test:faults`: 2 minutes at 1,000 msg/s.
 */
const RATE = FAULTS ? 1000 : 200;
const FAULT_MS = FAULTS ? 120_000 : 10_000;
const DELAY_MS = FAULTS ? 5000 : 3000;
const DRONES = 2;

type GP = Awaited<ReturnType<typeof spawnGridPatrol>>;

describe('a store that answers 500s, answers slowly, or refuses one point', () => {
  let probe: StoreProbe;
  let proxy: FaultProxy;
  let gp: GP;
  const clients: MqttClient[] = [];
  const ids = Array.from({ length: DRONES }, (_, i) => `faulty-${i}`);
  let pubs: Array<ReturnType<typeof publishPaced>> = [];
  const acked = () => pubs.reduce((n, p) => n + p.acked.size, 0);
  const metric = async (name: string, labels: Record<string, string> = {}) => metricSum(await scrape(gp.ports.httpPort), name, labels);
  const ready = () => gp.http('GET', '/readyz', undefined, null);

  /** Waits until the spool holds under a second of traffic again: the store has caught up. */
  const caughtUp = () => eventually(async () => (await metric('gridpatrol_spool_records')) < RATE, 120_000, 250);

  beforeAll(async () => {
    probe = await influxProbe();
    proxy = await startFaultProxy(probe.influxd!.url);
    gp = await spawnGridPatrol(testEnv({ GRIDPATROL_INFLUX_URL: proxy.url, GRIDPATROL_INFLUX_DB: 'gridpatrol', GRIDPATROL_MAX_MSGS_PER_SEC: '100000' }));
    for (const id of ids) clients.push(await connectMqtt(gp.ports.mqttPort, id, await registerDevice(gp.http, id, 'drone')));
    pubs = clients.map((c, i) => publishPaced(c, ids[i]!, 1, { ratePerSec: RATE / DRONES }));
    await eventually(async () => (await probe.count('drone_telemetry')) > 0, 30_000, 100);
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    await proxy?.close();
    await probe?.close();
  });

  it(`500s for ${FAULT_MS / 1000} s: acknowledged from the spool, reported, and everything lands once when they stop`, async () => {
    const retriesBefore = await metric('gridpatrol_store_writes_total', { result: 'retry' });
    proxy.set({ kind: 'status', status: 500 });
    const from = performance.now();
    const ackedBefore = acked();
    const r = await eventually(async () => {
      const res = await ready();
      return res.status === 503 && res;
    }, 30_000, 200);
    expect(r.json.checks.store).toMatchObject({ ok: false, detail: expect.stringMatching(/influx store fails writes since .*HTTP 500/) });
    expect(await metric('gridpatrol_store_writes_total', { result: 'retry' })).toBeGreaterThan(retriesBefore);
    // the fault lasts FAULT_MS; the spool's depth is watched meanwhile
    const depth = await eventually(async () => performance.now() - from >= FAULT_MS && (await metric('gridpatrol_spool_records')), FAULT_MS + 30_000, 500);
    expect(depth).toBeGreaterThan(RATE * (FAULT_MS / 1000) * 0.5);
    expect(acked() - ackedBefore).toBeGreaterThan(RATE * (FAULT_MS / 1000) * 0.5);
    const faulted = proxy.counts.faulted;

    proxy.set({ kind: 'pass' });
    const healed = performance.now();
    await caughtUp();
    await eventually(async () => (await ready()).status === 200, 30_000, 200);
    console.log(`store 500s: ${((healed - from) / 1000).toFixed(1)} s, ${faulted} writes answered 500, spool depth ${depth}; caught up ${((performance.now() - healed) / 1000).toFixed(1)} s after`);
  }, FAULT_MS + 240_000);

  it(`answers ${DELAY_MS / 1000} s late for ${FAULT_MS / 1000} s: acknowledgements go on, everything lands`, async () => {
    proxy.set({ kind: 'delay', ms: DELAY_MS });
    const from = performance.now();
    const ackedBefore = acked();
    const slowBefore = await metric('gridpatrol_store_write_seconds_count');
    await eventually(() => performance.now() - from >= FAULT_MS, FAULT_MS + 30_000, 500);
    const ackedWhileSlow = acked() - ackedBefore;
    // PUBACKs wait for the spool, never for the store
    expect(ackedWhileSlow).toBeGreaterThan(RATE * (FAULT_MS / 1000) * 0.5);
    expect(await metric('gridpatrol_store_write_seconds_count')).toBeGreaterThan(slowBefore);
    const delayed = proxy.counts.delayed;
    expect(delayed).toBeGreaterThan(0);
    proxy.set({ kind: 'pass' });
    await caughtUp();
    console.log(`store slow: ${FAULT_MS / 1000} s at +${DELAY_MS} ms per write, ${delayed} writes delayed, ${ackedWhileSlow} acknowledged meanwhile (${Math.round(ackedWhileSlow / (FAULT_MS / 1000))} msg/s)`);
  }, FAULT_MS + 180_000);

  it('everything acknowledged so far is stored exactly once', async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    for (const [i, id] of ids.entries()) {
      const l = await waitForLanded(probe, id, pubs[i]!.acked, pubs[i]!.nextSeq);
      expect(l.missing, id).toEqual([]);
      expect(l.foreign, id).toEqual([]);
      expect(l.points, id).toBe(pubs[i]!.acked.size);
      console.log(`store faults, ${id}: ${pubs[i]!.acked.size} acknowledged, ${l.points} stored, 0 lost, 0 duplicated`);
    }
  }, 180_000);

  it('one point refused in a batch: the rest land, that one record is a dead letter (stage store) with the reason', async () => {
    const id = 'faulty-conflict';
    const c = await connectMqtt(gp.ports.mqttPort, id, await registerDevice(gp.http, id, 'drone'));
    clients.push(c);
    const bad = 25;
    // `voltage` is a float in GridPatrol's points; written first as a string, in the same shard, by someone else
    const planted = await fetch(`${probe.influxd!.url}/write?db=gridpatrol&precision=ms`, {
      method: 'POST', body: `drone_telemetry,drone_id=someone-else voltage="high" ${TIME_BASE + bad}`,
    });
    expect(planted.status).toBe(204);
    // one message of 50 samples, one of them with a voltage: one spool append, so one store batch
    const items = Array.from({ length: 50 }, (_, i) => ({ ...(JSON.parse(payloadFor(i + 1)) as object), ...(i + 1 === bad && { voltage: 22.4 }) }));
    await c.publishAsync(topics.droneTelemetry(id), JSON.stringify(items), { qos: 1 });

    const letter = await eventually(async () => {
      const page = await gp.http('GET', `/api/v1/dead-letters?stage=store&device=${id}`);
      return page.json.items?.[0];
    }, 60_000, 250);
    expect(letter).toMatchObject({ deviceId: id, stage: 'store', topic: topics.droneTelemetry(id), reason: expect.stringMatching(/field type conflict/) });
    expect(JSON.parse(letter.payload)).toMatchObject({ seq: bad, voltage: 22.4 });
    const seqs = new Set((await probe.rows('drone_telemetry', `drone_id = '${id}'`)).map((r) => Number(r.seq)));
    expect([...seqs].sort((a, b) => a - b)).toEqual(items.map((_, i) => i + 1).filter((s) => s !== bad));
    expect((await gp.http('GET', `/api/v1/dead-letters?stage=store`)).json.items).toHaveLength(1);
    expect(await metric('gridpatrol_records_refused_total', { stage: 'store', reason: 'store_rejected' })).toBe(1);
    console.log(`store refuses one point: 49 of 50 stored, 1 dead letter: ${letter.reason.slice(0, 160)}`);
  });
});
