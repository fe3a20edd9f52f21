import { describe, expect, it } from 'vitest';
import { connectMqtt, eventually, registerDevice, startInProcess, testEnv } from './helpers/gridpatrol.js';
import { publishQos1 } from './helpers/publisher.js';
import { influxProbe, type StoreProbe } from './helpers/stores.js';

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

// The store outage under load and kill -9 of GridPatrol moved to test/reliability/ (store-outage,
// store-faults, kill-9), which run small here and at full size in `npm run test:faults`.

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
