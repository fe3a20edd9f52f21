import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/topics.js';
import { Rng } from '../../simulators/lib/rng.js';
import { connectMqtt, eventually, registerDevice, spawnGridPatrol, telemetry, testEnv } from '../helpers/gridpatrol.js';
import { metricSum, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/ports.js';
import { ResendingDrone } from '../helpers/publisher.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { waitForLanded } from '../helpers/stored.js';
import { sqliteProbe, type StoreProbe } from '../helpers/stores.js';

/**
 * Issue 8, faults (3), tried hard: the whole data folder made read-only and writable again at
 * random moments (seeded), over and over, while SQLite is as busy as it gets: QoS 1 telemetry
 * (store commits), a drone flying over and under the altitude ceiling of the bundled rules (alert
 * opens, repeats and resolves: alert transactions), and the API reading alerts and devices. Each
 * flip to read-only can land in the middle of a SQLite transaction; storage/write-guard.ts keeps
 * SQLite from touching its memory-mapped WAL index once the folder is read-only.
 *
 * The guard cannot close the window between its check and SQLite's own store into the map. Its
 * widest part, a checkpoint's fsync, is moved to a child process (storage/checkpointer.ts); what
 * is left is narrow but not closed (README: about one SIGBUS in 1,000 flips; the guard alone, one
 * in 1,250 without the child; no guard, by the 3rd flip). So GridPatrol runs here as `npm start`
 * runs it, under its supervisor (lib/supervisor.ts), and the test checks what a user relies on:
 * deaths are rare (a broken guard dies every few flips), each one is a SIGBUS followed by a
 * restart, and every message acknowledged, before or after one, is stored exactly once. Halfway,
 * with the folder read-only, the test kills GridPatrol with SIGBUS itself, so that every run goes
 * through a death and its restart whatever the seed.
 * It takes minutes: it runs only at full size, in `npm run test:faults` (the second part of
 * `npm test`; vitest.config.ts leaves it out of the first).
 * GRIDPATROL_FLIPS=n and GRIDPATROL_FLIP_SEED=n change the run.
 */
const FLIPS = Number(process.env.GRIDPATROL_FLIPS ?? 300);
// another seed: GRIDPATROL_FLIP_SEED=n (the flips then fall elsewhere)
const SEED = Number(process.env.GRIDPATROL_FLIP_SEED ?? 8);

type GP = Awaited<ReturnType<typeof spawnGridPatrol>>;

describe(`the whole data folder flipped read-only and back ${FLIPS} times under load`, () => {
  let disk: SmallDisk;
  let probe: StoreProbe;
  let gp: GP;
  let device: ResendingDrone;
  let dataDir: string;
  let stopLoad = false;
  const answers = new Map<number, number>();
  let stormSent = 0;
  /** altitude of the storm drone's last acknowledged message */
  let stormLastAlt = 0;
  let elapsedMs = 0;
  let flips = 0;
  const alive = () => gp.child.exitCode === null && gp.child.signalCode === null;
  const deaths = () => gp.logs.filter((l) => l.msg.startsWith('gridpatrol process ended'));

  beforeAll(async () => {
    disk = mountSmallDisk(256); // room for ~100,000 messages: this is about read-only, not full
    dataDir = join(disk.dir, 'data');
    mkdirSync(dataDir);
    probe = await sqliteProbe();
    probe.env(dataDir);
    // fixed ports: a GridPatrol started again by the supervisor listens where the devices know it
    const [mqtt, ws, http] = [await freePort(), await freePort(), await freePort()];
    gp = await spawnGridPatrol(
      testEnv({
        GRIDPATROL_DATA_DIR: dataDir, GRIDPATROL_MAX_MSGS_PER_SEC: '10000',
        GRIDPATROL_MQTT_PORT: String(mqtt), GRIDPATROL_MQTT_WS_PORT: String(ws), GRIDPATROL_HTTP_PORT: String(http),
      }),
      { supervise: true },
    );
    device = new ResendingDrone('flap-acked', await registerDevice(gp.http, 'flap-acked', 'drone'));
    const stormPassword = await registerDevice(gp.http, 'flap-storm', 'drone');

    // QoS 1 telemetry whose acknowledgements are counted: reconnects after each refusal, as a device does
    const acked = (async () => {
      while (!stopLoad) await device.publish(gp.ports.mqttPort, 1_000_000).catch(() => new Promise((r) => setTimeout(r, 50)));
    })();
    // over and under the 120 m ceiling every 40 messages: alerts open, repeat and auto-resolve
    const storm = (async () => {
      let seq = 1;
      while (!stopLoad) {
        let c: MqttClient | undefined;
        try {
          c = await connectMqtt(gp.ports.mqttPort, 'flap-storm', stormPassword);
          // a publish whose connection is closed on it never settles: the close ends the wait
          const closed = new Promise<void>((r) => c!.once('close', () => r()));
          while (!stopLoad && c.connected) {
            const alt = Math.floor(seq / 40) % 2 === 0 ? 135 : 90;
            const acked = await Promise.race([c.publishAsync(topics.droneTelemetry('flap-storm'), JSON.stringify(telemetry(seq, { alt })), { qos: 1 }).then(() => true), closed]);
            if (acked) stormLastAlt = alt;
            seq++;
            stormSent++;
          }
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        } finally {
          c?.end(true);
        }
      }
    })();
    // officers' reads: every one goes through the guard
    const reads = (async () => {
      for (let i = 0; !stopLoad; i++) {
        // 0: no connection (GridPatrol is being started again); a client waits before it tries again
        const r = await gp.http('GET', i % 2 ? '/api/v1/alerts?limit=20' : '/api/v1/devices').catch(() => ({ status: 0 }));
        answers.set(r.status, (answers.get(r.status) ?? 0) + 1);
        if (r.status === 0) await new Promise((res) => setTimeout(res, 50));
      }
    })();

    const rng = Rng.seeded(SEED);
    const started = performance.now();
    for (; flips < FLIPS && alive(); flips++) {
      await new Promise((r) => setTimeout(r, rng.int(20, 300)));
      disk.immutable(dataDir, true);
      // halfway, the race's outcome on purpose: GridPatrol dies of SIGBUS with the folder read-only
      if (flips === Math.floor(FLIPS / 2)) process.kill(gp.logs.findLast((l) => l.msg === 'gridpatrol listening')!.pid as number, 'SIGBUS');
      await new Promise((r) => setTimeout(r, rng.int(20, 300)));
      disk.immutable(dataDir, false);
    }
    elapsedMs = performance.now() - started;
    // a last stretch of calm: the device's next attempt is taken and the backlog drains
    let readyz: unknown;
    if (alive())
      await eventually(async () => {
        const r = await gp.http('GET', '/readyz', undefined, null);
        readyz = r.json;
        return r.status === 200;
      }, 30_000, 100).catch((err: Error) => {
        throw new Error(`${err.message}: /readyz says ${JSON.stringify(readyz)}`);
      });
    stopLoad = true;
    await device.stop();
    await Promise.all([acked, storm, reads]);
  }, 20 * 60_000);

  afterAll(async () => {
    stopLoad = true;
    gp?.child.kill('SIGTERM');
    await gp?.exited;
    disk?.unmount();
  });

  it('rarely dies, only of SIGBUS, is started again each time, and is ready after the last flip', async () => {
    expect({ signal: gp.child.signalCode, exitCode: gp.child.exitCode, flips }).toEqual({ signal: null, exitCode: null, flips: FLIPS });
    // one SIGBUS is the test's own; without the guard it dies by the 3rd flip, with it about once in 1,000
    const sigbus = deaths().filter((d) => d.signal === 'SIGBUS').length;
    expect(sigbus).toBeGreaterThanOrEqual(1);
    expect(sigbus - 1).toBeLessThanOrEqual(Math.max(2, Math.ceil(FLIPS / 100)));
    // nothing else ends it; a restart whose start-up a flip cuts off exits EXIT_RETRY, logged apart and tried again soon
    expect(deaths().filter((d) => d.signal !== 'SIGBUS')).toEqual([]);
    const restarts = gp.logs.filter((l) => l.msg === 'gridpatrol running again').length;
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect((await gp.http('GET', '/readyz', undefined, null)).status).toBe(200);
    const text = await scrape(gp.ports.httpPort);
    expect(metricSum(text, 'gridpatrol_sqlite_writable')).toBe(2);
    // the flips were seen: by the databases and by the spool (its counter is the running process's)
    expect(gp.logs.filter((l) => l.msg.startsWith('data folder cannot be written')).length).toBeGreaterThan(0);
    if (restarts === 0) expect(metricSum(text, 'gridpatrol_spool_write_errors_total', { code: 'EPERM' })).toBeGreaterThan(0);
    // reads were answered: 200, or 503 while the folder was read-only; or not at all while GridPatrol was being started again
    expect([...answers.keys()].sort()).toEqual(expect.arrayContaining([200]));
    expect([...answers.keys()].filter((s) => s !== 200 && s !== 503 && s !== 0)).toEqual([]);
  });

  it('loses no rule signal and no alert transition: the alert ends as the last sample says, every transition reaches the store', async () => {
    const lost = gp.logs.filter((l) => /failed to take (a )?rule signal|outbox stopped|rule signals dropped/.test(l.msg));
    expect(lost.map((l) => `${l.msg}: ${(l.err as { message?: string } | undefined)?.message}`)).toEqual([]);
    const unresolved = async () =>
      (await gp.http('GET', '/api/v1/alerts?limit=1000')).json.items.filter((a: { entityId: string; state: string }) => a.entityId === 'flap-storm' && a.state !== 'resolved').length;
    await eventually(async () => (await unresolved()) === (stormLastAlt > 120 ? 1 : 0), 15_000, 200);
    const meta = new Database(join(dataDir, 'gridpatrol.db'), { readonly: true });
    const transitions = (meta.prepare("SELECT COUNT(*) AS n FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE a.entity_id = 'flap-storm'").get() as { n: number }).n;
    meta.close();
    expect(transitions).toBeGreaterThan(2);
    await eventually(async () => (await probe.count('alert_transition', "entity_id = 'flap-storm'")) === transitions, 30_000, 200);
  });

  it('keeps checkpointing through the flips: the databases fill, their WALs stay bounded', () => {
    const mb = (f: string) => statSync(join(dataDir, f)).size / 1e6;
    expect(mb('telemetry.db')).toBeGreaterThan(1);
    expect(mb('telemetry.db-wal')).toBeLessThan(48);
    expect(mb('gridpatrol.db-wal')).toBeLessThan(48);
  });

  it('stores every acknowledged message exactly once', async () => {
    const landed = await waitForLanded(probe, device.id, device.acked, device.sentBelow, 120_000);
    expect(landed.missing).toEqual([]);
    expect(landed.points).toBe(landed.distinct);
    expect(landed.points).toBe(device.acked.size);
    const opened = (await gp.http('GET', '/api/v1/alerts?limit=1000')).json.items.filter((a: { entityId: string }) => a.entityId === 'flap-storm').length;
    console.log(
      `${FLIPS} flips of the whole data folder in ${(elapsedMs / 1000).toFixed(1)} s: ` +
        `GridPatrol died ${deaths().filter((d) => d.signal === 'SIGBUS').length - 1} times of SIGBUS by itself and once by the test's hand ` +
        `(${gp.logs.filter((l) => l.msg.startsWith('gridpatrol could not start yet')).length} start-ups cut off by a flip and tried again), started again each time; ` +
        `${device.acked.size} acknowledged, ${landed.points} stored, 0 lost, 0 duplicated, ${device.closed} refusals; ` +
        `storm drone ${stormSent} messages, ${opened} altitude alerts; reads ${JSON.stringify(Object.fromEntries(answers))}; ` +
        `start-ups refused: ${JSON.stringify([...new Set(gp.output().split('\n').filter((l) => l.startsWith('gridpatrol: ') && !l.includes('admin token')))])}; ` +
        `checkpointer ended ${gp.logs.filter((l) => l.msg.startsWith('the checkpointer process ended')).length} times (${gp.logs.filter((l) => l.msg.startsWith('the checkpointer process ended') && l.signal === 'SIGBUS').length} by SIGBUS); ` +
        `files (MB): ${readdirSync(dataDir).filter((f) => f.includes('.db')).map((f) => `${f} ${(statSync(join(dataDir, f)).size / 1e6).toFixed(1)}`).join(', ')}`,
    );
  });
});
