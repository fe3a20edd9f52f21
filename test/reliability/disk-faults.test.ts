import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, registerDevice, spawnGridPatrol, testEnv } from '../helpers/gridpatrol.js';
import { FAULTS, metricSum, scrape } from '../helpers/metrics.js';
import { ResendingDrone } from '../helpers/publisher.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { waitForLanded } from '../helpers/stored.js';
import { sqliteProbe, type StoreProbe } from '../helpers/stores.js';

/**
 * Issue 8, faults (3): the data folder full (a real ENOSPC on a small ext4 disk) or read-only
 * (the immutable attribute: writes to open files fail with EPERM), first the spool's folder, then
 * the whole data folder with GridPatrol's SQLite databases in it. GridPatrol, as its own process
 * with the embedded store in that folder, stops acknowledging (the publisher's connection closes
 * without a PUBACK), says why (an ERROR log line, /readyz 503 naming the spool, a metric), stays up,
 * and takes publishes again once the disk does, losing nothing it acknowledged. The device acts
 * as a QoS 1 sender does: after a refusal it reconnects and sends the unacknowledged message again.
 * `npm run test:faults` holds each fault longer and sends more.
 */
const BEFORE = FAULTS ? 3000 : 300;
const AFTER = FAULTS ? 3000 : 300;
const REFUSALS = FAULTS ? 20 : 3;
/** how long each fault is held at least */
const HOLD_MS = FAULTS ? 60_000 : 3000;

type GP = Awaited<ReturnType<typeof spawnGridPatrol>>;

describe.each([
  ['full', 'ENOSPC', /ENOSPC: no space left on device/, ''],
  ['read-only (its spool folder)', 'EPERM', /EPERM: operation not permitted/, 'spool'],
  ['read-only (all of it, the databases too)', 'EPERM', /EPERM: operation not permitted/, '.'],
] as const)('the data folder %s', (fault, code, reason, immutable) => {
  let disk: SmallDisk;
  let probe: StoreProbe;
  let gp: GP;
  let device: ResendingDrone;
  let dataDir: string;
  let ready503: { status: number; json: any };
  let metricsWhileDown = '';
  let apiWhileDown: { status: number; json: any };
  let refusedAtLogin = 0;
  let faultMs = 0;
  let recoveredMs = 0;

  /*
   * Full: the whole disk. Each refusal lets the spool cut its failed write back, and the writer
   * frees spooled segments once they are in the store, so a little space comes back: the filler
   * takes it again before every attempt. Read-only: the spool folder and its open segment, or the
   * whole data folder (then SQLite's WAL index, a shared memory map, is read-only too: a store into
   * it would be a SIGBUS, which storage/write-guard.ts keeps SQLite from making).
   */
  const inject = async () => (fault === 'full' ? void (await disk.fill()) : disk.immutable(join(dataDir, immutable), true));
  const repair = async () => (fault === 'full' ? disk.free() : disk.immutable(join(dataDir, immutable), false));

  beforeAll(async () => {
    disk = mountSmallDisk(32);
    dataDir = join(disk.dir, 'data');
    mkdirSync(dataDir);
    probe = await sqliteProbe();
    const env = testEnv({ GRIDPATROL_DATA_DIR: dataDir, GRIDPATROL_MAX_MSGS_PER_SEC: '10000' });
    probe.env(dataDir);
    gp = await spawnGridPatrol(env);
    const id = `disk-${fault.replace(/\W+/g, '-')}`;
    device = new ResendingDrone(id, await registerDevice(gp.http, id, 'drone'));
    expect(await device.publish(gp.ports.mqttPort, BEFORE)).toBe('done');

    await inject();
    const injected = performance.now();
    // the device keeps sending; the first message the spool cannot write closes its connection
    await eventually(async () => (await device.publish(gp.ports.mqttPort, 1_000_000)) === 'closed', 30_000, 100);
    ready503 = await gp.http('GET', '/readyz', undefined, null);
    metricsWhileDown = await scrape(gp.ports.httpPort);
    apiWhileDown = await gp.http('GET', '/api/v1/alerts');
    // and it stays refused while the fault lasts, however often the device comes back
    // (what still fits in the last block of the open segment is written and acknowledged: it is on disk)
    // (with the databases paused too, the device's login is refused as well: CONNACK 3, server unavailable)
    await eventually(async () => {
      await inject();
      // ends only when the connection is closed on it, or its login is refused
      await device.publish(gp.ports.mqttPort, 1_000_000).catch(() => refusedAtLogin++);
      return device.closed + refusedAtLogin >= REFUSALS && performance.now() - injected >= HOLD_MS;
    }, HOLD_MS + 60_000, 500);
    faultMs = performance.now() - injected;

    await repair();
    const repaired = performance.now();
    // the device's next attempt is taken
    await eventually(async () => (await device.publish(gp.ports.mqttPort, AFTER)) === 'done', 30_000, 200);
    recoveredMs = performance.now() - repaired;
  }, 5 * 60_000);

  afterAll(async () => {
    gp?.child.kill('SIGKILL');
    await gp?.exited;
    disk?.unmount();
  });

  it('stops acknowledging and says why: an ERROR log line, /readyz 503 naming the spool, metrics', () => {
    expect(device.closed).toBeGreaterThanOrEqual(1);
    expect(device.closed + refusedAtLogin).toBeGreaterThanOrEqual(REFUSALS);
    expect(ready503.status).toBe(503);
    expect(ready503.json.checks.spool).toMatchObject({ ok: false, detail: expect.stringMatching(reason) });
    expect(metricSum(metricsWhileDown, 'gridpatrol_spool_writable')).toBe(0);
    expect(metricSum(metricsWhileDown, 'gridpatrol_spool_write_errors_total', { code })).toBeGreaterThan(0);
    expect(metricSum(metricsWhileDown, 'gridpatrol_mqtt_refused_total', { action: 'publish', reason: 'ingest' })).toBeGreaterThan(0);
    const line = gp.logs.find((l) => l.msg === 'spool cannot write to disk: publishes are refused (no PUBACK) until it can');
    expect(line).toMatchObject({ level: 50, err: expect.objectContaining({ code }) });
  });

  if (immutable === '.')
  it('pauses its databases instead of dying, and says so: /readyz, a metric, an ERROR line, 503 problems', () => {
    expect(ready503.json.checks.data).toMatchObject({ ok: false, detail: expect.stringMatching(/data folder cannot be written \(EPERM\)/) });
    expect(metricSum(metricsWhileDown, 'gridpatrol_sqlite_writable', { db: 'metadata' })).toBe(0);
    expect(metricSum(metricsWhileDown, 'gridpatrol_sqlite_writable', { db: 'telemetry' })).toBe(0);
    const lines = gp.logs.filter((l) => l.msg === 'data folder cannot be written: the database is paused (requests answer 503) until it can');
    expect(lines.map((l) => l.db).sort()).toEqual(['metadata', 'telemetry']);
    expect(lines[0]).toMatchObject({ level: 50, code: 'EPERM' });
    expect(apiWhileDown.status).toBe(503);
    expect(apiWhileDown.json).toMatchObject({ code: 'GP_ERR_DATA_UNWRITABLE', detail: expect.stringMatching(/cannot be written \(EPERM\)/) });
  });

  it('stays up and takes publishes again once the disk does', async () => {
    expect(gp.child.exitCode).toBeNull();
    await eventually(async () => (await gp.http('GET', '/readyz', undefined, null)).status === 200, 30_000, 200);
    const text = await scrape(gp.ports.httpPort);
    expect(metricSum(text, 'gridpatrol_spool_writable')).toBe(1);
    expect(gp.logs.some((l) => l.msg === 'spool writes again: publishes are acknowledged again')).toBe(true);
    if (immutable === '.') {
      expect(metricSum(text, 'gridpatrol_sqlite_writable')).toBe(2);
      expect(gp.logs.filter((l) => l.msg === 'data folder writable again: the database is back')).toHaveLength(2);
      expect((await gp.http('GET', '/api/v1/alerts')).status).toBe(200);
    }
  });

  it('stores every acknowledged message exactly once', async () => {
    const landed = await waitForLanded(probe, device.id, device.acked, device.sentBelow, 60_000);
    expect(landed.missing).toEqual([]);
    expect(landed.points).toBe(landed.distinct);
    expect(landed.points).toBe(device.acked.size);
    console.log(
      `data folder ${fault}: ${device.closed} publishes refused over ${(faultMs / 1000).toFixed(1)} s (${code}); ` +
        `acknowledging again ${(recoveredMs / 1000).toFixed(2)} s after the repair; ${device.acked.size} acknowledged, ${landed.points} stored, 0 lost, 0 duplicated`,
    );
  });
});

describe('a data folder that cannot be written at start', () => {
  let disk: SmallDisk;
  beforeAll(() => {
    disk = mountSmallDisk(8);
  });
  afterAll(() => disk?.unmount());

  const startError = async (dataDir: string) => {
    const err = await spawnGridPatrol(testEnv({ GRIDPATROL_DATA_DIR: dataDir })).then(
      (gp) => {
        gp.child.kill('SIGKILL');
        return null;
      },
      (e: Error) => e,
    );
    const said = err?.message.split('before listening: ')[1] ?? '';
    expect(err?.message).toMatch(/exited 2 before listening/);
    expect(said.trim().split('\n')).toHaveLength(1);
    return said.trim();
  };

  it('stops the process with one line naming GRIDPATROL_DATA_DIR: the folder read-only', async () => {
    const dataDir = join(disk.dir, 'ro');
    mkdirSync(dataDir);
    disk.immutable(dataDir, true);
    expect(await startError(dataDir)).toBe(
      `gridpatrol: GRIDPATROL_DATA_DIR=${dataDir} cannot be written: EPERM; make it writable by GridPatrol's user or point GRIDPATROL_DATA_DIR elsewhere`,
    );
  });

  it('… or a database in it read-only', async () => {
    const dataDir = join(disk.dir, 'db-ro');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'gridpatrol.db'), '');
    disk.immutable(join(dataDir, 'gridpatrol.db'), true);
    expect(await startError(dataDir)).toMatch(/^gridpatrol: GRIDPATROL_DATA_DIR=.* cannot be written \(gridpatrol\.db in it\): EPERM;/);
  });
});
