import { afterAll, describe, expect, it } from 'vitest';
import { eventually, registerDevice, spawnGridPatrol, testEnv } from '../helpers/gridpatrol.js';
import { FAULTS, metricSum, scrape } from '../helpers/metrics.js';
import { ResendingDrone } from '../helpers/publisher.js';
import { influxProbe, sqliteProbe, type StoreProbe } from '../helpers/stores.js';
import { waitForLanded } from '../helpers/stored.js';

/**
 * Issue 8, faults (2): GridPatrol, as its own process, killed with SIGKILL at random moments
 * during QoS 1 load, round after round over the same data folder; then started once more. Every
 * acknowledged message must be stored exactly once in the end. The drones act as QoS 1 senders:
 * after a lost connection they reconnect and send again what has no PUBACK.
 * The same with the spool at its disk budget (the store down): publishers are refused visibly
 * (no PUBACK, connection closed, /readyz 503, gridpatrol_spool_full 1), never dropped silently.
 * `npm test`: 3 rounds; `npm run test:faults`: 10.
 */
const ROUNDS = FAULTS ? 10 : 3;
const DRONES = 3;

type GP = Awaited<ReturnType<typeof spawnGridPatrol>>;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function spawn(env: Record<string, string>): Promise<GP> {
  const gp = await spawnGridPatrol(env);
  cleanups.push(async () => gp.child.kill('SIGKILL'));
  return gp;
}

/** Keeps every drone publishing (reconnecting after each closed connection) until `stop` is called. */
function keepPublishing(drones: ResendingDrone[], port: number) {
  let running = true;
  const loops = drones.map(async (d) => {
    while (running) {
      const outcome = await d.publish(port, 1_000_000, 10).catch(() => 'unreachable' as const);
      // a device's reconnect period; a refused or dead server is not hammered
      if (running && outcome !== 'done') await new Promise((r) => setTimeout(r, 100));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(drones.map((d) => d.stop()));
      await Promise.all(loops);
    },
  };
}

async function expectEachAckedStoredOnce(probe: StoreProbe, drones: ResendingDrone[], label: string) {
  for (const d of drones) {
    const l = await waitForLanded(probe, d.id, d.acked, d.sentBelow, 120_000);
    expect(l.missing, d.id).toEqual([]);
    expect(l.foreign, d.id).toEqual([]);
    expect(l.points, d.id).toBe(l.distinct);
    console.log(`${label}, ${d.id}: ${d.acked.size} acknowledged, ${l.points} stored (${l.unacked} sent without a PUBACK seen, stored once), ${d.closed} connections lost, 0 lost, 0 duplicated`);
  }
}

describe(`kill -9 of GridPatrol, ${ROUNDS} rounds in a row during QoS 1 load`, () => {
  it.each([['sqlite'], ['influx']] as const)('stores every acknowledged message exactly once (%s store)', async (storeName) => {
    const probe = storeName === 'sqlite' ? await sqliteProbe() : await influxProbe();
    cleanups.push(() => probe.close());
    const env: Record<string, string> = testEnv({ GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    Object.assign(env, probe.env(env.GRIDPATROL_DATA_DIR));
    let drones: ResendingDrone[] = [];
    const kills: number[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const gp = await spawn(env);
      if (round === 0) drones = await Promise.all(Array.from({ length: DRONES }, async (_, i) => new ResendingDrone(`k9-${i}`, await registerDevice(gp.http, `k9-${i}`, 'drone'))));
      const before = drones.map((d) => d.acked.size);
      const load = keepPublishing(drones, gp.ports.mqttPort);
      await eventually(() => drones.every((d, i) => d.acked.size > before[i]! + 100), 30_000, 20);
      const ms = Math.floor(Math.random() * 800);
      kills.push(ms);
      await new Promise((r) => setTimeout(r, ms)); // the random moment itself: no event to wait for
      gp.child.kill('SIGKILL');
      await gp.exited;
      await load.stop();
    }
    // a last start replays what the killed processes had spooled but not yet written
    const gp = await spawn(env);
    await expectEachAckedStoredOnce(probe, drones, `kill -9 ×${ROUNDS} (${storeName}; killed 100 PUBACKs + ${kills.join('/')} ms into each round)`);
    await eventually(async () => metricSum(await scrape(gp.ports.httpPort), 'gridpatrol_spool_records') === 0, 30_000, 200);
    gp.child.kill('SIGTERM');
    await gp.exited;
  }, ROUNDS * 60_000 + 120_000);

  it('at the spool disk budget (store down): refused visibly, never dropped, everything acknowledged lands once', async () => {
    const probe = await influxProbe();
    cleanups.push(() => probe.close());
    // about 250 records of budget: reached within a second
    const env = testEnv({ ...probe.env(), GRIDPATROL_SPOOL_MAX_BYTES: '80000', GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    await probe.influxd!.kill();
    let drones: ResendingDrone[] = [];
    let refusedSeen = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const gp = await spawn(env);
      if (round === 0) drones = await Promise.all(Array.from({ length: DRONES }, async (_, i) => new ResendingDrone(`k9b-${i}`, await registerDevice(gp.http, `k9b-${i}`, 'drone'))));
      const closedBefore = drones.reduce((n, d) => n + d.closed, 0);
      const load = keepPublishing(drones, gp.ports.mqttPort);
      // at the budget: publishers are refused (connection closed, no PUBACK), and GridPatrol says why
      const text = await eventually(async () => {
        const t = await scrape(gp.ports.httpPort);
        return metricSum(t, 'gridpatrol_spool_full') === 1 && metricSum(t, 'gridpatrol_spool_refused_total') > 0 && t;
      }, 30_000, 50);
      refusedSeen += metricSum(text, 'gridpatrol_spool_refused_total');
      const ready = await gp.http('GET', '/readyz', undefined, null);
      expect(ready.status).toBe(503);
      expect(ready.json.checks.spool).toMatchObject({ ok: false, detail: expect.stringMatching(/disk budget/) });
      await eventually(() => drones.reduce((n, d) => n + d.closed, 0) > closedBefore, 30_000, 20);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 800))); // the random moment
      gp.child.kill('SIGKILL');
      await gp.exited;
      await load.stop();
    }

    // the store returns; the drones send again what was refused, and are taken once the spool drains
    await probe.influxd!.start();
    const gp = await spawn(env);
    const load = keepPublishing(drones, gp.ports.mqttPort);
    const sentBefore = drones.map((d) => d.sentBelow);
    await eventually(() => drones.every((d, i) => d.next > sentBefore[i]! + 100), 120_000, 100);
    await load.stop();
    const acked = drones.reduce((n, d) => n + d.acked.size, 0);
    expect(refusedSeen).toBeGreaterThan(0);
    await expectEachAckedStoredOnce(probe, drones, `kill -9 ×${ROUNDS} at the spool budget (${refusedSeen} publishes refused before the kills, ${acked} acknowledged)`);
    gp.child.kill('SIGTERM');
    await gp.exited;
  }, ROUNDS * 60_000 + 180_000);
});
