import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TelemetryRecord } from '../core/records.js';
import { Spool } from '../ingest/spool.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { SqliteStore } from '../storage/sqlite-store.js';
import { ADMIN_TOKEN } from '../test/helpers/gridpatrol.js';
import { stopProcess } from '../test/helpers/influxd.js';
import { freePort } from '../test/helpers/ports.js';
import { describe } from './ingest.js';
import { oneLine } from './ingest-report.js';
import { load1, machine, machineLine, ROOT } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { dayOfReadings, seedAlerts, seedDrones, trackRecords, writeThrough } from './lib/seed.js';
import { showSpread, spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';
import { buildServer } from '../scripts/build-server.js';

/**
 * Start-up: the process spawned → GET /readyz answers 200, polled every 10 ms on a port chosen
 * beforehand. Two entries: the bundle `npm start` runs (`node dist/main.mjs`, built here by
 * scripts/build-server.ts) and the sources through tsx (`node --import tsx main.ts`, what tests and
 * development run). With an empty data folder, and with a full one: drones and their telemetry, a
 * 6-hour 10 Hz track, 100,000 alerts, and records waiting in the spool (what a restart after an
 * outage finds). One start of each entry before the measured ones warms tsx's transform cache and
 * the page cache, as any second start.
 */

export interface StartupBenchOptions {
  runs: number;
  quick: boolean;
}

type Folder = 'empty' | 'full';
type Entry = 'bundle' | 'tsx';

interface StartupRun {
  entry: Entry;
  folder: Folder;
  run: number;
  /** spawn → first log line (modules loaded, building started), ms */
  firstLogMs: number | null;
  /** spawn → "gridpatrol listening", ms */
  listeningMs: number | null;
  /** spawn → /readyz 200, ms */
  readyMs: number | null;
  /** SIGTERM → exit, ms */
  stopMs: number | null;
  loadAverage: number;
  error?: string;
}

interface FullSize {
  drones: number;
  pointsPerDrone: number;
  trackHours: number;
  alerts: number;
  spooled: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A data folder as a busy GridPatrol leaves it; seeded through the store adapter, the spool and the metadata tables. */
async function fillFolder(dir: string, size: FullSize): Promise<void> {
  const now = Date.now();
  const drones = await seedDrones(dir, size.drones, 'fleet');
  const store = new SqliteStore(join(dir, 'telemetry.db'));
  await store.init();
  const start = now - 86_400_000;
  function* fleet(): Generator<TelemetryRecord> {
    for (const d of drones)
      for (let i = 0; i < size.pointsPerDrone; i++)
        yield { type: 'telemetry', droneId: d.id, gridId: 'LY-C3', ts: start + i * 1000, seq: i, lat: 33.84, lon: 113.92, alt: 80, speed: 9, heading: 90, battery: 90, mode: 'patrol', rssi: -60, sats: 12 };
  }
  await writeThrough(store, fleet());
  await writeThrough(store, trackRecords('track-drone', start, size.trackHours));
  await writeThrough(store, dayOfReadings('gauge', start));
  await store.close();
  seedAlerts(dir, size.alerts, now);
  const spool = await Spool.open({ dir: join(dir, 'spool'), maxBytes: 2 ** 30, fsync: false, log: silentLogger(), metrics: createMetrics() });
  for (let i = 0; i < size.spooled; i += 1000) {
    const batch: TelemetryRecord[] = [];
    for (let k = i; k < Math.min(size.spooled, i + 1000); k++)
      batch.push({ type: 'telemetry', droneId: drones[k % drones.length]!.id, gridId: 'LY-C3', ts: now - 3_600_000 + k, seq: 100_000 + k, lat: 33.84, lon: 113.92, alt: 80, speed: 9, heading: 90, battery: 90, mode: 'patrol', rssi: -60, sats: 12 });
    await spool.append(batch);
  }
  await spool.close();
}

async function startOnce(dataDir: string, entry: string[]): Promise<Omit<StartupRun, 'entry' | 'folder' | 'run' | 'loadAverage'>> {
  const httpPort = await freePort();
  const env = {
    ...process.env, GRIDPATROL_MQTT_PORT: '0', GRIDPATROL_MQTT_WS_PORT: '0', GRIDPATROL_HTTP_PORT: String(httpPort),
    GRIDPATROL_DATA_DIR: dataDir, GRIDPATROL_ADMIN_TOKEN: ADMIN_TOKEN, GRIDPATROL_LOG_LEVEL: 'info',
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, entry, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Omit<StartupRun, 'entry' | 'folder' | 'run' | 'loadAverage'> = { firstLogMs: null, listeningMs: null, readyMs: null, stopMs: null };
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const at = Math.round(performance.now() - t0);
    out.firstLogMs ??= at;
    if (line.includes('"gridpatrol listening"')) out.listeningMs = at;
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gridpatrol exited with ${child.exitCode}: ${stderr.slice(0, 500)}`);
      if (performance.now() - t0 > 60_000) throw new Error('not ready within 60 s');
      const status = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status, () => 0);
      if (status === 200) {
        out.readyMs = Math.round(performance.now() - t0);
        break;
      }
      await sleep(10);
    }
  } finally {
    const t1 = performance.now();
    await stopProcess(child, 15_000);
    out.stopMs = Math.round(performance.now() - t1);
  }
  return out;
}

export async function startupBench(o: StartupBenchOptions, log: (line: string) => void): Promise<void> {
  const size: FullSize = o.quick
    ? { drones: 500, pointsPerDrone: 10, trackHours: 1, alerts: 5000, spooled: 10_000 }
    : { drones: 10_000, pointsPerDrone: 10, trackHours: 6, alerts: 100_000, spooled: 100_000 };
  const startedAt = new Date();
  const mach = machine();
  log(`startup: ${o.runs} run(s) × empty and full data folder (${size.drones} drones × ${size.pointsPerDrone} points, a ${size.trackHours} h 10 Hz track, ${size.alerts} alerts, ${size.spooled} records spooled)`);
  const runs: StartupRun[] = [];
  const bundleDir = join(ROOT, 'dist', `bench-${process.pid}`);
  const entries: Record<Entry, string[]> = {
    bundle: ['--enable-source-maps', await buildServer(join(bundleDir, 'main.mjs'))],
    tsx: ['--import', 'tsx', 'main.ts'],
  };
  const warm = await mkdtemp(join(tmpdir(), 'gridpatrol-startup-'));
  try {
    for (const entry of Object.values(entries)) await startOnce(warm, entry);
  } catch (err) {
    log(`startup warm-up: ${describe(err)}`);
  } finally {
    await rm(warm, { recursive: true, force: true });
  }
  try {
    for (let run = 1; run <= o.runs; run++) {
      for (const folder of ['empty', 'full'] as const) {
        const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-startup-'));
        try {
          if (folder === 'full') await fillFolder(dir, size);
          for (const entry of Object.keys(entries) as Entry[]) {
            const r: StartupRun = { entry, folder, run, firstLogMs: null, listeningMs: null, readyMs: null, stopMs: null, loadAverage: 0 };
            // each entry starts from a copy of the same folder: a start drains the spool it finds
            const copy = `${dir}-${entry}`;
            try {
              await cp(dir, copy, { recursive: true });
              Object.assign(r, await startOnce(copy, entries[entry]));
              log(`startup ${entry} ${folder} run ${run}: first log ${r.firstLogMs} ms, listening ${r.listeningMs} ms, ready ${r.readyMs} ms, stopped in ${r.stopMs} ms`);
            } catch (err) {
              r.error = (err as Error).stack ?? describe(err);
              log(`startup ${entry} ${folder} run ${run}: ERROR ${describe(err)}`);
            } finally {
              r.loadAverage = load1();
              runs.push(r);
              await rm(copy, { recursive: true, force: true });
            }
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await rm(bundleDir, { recursive: true, force: true });
  }
  const summary = (['bundle', 'tsx'] as const).flatMap((entry) => (['empty', 'full'] as const).map((folder) => ({ entry, folder }))).map(({ entry, folder }) => {
    const g = runs.filter((r) => r.entry === entry && r.folder === folder && !r.error);
    return {
      entry, folder, runs: g.length, firstLogMs: spread(g.map((r) => r.firstLogMs)), listeningMs: spread(g.map((r) => r.listeningMs)),
      readyMs: spread(g.map((r) => r.readyMs)), stopMs: spread(g.map((r) => r.stopMs)), loadAverage: spread(g.map((r) => r.loadAverage)),
    };
  });
  const finishedAt = new Date();
  const file = await writeResults('startup', startedAt, { startedAt, finishedAt, machine: mach, options: { ...o, full: size }, summary, runs });
  const lines = [
    '',
    `GridPatrol start-up: process spawned → GET /readyz 200 (SQLite store), median (min–max) of ${o.runs} run(s) after one warm-up start`,
    `${machineLine(mach)}; full folder: ${size.drones.toLocaleString('en-US')} drones × ${size.pointsPerDrone} points, a ${size.trackHours} h 10 Hz track, ` +
      `${size.alerts.toLocaleString('en-US')} alerts, ${size.spooled.toLocaleString('en-US')} records waiting in the spool`,
    '',
    formatTable(
      ['entry', 'data folder', 'first log line ms', 'listening ms', 'ready ms', 'stop ms', 'load avg'],
      summary.map((s) => [s.entry === 'bundle' ? 'node dist/main.mjs (npm start)' : 'tsx main.ts', s.folder, showSpread(s.firstLogMs), showSpread(s.listeningMs), showSpread(s.readyMs), showSpread(s.stopMs), showSpread(s.loadAverage, 1)]),
    ),
    '',
    'first log line: the modules are loaded and GridPatrol began opening the data folder. stop: SIGTERM → exit.',
  ];
  const failed = runs.filter((r) => r.error);
  if (failed.length) lines.push('', 'Runs that failed:', ...failed.map((r) => `  ${r.entry} ${r.folder} run ${r.run}: ${oneLine(r.error!)}`));
  lines.push('', `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
