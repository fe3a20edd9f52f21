import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { topics } from '../core/topics.js';
import { connectMqtt, registerDevice, testEnv } from '../test/helpers/gridpatrol.js';
import { startInfluxd, stopProcess, type Influxd } from '../test/helpers/influxd.js';
import { writeRulesFile } from '../test/helpers/alerts.js';
import { rulesText, type RulesChoice } from './alert-latency.js';
import { describe, type StoreKind } from './ingest.js';
import { oneLine } from './ingest-report.js';
import { startGridPatrol, type RunningGridPatrol } from './lib/gridpatrol.js';
import { watchLog, type GpLog } from './lib/gp-log.js';
import { generate } from './lib/load.js';
import { LoopbackClients } from './lib/loopback-http.js';
import { load1, machine, machineLine } from './lib/machine.js';
import { registerDrones } from './lib/register.js';
import { cpuTimeMs } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { quantile, showSpread, spread, type Spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

/**
 * Freshness: how long after a QoS 1 publish the point is returned by
 * GET /api/v1/drones/{id}/track, with GridPatrol busy with background telemetry. A probe drone
 * publishes one point every `intervalMs`; each is polled for (every POLL_MS, from loopback
 * addresses in turn: the track route allows one address 120 requests a minute) until the API
 * returns it. Latency = performance.now() just before the publish → the response that holds it.
 */

export interface FreshnessBenchOptions {
  runs: number;
  quick: boolean;
  stores: StoreKind[];
  devices: number;
  samples: number;
  /** background telemetry, msg/s over all drones */
  rate: number;
  rules: RulesChoice;
}

const INTERVAL_MS = 150;
const POLL_MS = 20;
const GIVE_UP_MS = 10_000;
const WARMUP_MS = 1000;
const PROBE = 'fresh-probe';

interface FreshnessRun {
  store: StoreKind;
  run: number;
  samples: number;
  /** probes the track returned within GIVE_UP_MS */
  visible: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  ackP50Ms: number | null;
  ackP99Ms: number | null;
  backgroundAckedPerSec: number;
  gridpatrolCpuPercent: number | null;
  requests: number;
  rateLimited: number;
  loadAverage: { before: number; after: number };
  latenciesMs: number[];
  gridpatrolLog: GpLog;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Publishes the probes and polls for each; resolves with publish → visible and publish → PUBACK latencies, ms. */
async function probe(samples: number, drone: MqttClient, clients: LoopbackClients): Promise<{ visible: number[]; acks: number[]; requests: number }> {
  const visible: number[] = [];
  const acks: number[] = [];
  let requests = 0;
  let lastTs = 0;
  const start = performance.now();
  const one = async (i: number): Promise<void> => {
    const ts = (lastTs = Math.max(Date.now(), lastTs + 1));
    const payload = JSON.stringify({ ts, seq: i + 1, lat: 33.81, lon: 113.95, alt: 118, speed: 8, heading: 90, battery: 80, mode: 'patrol', rssi: -60, sats: 12 });
    const t0 = performance.now();
    drone.publish(topics.droneTelemetry(PROBE), payload, { qos: 1 }, (err) => {
      if (!err) acks.push(performance.now() - t0);
    });
    while (performance.now() - t0 < GIVE_UP_MS) {
      requests++;
      const r = await clients.get(`/api/v1/drones/${PROBE}/track?from=${ts}&to=${ts}&limit=2`);
      if (r.status === 200 && ((r.json as { items: unknown[] }).items.length ?? 0) > 0) {
        visible.push(performance.now() - t0);
        return;
      }
      if (r.status !== 200 && r.status !== 429) throw new Error(`track answered ${r.status}: ${JSON.stringify(r.json).slice(0, 300)}`);
      await sleep(POLL_MS);
    }
  };
  const all: Array<Promise<void>> = [];
  let failure: unknown;
  for (let i = 0; i < samples && failure === undefined; i++) {
    const due = start + i * INTERVAL_MS;
    if (due > performance.now()) await sleep(due - performance.now());
    // handled at once: a probe that fails while later ones are still being fired stops the firing
    all.push(one(i).catch((err: unknown) => void (failure ??= err)));
  }
  await Promise.all(all);
  if (failure !== undefined) throw failure;
  return { visible, acks, requests };
}

async function runFreshness(o: FreshnessBenchOptions, store: StoreKind, run: number, log: (line: string) => void): Promise<FreshnessRun> {
  const result: FreshnessRun = {
    store, run, samples: o.samples, visible: 0, p50Ms: null, p99Ms: null, maxMs: null, ackP50Ms: null, ackP99Ms: null,
    backgroundAckedPerSec: 0, gridpatrolCpuPercent: null, requests: 0, rateLimited: 0, loadAverage: { before: load1(), after: 0 }, latenciesMs: [],
    gridpatrolLog: { warn: 0, error: 0, samples: [], stderr: '' },
  };
  let influx: Influxd | undefined;
  let gp: RunningGridPatrol | undefined;
  let drone: MqttClient | undefined;
  let clients: LoopbackClients | undefined;
  let dataDir: string | undefined;
  let rules: ReturnType<typeof writeRulesFile> | undefined;
  try {
    influx = store === 'influx' ? await startInfluxd() : undefined;
    // by default the bundled rules with the altitude ceiling above the generator's random altitudes, as in the other benchmarks: an alert storm is not freshness
    rules = writeRulesFile(rulesText(o.rules));
    const env = testEnv({ GRIDPATROL_MAX_MSGS_PER_SEC: '10000000', GRIDPATROL_FLUSH_INTERVAL_MS: '200', GRIDPATROL_RULES_FILE: rules.path, ...(influx && { GRIDPATROL_INFLUX_URL: influx.url }) });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await startGridPatrol(env);
    result.gridpatrolLog = watchLog(gp.child, 5);
    const background = await registerDrones(gp.http, 'bg', o.devices);
    drone = await connectMqtt(gp.ports.mqttPort, PROBE, await registerDevice(gp.http, PROBE, 'drone'));
    clients = new LoopbackClients(gp.ports.httpPort, 64);
    let cpuBefore: number | null = null;
    let startedAt = 0;
    let probed: ReturnType<typeof probe> | undefined;
    const { res } = await generate({
      mqttPort: gp.ports.mqttPort, devices: background, ratePerDevice: o.rate / o.devices, qos: 1, batchSize: 1, seed: run,
      durationMs: WARMUP_MS + o.samples * INTERVAL_MS + 1000,
      onReady: () => {
        cpuBefore = cpuTimeMs(gp!.child.pid);
        startedAt = performance.now();
        probed = sleep(WARMUP_MS).then(() => probe(o.samples, drone!, clients!));
        probed.catch(() => {}); // awaited below
      },
    }, 1);
    const { visible, acks, requests } = await probed!;
    const cpuAfter = cpuTimeMs(gp.child.pid);
    const wallMs = performance.now() - startedAt;
    const sorted = [...visible].sort((a, b) => a - b);
    const sortedAcks = [...acks].sort((a, b) => a - b);
    Object.assign(result, {
      visible: visible.length, latenciesMs: visible.map(round2),
      p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.length ? round2(sorted.at(-1)!) : null,
      ackP50Ms: quantile(sortedAcks, 0.5), ackP99Ms: quantile(sortedAcks, 0.99),
      backgroundAckedPerSec: res.elapsedMs > 0 ? Math.round((res.acked * 1000) / res.elapsedMs) : 0,
      gridpatrolCpuPercent: cpuAfter !== null && cpuBefore !== null ? Math.round(((cpuAfter - cpuBefore) * 100) / wallMs) : null,
      requests, rateLimited: clients.rateLimited,
    });
    result.loadAverage.after = load1();
    log(`freshness ${store} run ${run}: ${result.visible}/${o.samples} visible, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms; ` +
      `background ${result.backgroundAckedPerSec}/s acked, ${requests} track requests (${clients.rateLimited} rate-limited), load ${result.loadAverage.before} → ${result.loadAverage.after}`);
  } catch (err) {
    result.error = (err as Error).stack ?? describe(err);
    log(`freshness ${store} run ${run}: ERROR ${describe(err)}`);
  } finally {
    clients?.close();
    drone?.end(true);
    if (gp) {
      await stopProcess(gp.child, 15_000);
      await gp.exited;
    }
    await influx?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    rules?.remove();
  }
  return result;
}

export async function freshnessBench(o: FreshnessBenchOptions, log: (line: string) => void): Promise<void> {
  const influxd = process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd';
  const stores = o.stores.filter((s) => s !== 'influx' || existsSync(influxd));
  const startedAt = new Date();
  const mach = machine();
  log(`freshness: ${o.runs} run(s) × ${stores.join(', ')}; ${o.samples} probes ${INTERVAL_MS} ms apart, background ${o.rate} msg/s from ${o.devices} drones`);
  const runs: FreshnessRun[] = [];
  for (let run = 1; run <= o.runs; run++) for (const store of stores) runs.push(await runFreshness(o, store, run, log));
  const summary = stores.map((store) => {
    const g = runs.filter((r) => r.store === store && !r.error);
    const s = (f: (r: FreshnessRun) => number | null) => spread(g.map(f));
    return {
      store, runs: g.length, visible: `${g.reduce((n, r) => n + r.visible, 0)}/${g.reduce((n, r) => n + r.samples, 0)}`,
      p50Ms: s((r) => r.p50Ms), p99Ms: s((r) => r.p99Ms), maxMs: s((r) => r.maxMs), ackP99Ms: s((r) => r.ackP99Ms),
      backgroundAckedPerSec: s((r) => r.backgroundAckedPerSec), gridpatrolCpuPercent: s((r) => r.gridpatrolCpuPercent),
      rateLimited: g.reduce((n, r) => n + r.rateLimited, 0), loadAverage: s((r) => r.loadAverage.after),
    };
  });
  const finishedAt = new Date();
  const file = await writeResults('freshness', startedAt, { startedAt, finishedAt, machine: mach, options: { ...o, stores, intervalMs: INTERVAL_MS, pollMs: POLL_MS }, summary, runs });
  const ms = (x: Spread | null) => showSpread(x, 1);
  const lines = [
    '',
    `GridPatrol freshness: QoS 1 publish → point returned by GET /api/v1/drones/{id}/track, ${o.samples} probes per run, background ${o.rate.toLocaleString('en-US')} msg/s; median (min–max) of ${o.runs} run(s)`,
    `${machineLine(mach)}; GRIDPATROL_FLUSH_INTERVAL_MS=200 (as shipped); polled every ${POLL_MS} ms`,
    '',
    formatTable(
      ['store', 'visible', 'p50 ms', 'p99 ms', 'max ms', 'PUBACK p99 ms', 'background acked msg/s', 'GP CPU %', '429s', 'load avg'],
      summary.map((r) => [r.store, r.visible, ms(r.p50Ms), ms(r.p99Ms), ms(r.maxMs), ms(r.ackP99Ms), showSpread(r.backgroundAckedPerSec), showSpread(r.gridpatrolCpuPercent), String(r.rateLimited), showSpread(r.loadAverage, 1)]),
    ),
  ];
  const failed = runs.filter((r) => r.error);
  if (failed.length) lines.push('', 'Runs that failed:', ...failed.map((r) => `  ${r.store} run ${r.run}: ${oneLine(r.error!)}`));
  const logs = runs.filter((r) => r.gridpatrolLog.warn || r.gridpatrolLog.error);
  if (logs.length) lines.push('', 'GridPatrol logged:', ...logs.map((r) => `  ${r.store} run ${r.run}: ${r.gridpatrolLog.error} error, ${r.gridpatrolLog.warn} warn, first: ${r.gridpatrolLog.samples[0]?.slice(0, 300)}`));
  if (stores.length < o.stores.length) lines.push('', `Not run: InfluxDB (${influxd} not found)`);
  lines.push('', `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
