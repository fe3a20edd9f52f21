import { afterAll, describe, expect, it } from 'vitest';
import { connectMqtt, eventually, http, registerDevice, spawnGridPatrol, startInProcess, testEnv, ADMIN_TOKEN } from './helpers/gridpatrol.js';
import { publishQos1 } from './helpers/publisher.js';
import { influxProbe, sqliteProbe, type StoreProbe } from './helpers/stores.js';

/** Every acknowledged seq is stored, and no seq is stored twice. */
async function expectStoredExactlyOnce(probe: StoreProbe, droneId: string, acked: Set<number>) {
  const rows = await eventually(async () => {
    if ((await probe.count('drone_telemetry', `drone_id = '${droneId}'`)) < acked.size) return false;
    const r = await probe.rows('drone_telemetry', `drone_id = '${droneId}'`);
    const stored = new Set(r.map((x) => Number(x.seq)));
    return [...acked].every((s) => stored.has(s)) && r;
  }, 60_000, 200);
  const seqs = rows.map((r) => Number(r.seq));
  expect(new Set(seqs).size).toBe(seqs.length);
  const missing = [...acked].filter((s) => !seqs.includes(s));
  expect(missing).toEqual([]);
}

describe('durability', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('keeps every acknowledged QoS 1 message through a 30 s InfluxDB outage, and stores each once', async () => {
    const probe = await influxProbe();
    cleanups.push(() => probe.close());
    const env = testEnv();
    const gp = await startInProcess({ ...env, ...probe.env(), GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    cleanups.push(() => gp.stop());
    const client = await connectMqtt(gp.ports.mqttPort, 'drone-o', await registerDevice(gp.http, 'drone-o', 'drone'));
    cleanups.push(async () => client.end(true));

    const pub = publishQos1(client, 'drone-o', 1, { inflight: 3 });
    await eventually(() => pub.acked.size > 200);
    await probe.influxd!.kill();
    const downAt = Date.now();
    const ready = await eventually(async () => {
      const r = await gp.http('GET', '/readyz', undefined, null);
      return r.status === 503 && r;
    });
    expect(ready.json.checks.store.ok).toBe(false);
    const ackedWhileDown = pub.acked.size;
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    expect(pub.acked.size - ackedWhileDown).toBeGreaterThan(1000); // publishers were acknowledged from the spool
    await probe.influxd!.start();
    await new Promise((r) => setTimeout(r, 1000));
    await pub.stop();

    await expectStoredExactlyOnce(probe, 'drone-o', pub.acked);
    await eventually(async () => (await gp.http('GET', '/readyz', undefined, null)).status === 200);
  }, 120_000);

  it.each([['sqlite'], ['influx']] as const)('keeps every acknowledged QoS 1 message through kill -9 of GridPatrol (%s store)', async (storeName) => {
    const probe = storeName === 'sqlite' ? await sqliteProbe() : await influxProbe();
    cleanups.push(() => probe.close());
    const env: Record<string, string> = { ...testEnv(), GRIDPATROL_MAX_MSGS_PER_SEC: '10000' };
    Object.assign(env, probe.env(env.GRIDPATROL_DATA_DIR));
    const drones = ['drone-a', 'drone-b', 'drone-c'];
    const passwords = new Map<string, string>();
    const acked = new Map(drones.map((d) => [d, new Set<number>()]));
    const nextSeq = new Map(drones.map((d) => [d, 1]));

    for (let round = 0; round < 3; round++) {
      const gp = await spawnGridPatrol(env);
      cleanups.push(async () => gp.child.kill('SIGKILL'));
      if (round === 0) for (const d of drones) passwords.set(d, await registerDevice(gp.http, d, 'drone'));
      const pubs = await Promise.all(
        drones.map(async (d) => {
          const c = await connectMqtt(gp.ports.mqttPort, d, passwords.get(d)!);
          return { d, c, p: publishQos1(c, d, nextSeq.get(d)!, { inflight: 10 }) };
        }),
      );
      await eventually(() => pubs.every(({ p }) => p.acked.size > 100));
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      gp.child.kill('SIGKILL');
      await gp.exited;
      for (const { d, c, p } of pubs) {
        await p.done;
        c.end(true);
        for (const s of p.acked) acked.get(d)!.add(s);
        nextSeq.set(d, p.nextSeq);
      }
    }
    // a last start replays what the killed processes had spooled but not yet written
    const gp = await spawnGridPatrol(env);
    cleanups.push(async () => gp.child.kill('SIGTERM'));
    for (const d of drones) {
      expect(acked.get(d)!.size).toBeGreaterThan(300);
      await expectStoredExactlyOnce(probe, d, acked.get(d)!);
    }
    const spoolRecords = await eventually(async () => {
      const m = (await http(gp.ports.httpPort)('GET', '/metrics', undefined, ADMIN_TOKEN)).json as string;
      return /gridpatrol_spool_records 0\b/.test(m) && m;
    });
    expect(spoolRecords).toBeTruthy();
    gp.child.kill('SIGTERM');
    await gp.exited;
  }, 180_000);
});

describe('the spool at its disk budget', () => {
  it('refuses publishes visibly (no PUBACK, connection closed, /readyz and metrics say why) and takes them again once the store drains it', async () => {
    const probe = await influxProbe();
    const gp = await startInProcess({ ...testEnv(), ...probe.env(), GRIDPATROL_SPOOL_MAX_BYTES: '20000', GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    try {
      const password = await registerDevice(gp.http, 'drone-s', 'drone');
      await probe.influxd!.kill();
      const client = await connectMqtt(gp.ports.mqttPort, 'drone-s', password);
      const pub = publishQos1(client, 'drone-s', 1, { inflight: 1 });
      await pub.done; // ends when the broker closes the connection
      expect(client.connected).toBe(false);
      const refusedSeq = pub.nextSeq - 1;
      expect(pub.acked.has(refusedSeq)).toBe(false);
      const ready = await gp.http('GET', '/readyz', undefined, null);
      expect(ready.status).toBe(503);
      expect(ready.json.checks.spool).toMatchObject({ ok: false, detail: expect.stringMatching(/disk budget/) });
      const metrics = (await gp.http('GET', '/metrics', undefined, null)).json as string;
      expect(metrics).toMatch(/gridpatrol_spool_full 1/);
      expect(metrics).toMatch(/gridpatrol_spool_refused_total [1-9]/);

      await probe.influxd!.start();
      await eventually(async () => (await gp.http('GET', '/readyz', undefined, null)).status === 200, 30_000);
      // the device sends the refused message again, as a QoS 1 sender does after reconnecting
      const again = await connectMqtt(gp.ports.mqttPort, 'drone-s', password);
      const retry = publishQos1(again, 'drone-s', refusedSeq, { inflight: 1, max: 1 });
      await retry.done;
      again.end(true);
      await expectStoredExactlyOnce(probe, 'drone-s', new Set([...pub.acked, refusedSeq]));
    } finally {
      await gp.stop();
      await probe.close();
    }
  }, 90_000);
});
