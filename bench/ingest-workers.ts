import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { SERVICE_USERNAME } from '../core/principal.js';
import { topics } from '../core/topics.js';
import { runLoad, type LoadDevice } from '../simulators/load.js';
import { writeRulesFile } from '../test/helpers/alerts.js';
import { ADMIN_TOKEN, spawnGridPatrol, testEnv, type Http } from '../test/helpers/gridpatrol.js';
import { startInfluxd, stopProcess } from '../test/helpers/influxd.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { benchRules } from './alert-latency.js';
import { load1, machine, machineLine } from './lib/machine.js';
import { cpuTimeMs } from './lib/proc.js';
import { promValue } from './lib/prom.js';
import { writeResults } from './lib/results.js';

/**
 * The split deployment on this machine (README: Scaling past one machine): Debian's Mosquitto 2,
 * a fresh influxd, one `api` and 1, 2, 3 … `ingest` workers in one MQTT 5 shared-subscription
 * group, every one its own process.
 *
 * - Ingest: `--devices` drones publish about `--messages` QoS 1 telemetry messages (one object
 *   each), offered at 20,000 msg/s, which Mosquitto acknowledges at once; the figure is messages /
 *   (first publish → the workers' summed gridpatrol_records_accepted_total reaching them): how
 *   fast the workers drain a backlog. The same for the api's one rules evaluator
 *   (gridpatrol_rules_records_total), which sees every message.
 * - Alert latency: with `--background` msg/s of telemetry through the same workers, a drone
 *   publishes a fire detection (QoS 1) `--triggers` times; latency = publish → the alert on
 *   Mosquitto's alert topic, published by the api (which resolves it over HTTP before the next).
 *
 *   npx tsx bench/ingest-workers.ts [--workers 1,2,3] [--connections 1] [--messages 40000] [--devices 40] [--background 1000] [--triggers 20] [--quick]
 */
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,3' },
    messages: { type: 'string', default: '40000' },
    devices: { type: 'string', default: '40' },
    background: { type: 'string', default: '1000' },
    triggers: { type: 'string', default: '20' },
    connections: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick!;
const workerCounts = (quick ? '1,2' : values.workers!).split(',').map(Number);
const MESSAGES = quick ? 4000 : Number(values.messages);
const DEVICES = Number(values.devices);
const BACKGROUND = quick ? 200 : Number(values.background);
const TRIGGERS = quick ? 3 : Number(values.triggers);
const CONNECTIONS = Number(values.connections);
// offered total rate of the backlog phase, msg/s
const OFFERED = 20_000;

type Proc = Awaited<ReturnType<typeof spawnGridPatrol>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const metricsOf = async (h: Http) => (await h('GET', '/metrics', undefined, null)).json as string;
const quantile = (s: number[], p: number) => (s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]! * 10) / 10 : null);

async function runOne(workers: number) {
  const [influxd, mosquitto] = await Promise.all([startInfluxd(), startMosquitto()]);
  const rules = writeRulesFile(benchRules());
  const env = testEnv({ GRIDPATROL_INFLUX_URL: influxd.url, GRIDPATROL_RULES_FILE: rules.path, GRIDPATROL_MQTT_URL: mosquitto.url, GRIDPATROL_FLUSH_INTERVAL_MS: '200' });
  const children: ChildProcess[] = [];
  try {
    const api = await spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: 'api-1' }, { role: 'api' });
    children.push(api.child);
    const ingest: Proc[] = await Promise.all(Array.from({ length: workers }, (_, i) =>
      spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: `ingest-${i + 1}`, GRIDPATROL_INGEST_SHARE: 'ingest', GRIDPATROL_INGEST_CONNECTIONS: String(CONNECTIONS) }, { role: 'ingest' })));
    children.push(...ingest.map((p) => p.child));
    // Mosquitto checks no passwords here; the ids only name the topics
    const devices: LoadDevice[] = Array.from({ length: DEVICES }, (_, i) => ({ id: `bench-${i + 1}`, password: 'x' }));

    const accepted = async () => (await Promise.all(ingest.map(async (w) => promValue(await metricsOf(w.http), 'gridpatrol_records_accepted_total')))).reduce((a, b) => a + b, 0);
    const evaluated = async () => promValue(await metricsOf(api.http), 'gridpatrol_rules_records_total');
    let t0 = 0;
    const cpu = () => [api, ...ingest].map((p) => cpuTimeMs(p.child.pid) ?? 0);
    const cpuBefore = cpu();
    const loadBefore = load1();
    const res = await runLoad({
      mqttPort: mosquitto.port, devices, ratePerDevice: OFFERED / DEVICES, qos: 1, batchSize: 1, durationMs: (MESSAGES / OFFERED) * 1000,
      tsOrigin: Date.now() - 3_600_000, onReady: () => { t0 = performance.now(); },
    });
    const target = res.acked;
    let ingestDoneMs = 0;
    let evalDoneMs = 0;
    for (const deadline = performance.now() + 300_000; performance.now() < deadline && (!ingestDoneMs || !evalDoneMs);) {
      const [a, e] = await Promise.all([accepted(), evaluated()]);
      if (!ingestDoneMs && a >= target) ingestDoneMs = performance.now() - t0;
      if (!evalDoneMs && e >= target) evalDoneMs = performance.now() - t0;
      await sleep(50);
    }
    const cpuUsed = cpu().map((c, i) => c - cpuBefore[i]!);
    const perWorker = await Promise.all(ingest.map(async (w) => promValue(await metricsOf(w.http), 'gridpatrol_records_accepted_total')));

    const latencies = await alertLatency(mosquitto.port, api.http, devices);
    return {
      workers, messages: target, publishMs: Math.round(res.elapsedMs),
      ingestPerSec: ingestDoneMs ? Math.round((target * 1000) / ingestDoneMs) : null,
      evaluatorPerSec: evalDoneMs ? Math.round((target * 1000) / evalDoneMs) : null,
      perWorker,
      // CPU time per message: what the figures above cost whatever else the machine runs
      apiCpuUsPerMsg: Math.round((cpuUsed[0]! * 1000) / target),
      workerCpuUsPerMsg: Math.round((cpuUsed.slice(1).reduce((a, b) => a + b, 0) * 1000) / target),
      loadAverage: { before: loadBefore, after: load1() },
      alertLatency: { background: BACKGROUND, triggers: TRIGGERS, delivered: latencies.length, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), maxMs: quantile(latencies, 1) },
    };
  } finally {
    await Promise.all(children.map((c) => stopProcess(c, 15_000)));
    await Promise.all([influxd.stop(), mosquitto.stop()]);
    rules.remove();
  }
}

/** Fire detections through Mosquitto → the api's alert on Mosquitto's alert topic, under background telemetry. */
async function alertLatency(port: number, api: Http, devices: LoadDevice[]): Promise<number[]> {
  const url = `mqtt://127.0.0.1:${port}`;
  const watcher = mqtt.connect(url, { username: SERVICE_USERNAME, password: ADMIN_TOKEN });
  const trigger = mqtt.connect(url, { clientId: 'bench-trigger' });
  await Promise.all([watcher, trigger].map((c) => new Promise((r) => c.once('connect', r))));
  const openedAt = new Map<string, number>();
  let waiting: ((id: string) => void) | undefined;
  watcher.on('message', (_t, payload) => {
    const a = JSON.parse(payload.toString()) as { id: string; entityId: string; state: string };
    if (a.entityId !== 'bench-trigger' || a.state !== 'open' || openedAt.has(a.id)) return;
    openedAt.set(a.id, performance.now());
    waiting?.(a.id);
  });
  await watcher.subscribeAsync(topics.alerts('+', '+'), { qos: 1 });
  const out: number[] = [];
  const bg = runLoad({ mqttPort: port, devices, ratePerDevice: BACKGROUND / devices.length, qos: 1, batchSize: 1, durationMs: 2000 + TRIGGERS * 700, seed: 2 });
  await sleep(1000);
  for (let i = 0; i < TRIGGERS; i++) {
    const opened = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 10_000);
      waiting = (id) => (clearTimeout(timer), resolve(id));
    });
    const t0 = performance.now();
    trigger.publish(topics.droneEvents('bench-trigger'), JSON.stringify({ ts: Date.now(), kind: 'fire', confidence: 0.9, lat: 33.82, lon: 113.88 }), { qos: 1 });
    const id = await opened;
    if (id) {
      out.push(openedAt.get(id)! - t0);
      await api('POST', `/api/v1/alerts/${id}/resolve`, { note: 'bench: let the next fire open a new alert' });
    }
    await sleep(200);
  }
  await bg;
  watcher.end(true);
  trigger.end(true);
  return out.sort((a, b) => a - b);
}

const startedAt = new Date();
const m = machine();
process.stdout.write(`ingest workers bench on ${machineLine(m)}\n`);
const runs = [];
for (const w of workerCounts) {
  const r = await runOne(w);
  runs.push(r);
  process.stdout.write(
    `${w} ingest worker(s) × ${CONNECTIONS} connection(s): ${r.messages} msgs acknowledged by Mosquitto in ${r.publishMs} ms; workers stored ${r.ingestPerSec ?? '?'} msg/s in all ` +
    `(per worker ${r.perWorker.join('/')}, ${r.workerCpuUsPerMsg} µs CPU/msg); api evaluator ${r.evaluatorPerSec ?? '?'} msg/s (${r.apiCpuUsPerMsg} µs CPU/msg); ` +
    `load average ${r.loadAverage.before} → ${r.loadAverage.after}; alert latency at ${r.alertLatency.background} msg/s background: ` +
    `p50 ${r.alertLatency.p50Ms} ms, p99 ${r.alertLatency.p99Ms} ms, max ${r.alertLatency.maxMs} ms (${r.alertLatency.delivered}/${r.alertLatency.triggers})\n`,
  );
}
const file = await writeResults('ingest-workers', startedAt, { machine: m, options: { workerCounts, MESSAGES, DEVICES, BACKGROUND, TRIGGERS, OFFERED, CONNECTIONS }, runs });
process.stdout.write(`results: ${file}\n`);
