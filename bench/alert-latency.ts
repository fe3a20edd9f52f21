import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import { parseDocument } from 'yaml';
import { topics } from '../core/topics.js';
import { BUNDLED_RULES_FILE } from '../lib/rules-file.js';
import { runLoad } from '../simulators/load.js';
import { openSse, writeRulesFile, type SseStream } from '../test/helpers/alerts.js';
import { connectMqtt, spawnGridPatrol, testEnv, type Http } from '../test/helpers/gridpatrol.js';
import { stopProcess } from '../test/helpers/influxd.js';
import { cpuTimeMs } from './lib/proc.js';
import { watchLog, type GpLog } from './lib/gp-log.js';
import { registerDrones } from './lib/register.js';
import { quantile, spread, type Spread } from './lib/stats.js';

/**
 * How long an alert takes from the triggering MQTT publish to its event on the SSE stream, with
 * GridPatrol under a moderate background load. One run: a fresh GridPatrol process (spawned as
 * `npm start` runs it, embedded SQLite), `devices` drones publishing telemetry at `rate` msg/s in
 * all (simulators/load.ts), and `triggers` fire detections (confidence 0.9, QoS 1) spaced
 * `intervalMs` apart from a pool of trigger drones. Each opens a new alert: a trigger drone's
 * previous alert is resolved over HTTP before it fires again. Latency = performance.now() just
 * before the publish → the SSE event parsed, both in this process.
 */

export interface AlertLatencyOptions {
  /** background telemetry, messages per second over all drones */
  rate: number;
  run: number;
  devices: number;
  triggers: number;
  /** between two triggering publishes, ms */
  intervalMs: number;
  /** background load alone before the first trigger, ms */
  warmupMs: number;
  /** drones taking turns at firing: each one's alert is resolved before its next fire */
  triggerDrones: number;
  rules: RulesChoice;
  log: (line: string) => void;
}

export interface AlertLatencyRun {
  rate: number;
  run: number;
  triggers: number;
  /** triggers whose alert reached the SSE stream within 10 s */
  delivered: number;
  /** publish → SSE event, ms */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** publish → PUBACK of the trigger (GridPatrol acknowledges after the rules ran), ms */
  ackP50Ms: number | null;
  ackP99Ms: number | null;
  /** the background telemetry: offered, acknowledged per second, errors */
  backgroundSent: number;
  backgroundAckedPerSec: number;
  backgroundErrors: number;
  /** GridPatrol's CPU over the load, percent of one core */
  gridpatrolCpuPercent: number | null;
  /** this process's event loop delay (it runs the load generator and the SSE reader), ms */
  benchLoopDelayP99Ms: number;
  gridpatrolLog: GpLog;
  /** the machine's 1-minute load average before and after the run: other work on it shows in every figure */
  loadAverage: { before: number; after: number };
  /** every trigger's publish → SSE latency in the order fired, ms (for the JSON) */
  latenciesMs: number[];
  error?: string;
}

/** Which rules a benchmark runs: `bench` (see benchRules) or `bundled`, the shipped file as is (an alert storm under the generator). */
export type RulesChoice = 'bench' | 'bundled';

export function rulesText(choice: RulesChoice): string {
  return choice === 'bundled' ? readFileSync(BUNDLED_RULES_FILE, 'utf8') : benchRules();
}

/** The bundled rules, but with the altitude ceiling above the load generator's 110–130 m: its random altitudes would flap an alert on every drone. */
export function benchRules(): string {
  const doc = parseDocument(readFileSync(BUNDLED_RULES_FILE, 'utf8'));
  const rules = doc.get('rules') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
  const ceiling = rules.items.find((r) => r.get('id') === 'drone-altitude-ceiling');
  if (!ceiling) throw new Error('bundled rules: drone-altitude-ceiling not found');
  ceiling.set('ceilingM', 150);
  return doc.toString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;

/** The triggers: fire, wait for the SSE event, resolve; one trigger every intervalMs, drones taking turns. */
async function trigger(o: AlertLatencyOptions, h: Http, sse: SseStream, drones: Array<{ id: string; client: MqttClient }>) {
  const latencies: number[] = [];
  const acks: number[] = [];
  const measured = new Set<string>();
  const busy = new Map<string, Promise<void>>();
  const cycles: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < o.triggers; i++) {
    const due = start + i * o.intervalMs;
    if (due > performance.now()) await sleep(due - performance.now());
    const d = drones[i % drones.length]!;
    await busy.get(d.id); // its previous alert is resolved
    const cycle = (async () => {
      const payload = JSON.stringify({ ts: Date.now(), kind: 'fire', confidence: 0.9, lat: 33.8 + (i % 10) * 0.01, lon: 113.85 + (i % 7) * 0.02 });
      const t0 = performance.now();
      d.client.publish(topics.droneEvents(d.id), payload, { qos: 1 }, (err) => {
        if (!err) acks.push(performance.now() - t0);
      });
      const e = await sse.events
        .waitFor((x) => x.transition.kind === 'open' && x.alert.entityId === d.id && !measured.has(x.alert.id), `the alert of trigger ${i}`, 10_000)
        .catch(() => null);
      if (!e) return;
      measured.add(e.alert.id);
      latencies.push(e.receivedAt - t0);
      const r = await h('POST', `/api/v1/alerts/${e.alert.id}/resolve`, { note: 'bench: resolved to let the next fire open a new alert' });
      if (r.status !== 200) throw new Error(`resolve ${e.alert.id}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    })();
    busy.set(d.id, cycle);
    cycles.push(cycle);
  }
  await Promise.all(cycles);
  return { latencies, acks };
}

export async function runAlertLatency(o: AlertLatencyOptions): Promise<AlertLatencyRun> {
  const rules = writeRulesFile(rulesText(o.rules));
  const env = testEnv({ GRIDPATROL_MAX_MSGS_PER_SEC: '10000000', GRIDPATROL_FLUSH_INTERVAL_MS: '200', GRIDPATROL_RULES_FILE: rules.path });
  const result: AlertLatencyRun = {
    rate: o.rate, run: o.run, triggers: o.triggers, delivered: 0, p50Ms: null, p99Ms: null, maxMs: null, ackP50Ms: null, ackP99Ms: null,
    backgroundSent: 0, backgroundAckedPerSec: 0, backgroundErrors: 0, gridpatrolCpuPercent: null, benchLoopDelayP99Ms: 0,
    gridpatrolLog: { warn: 0, error: 0, samples: [], stderr: '' }, latenciesMs: [], loadAverage: { before: round2(loadavg()[0]!), after: 0 },
  };
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>> | undefined;
  let sse: SseStream | undefined;
  const triggerClients: MqttClient[] = [];
  try {
    gp = await spawnGridPatrol(env);
    result.gridpatrolLog = watchLog(gp.child, 5);
    const background = await registerDrones(gp.http, 'bg', o.devices);
    const triggerDevices = await registerDrones(gp.http, 'trigger', o.triggerDrones);
    for (const d of triggerDevices) triggerClients.push(await connectMqtt(gp.ports.mqttPort, d.id, d.password));
    sse = await openSse(gp.ports.httpPort);
    if (sse.status !== 200) throw new Error(`alert stream answered ${sse.status}`);

    const loop = monitorEventLoopDelay({ resolution: 10 });
    let cpuBefore: number | null = null;
    let startedAt = 0;
    let triggered: ReturnType<typeof trigger> | undefined;
    const drones = triggerDevices.map((d, i) => ({ id: d.id, client: triggerClients[i]! }));
    const res = await runLoad({
      mqttPort: gp.ports.mqttPort, devices: background, ratePerDevice: o.rate / o.devices, qos: 1, batchSize: 1, seed: o.run,
      durationMs: o.warmupMs + o.triggers * o.intervalMs + 1000,
      onReady: () => {
        cpuBefore = cpuTimeMs(gp!.child.pid);
        startedAt = performance.now();
        loop.enable();
        triggered = sleep(o.warmupMs).then(() => trigger(o, gp!.http, sse!, drones));
        triggered.catch(() => {}); // awaited below, after the load; handled here so it is not reported unhandled meanwhile
      },
    });
    const { latencies, acks } = await triggered!;
    loop.disable();
    const cpuAfter = cpuTimeMs(gp.child.pid);
    const wallMs = performance.now() - startedAt;
    const sorted = [...latencies].sort((a, b) => a - b);
    const sortedAcks = [...acks].sort((a, b) => a - b);
    Object.assign(result, {
      latenciesMs: latencies.map((x) => Math.round(x * 100) / 100),
      delivered: latencies.length,
      p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.length ? Math.round(sorted.at(-1)! * 100) / 100 : null,
      ackP50Ms: quantile(sortedAcks, 0.5), ackP99Ms: quantile(sortedAcks, 0.99),
      backgroundSent: res.sent,
      backgroundAckedPerSec: res.elapsedMs > 0 ? Math.round((res.acked * 1000) / res.elapsedMs) : 0,
      backgroundErrors: res.errors.count,
      gridpatrolCpuPercent: cpuAfter !== null && cpuBefore !== null ? Math.round(((cpuAfter - cpuBefore) * 100) / wallMs) : null,
      benchLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e4) / 100,
    });
    result.loadAverage.after = round2(loadavg()[0]!);
    o.log(`alert-latency ${o.rate} msg/s run ${o.run}: ${result.delivered}/${o.triggers} alerts on SSE, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms; ` +
      `background ${result.backgroundAckedPerSec}/s acked, GridPatrol CPU ${result.gridpatrolCpuPercent ?? '?'} %, load average ${result.loadAverage.before} → ${result.loadAverage.after}`);
  } catch (err) {
    result.error = (err as Error).stack ?? String(err);
    o.log(`alert-latency ${o.rate} msg/s run ${o.run}: ERROR ${(err as Error).message}`);
  } finally {
    sse?.close();
    for (const c of triggerClients) c.end(true);
    if (gp) {
      await stopProcess(gp.child, 15_000);
      await gp.exited;
    }
    await rm(env.GRIDPATROL_DATA_DIR!, { recursive: true, force: true });
    rules.remove();
  }
  return result;
}

export interface AlertLatencySummary {
  rate: number;
  runs: number;
  delivered: string;
  p50Ms: Spread | null;
  p99Ms: Spread | null;
  maxMs: Spread | null;
  ackP50Ms: Spread | null;
  ackP99Ms: Spread | null;
  backgroundAckedPerSec: Spread | null;
  gridpatrolCpuPercent: Spread | null;
  benchLoopDelayP99Ms: Spread | null;
}

/** Per background rate, the median (min–max) over the runs of each run's figures. */
export function summarizeAlertLatency(runs: readonly AlertLatencyRun[]): AlertLatencySummary[] {
  const rates = [...new Set(runs.map((r) => r.rate))].sort((a, b) => a - b);
  return rates.map((rate) => {
    const g = runs.filter((r) => r.rate === rate && !r.error);
    return {
      rate, runs: g.length,
      delivered: `${g.reduce((n, r) => n + r.delivered, 0)}/${g.reduce((n, r) => n + r.triggers, 0)}`,
      p50Ms: spread(g.map((r) => r.p50Ms)), p99Ms: spread(g.map((r) => r.p99Ms)), maxMs: spread(g.map((r) => r.maxMs)),
      ackP50Ms: spread(g.map((r) => r.ackP50Ms)), ackP99Ms: spread(g.map((r) => r.ackP99Ms)),
      backgroundAckedPerSec: spread(g.map((r) => r.backgroundAckedPerSec)),
      gridpatrolCpuPercent: spread(g.map((r) => r.gridpatrolCpuPercent)),
      benchLoopDelayP99Ms: spread(g.map((r) => r.benchLoopDelayP99Ms)),
    };
  });
}
