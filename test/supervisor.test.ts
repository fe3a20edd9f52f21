import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, eventually, registerDevice, spawnGridPatrol, testEnv } from './helpers/gridpatrol.js';
import { freePort } from './helpers/ports.js';
import { ResendingDrone } from './helpers/publisher.js';
import { mountSmallDisk } from './helpers/small-disk.js';
import { waitForLanded } from './helpers/stored.js';
import { sqliteProbe } from './helpers/stores.js';

/**
 * `npm start` runs GridPatrol under its supervisor (`--supervise`, lib/supervisor.ts): a GridPatrol
 * that dies (SIGBUS when the data folder turns read-only under SQLite's shared memory, the OOM
 * killer, a fatal error) is started again, and what it acknowledged is stored once all the same.
 */
type GP = Awaited<ReturnType<typeof spawnGridPatrol>>;
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const listening = (gp: GP) => gp.logs.filter((l) => l.msg === 'gridpatrol listening');

async function supervised(extra: Record<string, string> = {}): Promise<GP> {
  // fixed ports: the restarted GridPatrol listens where the devices know it, as in production
  const [mqtt, ws, http] = [await freePort(), await freePort(), await freePort()];
  const gp = await spawnGridPatrol(
    testEnv({ GRIDPATROL_MQTT_PORT: String(mqtt), GRIDPATROL_MQTT_WS_PORT: String(ws), GRIDPATROL_HTTP_PORT: String(http), ...extra }),
    { supervise: true },
  );
  cleanups.push(() => {
    for (const l of listening(gp)) if (alive(l.pid as number)) process.kill(l.pid as number, 'SIGKILL');
    gp.child.kill('SIGKILL');
  });
  return gp;
}

describe('GridPatrol under its supervisor (npm start)', () => {
  it('dies of SIGBUS under QoS 1 load, is started again, and every acknowledged message is stored exactly once', async () => {
    const gp = await supervised();
    const probe = await sqliteProbe();
    probe.env(listening(gp)[0]!.dataDir as string);
    const drone = new ResendingDrone('sup-drone', await registerDevice(gp.http, 'sup-drone', 'drone'));
    let running = true;
    const load = (async () => {
      while (running) if ((await drone.publish(gp.ports.mqttPort, 1_000_000).catch(() => 'closed')) !== 'done') await new Promise((r) => setTimeout(r, 100));
    })();
    await eventually(async () => drone.acked.size > 200, 20_000, 20);

    const first = listening(gp)[0]!.pid as number;
    const killedAt = performance.now();
    process.kill(first, 'SIGBUS');
    await eventually(async () => listening(gp).length === 2, 30_000, 20);
    const restartMs = performance.now() - killedAt;
    const ended = gp.logs.find((l) => l.msg.startsWith('gridpatrol process ended'));
    expect(ended).toMatchObject({ level: 50, pid: first, signal: 'SIGBUS', restarts: 1, hint: expect.stringMatching(/read-only/) });
    expect(listening(gp)[1]!.pid).not.toBe(first);
    expect(alive(first)).toBe(false);

    const before = drone.acked.size;
    await eventually(async () => drone.acked.size > before + 200, 30_000, 20);
    running = false;
    await drone.stop();
    await load;
    const landed = await waitForLanded(probe, drone.id, drone.acked, drone.sentBelow);
    expect(landed.missing).toEqual([]);
    expect(landed.foreign).toEqual([]);
    expect(landed.points).toBe(landed.distinct);
    console.log(`supervised GridPatrol killed with SIGBUS: listening again after ${restartMs.toFixed(0)} ms; ${drone.acked.size} acknowledged, ${landed.points} stored, 0 lost, 0 duplicated`);

    gp.child.kill('SIGTERM');
    expect(await gp.exited).toBe(0);
    expect(alive(listening(gp)[1]!.pid as number)).toBe(false);
  });

  it('started again with the data folder still read-only, it waits for the folder instead of exiting, and starts once it can be written', async () => {
    const disk = mountSmallDisk(32);
    cleanups.push(() => disk.unmount());
    const dataDir = join(disk.dir, 'data');
    const gp = await supervised({ GRIDPATROL_DATA_DIR: dataDir });
    disk.immutable(dataDir, true);
    cleanups.push(() => disk.immutable(dataDir, false));
    process.kill(listening(gp)[0]!.pid as number, 'SIGBUS');
    const waiting = await eventually(async () => gp.logs.find((l) => l.msg === 'data folder cannot be written; waiting for it before starting'), 30_000, 20);
    expect(waiting).toMatchObject({ level: 50, reason: expect.stringMatching(/GRIDPATROL_DATA_DIR=.* cannot be written: EPERM/) });
    // one death, no exits: the restarted process waits
    await new Promise((r) => setTimeout(r, 1_000));
    expect(gp.logs.filter((l) => l.msg.startsWith('gridpatrol process ended')).map((l) => l.signal ?? l.code)).toEqual(['SIGBUS']);
    const writableAt = performance.now();
    disk.immutable(dataDir, false);
    await eventually(async () => listening(gp).length === 2, 30_000, 20);
    const resumeMs = performance.now() - writableAt;
    expect(gp.logs.find((l) => l.msg === 'data folder writable again; starting')).toBeDefined();
    expect((await gp.http('GET', '/readyz', undefined, null)).status).toBe(200);
    console.log(`restarted with the data folder read-only: waited, listening ${resumeMs.toFixed(0)} ms after it could be written again`);
    gp.child.kill('SIGTERM');
    expect(await gp.exited).toBe(0);
  });

  it('a GridPatrol whose supervisor was killed with SIGKILL stops by itself instead of running on unsupervised', async () => {
    const gp = await supervised();
    const pid = listening(gp)[0]!.pid as number;
    gp.child.kill('SIGKILL');
    await eventually(async () => !alive(pid), 15_000, 50);
  });

  it('a port taken at start is reported once and not retried: exit 2', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => taken.close());
    const port = (taken.address() as { port: number }).port;
    const err = await supervised({ GRIDPATROL_HTTP_PORT: String(port) }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/exited 2 before listening: gridpatrol: cannot listen 127\.0\.0\.1:\d+: EADDRINUSE/);
    expect((err as Error).message.match(/cannot listen/g)).toHaveLength(1);
  });
});
