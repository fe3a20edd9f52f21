import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runScenario, type PayloadPlan, type ScenarioResult, type StepRun, type StoreKind } from './ingest.js';
import { runAlertLatency, summarizeAlertLatency, type AlertLatencyRun } from './alert-latency.js';
import { showSpread, spread, type Spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const INFLUXD = process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd';

const USAGE = `npm run bench [-- options]: GridPatrol ingest throughput (SQLite and InfluxDB), then alert latency

For each store, a fresh GridPatrol process (and a fresh influxd) takes QoS 1 telemetry from
100 drones, single objects and batches of 10, at offered rates stepped up. Each step reports
acknowledged msg/s, stored points/s, whether every acknowledged point was stored, and
GridPatrol's CPU time per message. Figures are the median (min–max) of the runs.

  --runs N            repetitions, each in a fresh process (default 3)
  --quick             1 run of 2 s at two low rates per payload (a smoke test; under a minute)
  --duration S        seconds of publishing per step (default 4)
  --store S           sqlite, influx or both (default both; influx needs ${INFLUXD})
  --payload P         single, batch or both (default both)
  --steps LIST        offered msg/s for single objects (default 2000,5000,10000,20000)
  --batch-steps LIST  offered msg/s for batches of 10 (default 500,1000,2000,5000)
  --devices N         drones (default 100)
  --out FILE          where to write the JSON results of the ingest benchmark (default bench/results/ingest-<time>.json)
  -h, --help          this text

  --bench B           ingest, alert-latency or all (default all: ingest, then alert latency)

Alert latency: a fresh GridPatrol process (SQLite) under background telemetry from --devices
drones at each rate, and fire detections from 20 trigger drones, each opening a new alert; the
time from the triggering publish to the alert's event on the SSE stream, p50/p99/max per run,
median (min–max) over --runs runs. --quick: one run at the lowest rate.

  --rates LIST        background telemetry, msg/s over all drones (default 2000,5000)
  --triggers N        triggering publishes per run (default 200)
  --trigger-interval MS  between two triggering publishes (default 50)
`;

type Bench = 'ingest' | 'alert-latency';

interface Options {
  benches: Bench[];
  alert: { rates: number[]; triggers: number; intervalMs: number };
  runs: number;
  durationMs: number;
  stores: StoreKind[];
  payloads: PayloadPlan[];
  devices: number;
  out: string | undefined;
  quick: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      store: { type: 'string', default: 'both' },
      payload: { type: 'string', default: 'both' },
      steps: { type: 'string' },
      'batch-steps': { type: 'string' },
      devices: { type: 'string', default: '100' },
      out: { type: 'string' },
      bench: { type: 'string', default: 'all' },
      rates: { type: 'string' },
      triggers: { type: 'string' },
      'trigger-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const positive = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${v}: expected a number above 0`);
    return n;
  };
  const list = (name: string, v: string): number[] => v.split(',').map((x) => positive(name, x.trim())).sort((a, b) => a - b);
  const oneOf = <T extends string>(name: string, v: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${name} ${v}: expected one of ${allowed.join(', ')}`);
    return v as T;
  };
  const quick = values.quick;
  const store = oneOf('store', values.store, ['sqlite', 'influx', 'both'] as const);
  const payload = oneOf('payload', values.payload, ['single', 'batch', 'both'] as const);
  const single: PayloadPlan = { name: 'single', batchSize: 1, steps: values.steps ? list('steps', values.steps) : quick ? [500, 1000] : [2000, 5000, 10000, 20000] };
  const batch: PayloadPlan = { name: 'batch', batchSize: 10, steps: values['batch-steps'] ? list('batch-steps', values['batch-steps']) : quick ? [100, 200] : [500, 1000, 2000, 5000] };
  const bench = oneOf('bench', values.bench, ['ingest', 'alert-latency', 'all'] as const);
  const rates = values.rates ? list('rates', values.rates) : [2000, 5000];
  return {
    benches: bench === 'all' ? ['ingest', 'alert-latency'] : [bench],
    alert: {
      rates: quick && !values.rates ? rates.slice(0, 1) : rates,
      triggers: values.triggers ? Math.round(positive('triggers', values.triggers)) : 200,
      intervalMs: values['trigger-interval'] ? positive('trigger-interval', values['trigger-interval']) : 50,
    },
    quick,
    runs: values.runs ? Math.round(positive('runs', values.runs)) : quick ? 1 : 3,
    durationMs: (values.duration ? positive('duration', values.duration) : quick ? 2 : 4) * 1000,
    stores: store === 'both' ? ['sqlite', 'influx'] : [store],
    payloads: payload === 'both' ? [single, batch] : [payload === 'single' ? single : batch],
    devices: Math.round(positive('devices', values.devices)),
    out: values.out,
  };
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: { model: cpus[0]?.model ?? 'unknown', count: cpus.length },
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg(),
    node: process.version,
    commit: git(['rev-parse', 'HEAD']),
    /** uncommitted changes in the working tree: the commit alone does not describe the code measured */
    dirty: (git(['status', '--porcelain']) ?? '') !== '',
  };
}

interface SummaryRow {
  store: StoreKind;
  payload: string;
  batchSize: number;
  offeredMsgPerSec: number;
  runs: number;
  passed: number;
  sentMsgPerSec: Spread | null;
  ackedMsgPerSec: Spread | null;
  storedPointsPerSec: Spread | null;
  cpuUsPerMsg: Spread | null;
  cpuUsPerPoint: Spread | null;
  influxdCpuUsPerPoint: Spread | null;
  /** the load generator's CPU while publishing, percent of one core: near 100 it, not GridPatrol, may be the limit */
  loadGenCpuPercent: Spread | null;
  /** runs in which every acknowledged point was counted in the store */
  ackedStoredRuns: number;
  lostPoints: number;
  deadLetters: number;
}

function summarize(steps: readonly StepRun[]): SummaryRow[] {
  const groups = new Map<string, StepRun[]>();
  for (const s of steps) {
    const key = `${s.store}|${s.payload}|${s.offeredMsgPerSec}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const s0 = g[0]!;
    return {
      store: s0.store, payload: s0.payload, batchSize: s0.batchSize, offeredMsgPerSec: s0.offeredMsgPerSec,
      runs: g.length,
      passed: g.filter((s) => s.pass).length,
      sentMsgPerSec: spread(g.map((s) => s.sentMsgPerSec)),
      ackedMsgPerSec: spread(g.map((s) => s.ackedMsgPerSec)),
      storedPointsPerSec: spread(g.map((s) => s.storedPointsPerSec)),
      cpuUsPerMsg: spread(g.map((s) => s.cpuUsPerMsg)),
      cpuUsPerPoint: spread(g.map((s) => s.cpuUsPerPoint)),
      influxdCpuUsPerPoint: spread(g.map((s) => (s.storeCpuMs !== null && s.storedPoints > 0 ? (s.storeCpuMs * 1000) / s.storedPoints : null))),
      loadGenCpuPercent: spread(g.map((s) => (s.elapsedMs > 0 ? (s.loadCpuMs * 100) / s.elapsedMs : null))),
      ackedStoredRuns: g.filter((s) => s.ackedStored).length,
      lostPoints: g.reduce((n, s) => n + Math.max(0, s.pointsAcked - s.storedPoints), 0),
      deadLetters: g.reduce((n, s) => n + s.deadLetters, 0),
    };
  });
}

/** The highest offered rate that a majority of runs passed (all acknowledged, all stored, acks ≥ 95 % of offered). */
function highest(rows: readonly SummaryRow[]) {
  const out: Array<{ store: StoreKind; payload: string; msgPerSec: number | null; pointsPerSec: number | null; lowerStepFailed: boolean }> = [];
  for (const key of new Set(rows.map((r) => `${r.store}|${r.payload}`))) {
    const g = rows.filter((r) => `${r.store}|${r.payload}` === key).sort((a, b) => a.offeredMsgPerSec - b.offeredMsgPerSec);
    const ok = (r: SummaryRow) => r.passed * 2 > r.runs;
    const best = [...g].reverse().find(ok);
    out.push({
      store: g[0]!.store, payload: g[0]!.payload,
      msgPerSec: best?.offeredMsgPerSec ?? null,
      pointsPerSec: best ? best.offeredMsgPerSec * best.batchSize : null,
      lowerStepFailed: best ? g.some((r) => r.offeredMsgPerSec < best.offeredMsgPerSec && !ok(r)) : false,
    });
  }
  return out;
}

function printTable(rows: readonly SummaryRow[]): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const header = ['store', 'payload', 'offered msg/s', 'sent msg/s', 'acked msg/s', 'stored points/s', 'acked→stored', 'GP CPU µs/msg', 'GP CPU µs/point', 'influxd µs/point', 'load gen CPU %', 'pass'];
  return formatTable(
    header,
    rows.map((r) => [
      r.store, r.batchSize === 1 ? 'single' : `batch ${r.batchSize}`, n(r.offeredMsgPerSec),
      showSpread(r.sentMsgPerSec), showSpread(r.ackedMsgPerSec), showSpread(r.storedPointsPerSec),
      r.ackedStoredRuns === r.runs ? `all (${r.runs}/${r.runs})` : `LOST ${r.lostPoints} (${r.ackedStoredRuns}/${r.runs} ok)`,
      showSpread(r.cpuUsPerMsg), showSpread(r.cpuUsPerPoint), r.store === 'influx' ? showSpread(r.influxdCpuUsPerPoint) : '–', showSpread(r.loadGenCpuPercent),
      `${r.passed}/${r.runs}`,
    ]),
  );
}

/** The telling line of a multi-line error (a child's stack trace starts with its source location); the JSON keeps all of it. */
function oneLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? '';
  const telling = lines.slice(1).find((l) => /error/i.test(l) && !l.startsWith('at '));
  return (telling && !/error/i.test(first) ? `${first} … ${telling}` : first).slice(0, 400);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return void process.stdout.write(USAGE);
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  if (o.benches.includes('ingest')) await ingestBench(o, log);
  if (o.benches.includes('alert-latency')) await alertLatencyBench(o, log);
}

async function alertLatencyBench(o: Options, log: (line: string) => void): Promise<void> {
  const startedAt = new Date();
  const mach = machine();
  const triggerDrones = 20;
  log(`alert latency: ${o.runs} run(s) × background ${o.alert.rates.join('/')} msg/s from ${o.devices} drones; ` +
    `${o.alert.triggers} fire detections ${o.alert.intervalMs} ms apart from ${triggerDrones} trigger drones`);
  const runs: AlertLatencyRun[] = [];
  for (const rate of o.alert.rates)
    for (let run = 1; run <= o.runs; run++)
      runs.push(await runAlertLatency({ rate, run, devices: o.devices, triggers: o.alert.triggers, intervalMs: o.alert.intervalMs, warmupMs: 1000, triggerDrones, log }));
  const summary = summarizeAlertLatency(runs);
  const finishedAt = new Date();
  const out = join(ROOT, 'bench/results', `alert-latency-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ bench: 'alert-latency', startedAt, finishedAt, machine: mach, options: { runs: o.runs, quick: o.quick, devices: o.devices, triggerDrones, ...o.alert }, summary, runs }, null, 2)}\n`);
  const ms = (x: Spread | null) => showSpread(x, 1);
  const lines = [
    '',
    `GridPatrol alert latency: triggering MQTT publish → event on GET /api/v1/alerts/stream, ${o.alert.triggers} alerts per run, median (min–max) of ${o.runs} run(s)`,
    `${mach.cpus.count} × ${mach.cpus.model}, node ${mach.node}, commit ${mach.commit?.slice(0, 10) ?? '?'}${mach.dirty ? ' + uncommitted changes' : ''}; load generator and SSE reader in the same machine`,
    '',
    formatTable(
      ['background msg/s', 'acked msg/s', 'alerts on SSE', 'p50 ms', 'p99 ms', 'max ms', 'PUBACK p50 ms', 'PUBACK p99 ms', 'GP CPU %', 'bench loop p99 ms'],
      summary.map((r) => [
        r.rate.toLocaleString('en-US'), showSpread(r.backgroundAckedPerSec), r.delivered, ms(r.p50Ms), ms(r.p99Ms), ms(r.maxMs),
        ms(r.ackP50Ms), ms(r.ackP99Ms), showSpread(r.gridpatrolCpuPercent), ms(r.benchLoopDelayP99Ms),
      ]),
    ),
    '',
    'PUBACK: the trigger\'s acknowledgement, sent once the event is spooled and the rules have run. bench loop: this process\'s event-loop',
    'delay (it also runs the load generator), which adds to every figure measured here.',
  ];
  const loads = runs.flatMap((r) => [r.loadAverage.before, r.loadAverage.after]).filter((x) => x > 0);
  if (loads.length) lines.push(`Machine load average (1 min) around the runs: ${Math.min(...loads)}–${Math.max(...loads)} on ${mach.cpus.count} cores; above the core count other work competed for the CPU.`);
  const logs = runs.filter((r) => r.gridpatrolLog.warn || r.gridpatrolLog.error);
  if (logs.length) {
    lines.push('', 'GridPatrol logged:');
    for (const r of logs) lines.push(`  ${r.rate} msg/s run ${r.run}: ${r.gridpatrolLog.error} error, ${r.gridpatrolLog.warn} warn line(s), first: ${r.gridpatrolLog.samples[0]?.slice(0, 300)}`);
  }
  const failed = runs.filter((r) => r.error);
  if (failed.length) {
    lines.push('', 'Runs that failed:');
    for (const r of failed) lines.push(`  ${r.rate} msg/s run ${r.run}: ${oneLine(r.error!)}`);
  }
  lines.push('', `Results: ${relative(process.cwd(), out) || out} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function ingestBench(o: Options, log: (line: string) => void): Promise<void> {
  const skippedStores: string[] = [];
  if (o.stores.includes('influx') && !existsSync(INFLUXD)) {
    skippedStores.push(`influx: ${INFLUXD} not found (apt-get install -y influxdb)`);
    log(`skipping InfluxDB: ${INFLUXD} not found (apt-get install -y influxdb)`);
    o.stores = o.stores.filter((s) => s !== 'influx');
  }
  const startedAt = new Date();
  const mach = machine();
  log(`${mach.cpus.count} × ${mach.cpus.model}, node ${mach.node}, commit ${mach.commit?.slice(0, 10) ?? '?'}${mach.dirty ? ' (with uncommitted changes)' : ''}`);
  log(`${o.runs} run(s) × ${o.stores.join(', ')}; ${o.devices} drones, QoS 1, ${o.durationMs / 1000} s per step; ` +
    o.payloads.map((p) => `${p.name} ${p.steps.join('/')} msg/s`).join('; '));

  const steps: StepRun[] = [];
  const scenarios: Array<{ store: StoreKind; run: number } & Omit<ScenarioResult, 'steps'>> = [];
  for (const store of o.stores) {
    for (let run = 1; run <= o.runs; run++) {
      const res = await runScenario({
        store, run, devices: o.devices, durationMs: o.durationMs, payloads: o.payloads,
        ackTimeoutMs: 10_000, drainTimeoutMs: 90_000, log,
      });
      steps.push(...res.steps);
      scenarios.push({ store, run, skipped: res.skipped, error: res.error, gridpatrolLog: res.gridpatrolLog });
    }
  }

  const rows = summarize(steps);
  const best = highest(rows);
  const finishedAt = new Date();
  const out = o.out ?? join(ROOT, 'bench/results', `ingest-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify(
      {
        bench: 'ingest', startedAt, finishedAt, seconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
        machine: mach,
        options: { runs: o.runs, quick: o.quick, durationMs: o.durationMs, devices: o.devices, qos: 1, stores: o.stores, payloads: o.payloads, skippedStores },
        highest: best, summary: rows, runs: steps, scenarios,
      },
      null,
      2,
    )}\n`,
  );

  const lines = [
    '',
    `GridPatrol ingest, ${o.devices} drones, QoS 1, ${o.durationMs / 1000} s per step, median (min–max) of ${o.runs} run(s)`,
    `${mach.cpus.count} × ${mach.cpus.model}, node ${mach.node}, commit ${mach.commit?.slice(0, 10) ?? '?'}${mach.dirty ? ' + uncommitted changes' : ''}; load generator in the same machine`,
    '',
    printTable(rows),
    '',
    'Highest offered rate with every message acknowledged, every acknowledged point stored, and acks ≥ 95 % of offered (majority of runs):',
    ...best.map((b) => `  ${b.store.padEnd(6)} ${b.payload.padEnd(6)} ${b.msgPerSec === null ? 'none of the steps' : `${b.msgPerSec.toLocaleString('en-US')} msg/s (${b.pointsPerSec!.toLocaleString('en-US')} points/s)`}${b.lowerStepFailed ? ' (a lower step failed)' : ''}`),
  ];
  const logs = scenarios.filter((s) => s.gridpatrolLog.warn || s.gridpatrolLog.error || s.gridpatrolLog.stderr);
  if (logs.length) {
    lines.push('', 'GridPatrol logged:');
    for (const s of logs) lines.push(`  ${s.store} run ${s.run}: ${s.gridpatrolLog.error} error, ${s.gridpatrolLog.warn} warn line(s)${s.gridpatrolLog.samples[0] ? `, first: ${s.gridpatrolLog.samples[0].slice(0, 300)}` : ''}${s.gridpatrolLog.stderr ? `; stderr: ${s.gridpatrolLog.stderr.slice(0, 300)}` : ''}`);
  }
  const loadErrors = steps.filter((s) => s.loadErrors.count > 0);
  if (loadErrors.length) {
    lines.push('', 'Load generator saw:');
    for (const s of loadErrors) lines.push(`  ${s.store} ${s.payload} ${s.offeredMsgPerSec} msg/s run ${s.run}: ${s.loadErrors.count} × ${s.loadErrors.samples[0]}`);
  }
  const failed = scenarios.filter((s) => s.error);
  if (failed.length) {
    lines.push('', 'Scenarios that stopped early:');
    for (const s of failed) lines.push(`  ${s.store} run ${s.run}: ${oneLine(s.error!)}; not measured: ${s.skipped.length} step(s)`);
  }
  if (skippedStores.length) lines.push('', `Not run: ${skippedStores.join('; ')}`);
  lines.push('', `Results: ${relative(process.cwd(), out) || out} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
