import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxStore } from '../storage/influx-store.js';
import { SqliteStore } from '../storage/sqlite-store.js';
import type { TelemetryStore } from '../storage/telemetry-store.js';
import { ADMIN_TOKEN } from '../test/helpers/gridpatrol.js';
import { startInfluxd, stopProcess, type Influxd } from '../test/helpers/influxd.js';
import { describe, type StoreKind } from './ingest.js';
import { oneLine } from './ingest-report.js';
import { startGridPatrol, type RunningGridPatrol } from './lib/gridpatrol.js';
import { LoopbackClients } from './lib/loopback-http.js';
import { load1, machine, machineLine } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { dayOfReadings, seedAlerts, trackRecords, writeThrough } from './lib/seed.js';
import { quantile, showSpread, spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

/**
 * Queries as the API answers them, timed from outside (HTTP request → whole response): a 6-hour
 * track at 10 Hz reduced to 500 points, a day of sensor readings per 5-minute window, and the
 * alert list over `alerts` alerts; on each telemetry store. The data is seeded before GridPatrol
 * starts: telemetry through the store adapter (216,000 points over MQTT would take minutes and
 * measure ingest), alerts straight into the alert tables. Alerts live in the metadata SQLite
 * whatever the telemetry store is, so the alert queries measure the same thing on both.
 */

export interface QueriesBenchOptions {
  runs: number;
  quick: boolean;
  stores: StoreKind[];
  alerts: number;
  /** requests of each query per run; the first is reported apart (cold caches) */
  repeat: number;
}

const HOURS = 6;
const DRONE = 'query-drone';
const SENSOR = 'query-sensor';

interface Query {
  name: string;
  path: (start: number) => string;
  /** null when the answer is what the query should give; otherwise what is wrong */
  check: (items: unknown[]) => string | null;
}

function queries(alerts: number, quick: boolean): Query[] {
  const hours = quick ? 1 : HOURS;
  return [
    {
      name: `track ${hours} h at 10 Hz (${(hours * 36_000).toLocaleString('en-US')} points) → ≤ 500`,
      path: (s) => `/api/v1/drones/${DRONE}/track?from=${s}&to=${s + hours * 3_600_000}&limit=500`,
      check: (items) => (items.length > 400 && items.length <= 500 ? null : `${items.length} points, expected 401–500`),
    },
    {
      name: 'readings 1 day (1,440) → 288 windows of 5 min',
      path: (s) => `/api/v1/sensors/${SENSOR}/readings?from=${s}&to=${s + 86_400_000 - 1}&every=5m`,
      check: (items) => (items.length === 288 ? null : `${items.length} windows, expected 288`),
    },
    {
      name: `alerts: newest 100 of ${alerts.toLocaleString('en-US')}`,
      path: () => '/api/v1/alerts?limit=100',
      check: (items) => (items.length === 100 ? null : `${items.length} alerts, expected 100`),
    },
    {
      name: `alerts: open ones (${Math.ceil(alerts / 100).toLocaleString('en-US')}), first 100`,
      path: () => '/api/v1/alerts?state=open&limit=100',
      check: (items) => (items.length === Math.min(100, Math.ceil(alerts / 100)) ? null : `${items.length} alerts`),
    },
  ];
}

interface QueryTiming {
  query: string;
  firstMs: number;
  medianMs: number | null;
  p95Ms: number | null;
  maxMs: number | null;
  timesMs: number[];
  wrong: string | null;
}

interface QueriesRun {
  store: StoreKind;
  run: number;
  seedMs: { telemetry: number; alerts: number };
  startMs: number;
  timings: QueryTiming[];
  loadAverage: number;
  error?: string;
}

async function runQueries(o: QueriesBenchOptions, store: StoreKind, run: number, log: (line: string) => void): Promise<QueriesRun> {
  const result: QueriesRun = { store, run, seedMs: { telemetry: 0, alerts: 0 }, startMs: 0, timings: [], loadAverage: 0 };
  const dataDir = await mkdtemp(join(tmpdir(), 'gridpatrol-queries-'));
  let influx: Influxd | undefined;
  let gp: RunningGridPatrol | undefined;
  let clients: LoopbackClients | undefined;
  try {
    influx = store === 'influx' ? await startInfluxd() : undefined;
    const now = Date.now();
    // on a 5-minute boundary, two days back: the day of readings fills exactly 288 windows
    const start = Math.floor((now - 2 * 86_400_000) / 300_000) * 300_000;
    let t0 = performance.now();
    const target: TelemetryStore = influx
      ? new InfluxStore({ url: influx.url, database: 'gridpatrol', api: 'auto' })
      : new SqliteStore(join(dataDir, 'telemetry.db'));
    await target.init();
    await writeThrough(target, trackRecords(DRONE, start, o.quick ? 1 : HOURS));
    await writeThrough(target, dayOfReadings(SENSOR, start));
    await target.close();
    result.seedMs.telemetry = Math.round(performance.now() - t0);
    t0 = performance.now();
    seedAlerts(dataDir, o.alerts, now);
    result.seedMs.alerts = Math.round(performance.now() - t0);
    t0 = performance.now();
    gp = await startGridPatrol({
      GRIDPATROL_MQTT_PORT: '0', GRIDPATROL_MQTT_WS_PORT: '0', GRIDPATROL_HTTP_PORT: '0', GRIDPATROL_DATA_DIR: dataDir,
      GRIDPATROL_ADMIN_TOKEN: ADMIN_TOKEN, ...(influx && { GRIDPATROL_INFLUX_URL: influx.url }),
    });
    gp.child.stdout!.resume();
    result.startMs = Math.round(performance.now() - t0);
    clients = new LoopbackClients(gp.ports.httpPort, 8);
    for (const q of queries(o.alerts, o.quick)) {
      const times: number[] = [];
      let wrong: string | null = null;
      for (let k = 0; k < o.repeat; k++) {
        const t = performance.now();
        const r = await clients.get(q.path(start));
        times.push(Math.round((performance.now() - t) * 100) / 100);
        if (r.status !== 200) throw new Error(`${q.name}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
        wrong ??= q.check((r.json as { items: unknown[] }).items);
      }
      const rest = times.slice(1).sort((a, b) => a - b);
      result.timings.push({ query: q.name, firstMs: times[0]!, medianMs: quantile(rest, 0.5), p95Ms: quantile(rest, 0.95), maxMs: rest.at(-1) ?? null, timesMs: times, wrong });
    }
    result.loadAverage = load1();
    log(`queries ${store} run ${run}: seeded in ${result.seedMs.telemetry} + ${result.seedMs.alerts} ms; ` +
      result.timings.map((t) => `${t.query.split(' ')[0]}${t.query.includes('open') ? ' open' : ''} ${t.medianMs} ms${t.wrong ? ` (WRONG: ${t.wrong})` : ''}`).join(', ') + `; load ${result.loadAverage}`);
  } catch (err) {
    result.error = (err as Error).stack ?? describe(err);
    log(`queries ${store} run ${run}: ERROR ${describe(err)}`);
  } finally {
    clients?.close();
    if (gp) {
      await stopProcess(gp.child, 15_000);
      await gp.exited;
    }
    await influx?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  return result;
}

export async function queriesBench(o: QueriesBenchOptions, log: (line: string) => void): Promise<void> {
  const influxd = process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd';
  const stores = o.stores.filter((s) => s !== 'influx' || existsSync(influxd));
  const startedAt = new Date();
  const mach = machine();
  log(`queries: ${o.runs} run(s) × ${stores.join(', ')}; ${o.repeat} requests of each query; ${o.alerts} alerts`);
  const runs: QueriesRun[] = [];
  for (let run = 1; run <= o.runs; run++) for (const store of stores) runs.push(await runQueries(o, store, run, log));
  const names = queries(o.alerts, o.quick).map((q) => q.name);
  const summary = stores.flatMap((store) => names.map((query) => {
    const ts = runs.filter((r) => r.store === store && !r.error).map((r) => r.timings.find((t) => t.query === query)).filter((t): t is QueryTiming => !!t);
    return {
      store, query, runs: ts.length,
      firstMs: spread(ts.map((t) => t.firstMs)), medianMs: spread(ts.map((t) => t.medianMs)), p95Ms: spread(ts.map((t) => t.p95Ms)), maxMs: spread(ts.map((t) => t.maxMs)),
      wrong: ts.map((t) => t.wrong).find((w) => w !== null) ?? null,
    };
  }));
  const finishedAt = new Date();
  const file = await writeResults('queries', startedAt, { startedAt, finishedAt, machine: mach, options: { ...o, stores }, summary, runs });
  const ms = (x: ReturnType<typeof spread>) => showSpread(x, 1);
  const lines = [
    '',
    `GridPatrol queries over HTTP (request → whole response, from a client on the same machine), ${o.repeat} requests each per run; median (min–max) of ${o.runs} run(s)`,
    `${machineLine(mach)}; telemetry seeded through the store adapter, alerts straight into the alert tables (both before start)`,
    '',
    formatTable(
      ['store', 'query', 'first ms', 'median ms', 'p95 ms', 'max ms', 'answer'],
      summary.map((r) => [r.store, r.query, ms(r.firstMs), ms(r.medianMs), ms(r.p95Ms), ms(r.maxMs), r.wrong ?? 'right']),
    ),
    '',
    'first: the first request after start (cold caches); median, p95, max: the others. The alert queries read the metadata SQLite on both stores.',
    `Load average (1 min) after the runs: ${runs.map((r) => r.loadAverage).join(', ')} on ${mach.cpus.count} cores.`,
  ];
  const failed = runs.filter((r) => r.error);
  if (failed.length) lines.push('', 'Runs that failed:', ...failed.map((r) => `  ${r.store} run ${r.run}: ${oneLine(r.error!)}`));
  if (stores.length < o.stores.length) lines.push('', `Not run: InfluxDB (${influxd} not found)`);
  lines.push('', `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
