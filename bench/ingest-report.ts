import { existsSync } from 'node:fs';
import { runScenario, type PayloadPlan, type ScenarioResult, type StepRun, type StoreKind, type Target } from './ingest.js';
import { hasMosquitto, runReference, type ReferenceBroker } from './reference.js';
import { machine, machineLine } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { showSpread, spread, type Spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

export interface IngestBenchOptions {
  runs: number;
  quick: boolean;
  durationMs: number;
  stores: StoreKind[];
  references: ReferenceBroker[];
  plans: PayloadPlan[];
  devices: number;
  loadWorkers: number;
  /** GridPatrol runs with --cpu-prof into this folder */
  profileDir: string | undefined;
  out: string | undefined;
}

const INFLUXD = process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd';

interface SummaryRow {
  target: Target;
  payload: string;
  batchSize: number;
  qos: 0 | 1;
  offeredMsgPerSec: number;
  runs: number;
  passed: number;
  sentMsgPerSec: Spread | null;
  doneMsgPerSec: Spread | null;
  storedPointsPerSec: Spread | null;
  cpuUsPerMsg: Spread | null;
  cpuUsPerPoint: Spread | null;
  /** influxd (per stored point) or the reference subscriber (per message) */
  sideCpuUs: Spread | null;
  /** the load generator's CPU while publishing, percent of one core */
  loadGenCpuPercent: Spread | null;
  ackP99Ms: Spread | null;
  /** runs in which everything was stored (GridPatrol) or delivered (reference) */
  completeRuns: number;
  lostPoints: number;
  deadLetters: number;
  loadAverage: Spread | null;
}

const keyOf = (s: Pick<StepRun, 'target' | 'qos' | 'payload'>) => `${s.target}|${s.qos}|${s.payload}`;

function summarize(steps: readonly StepRun[]): SummaryRow[] {
  const groups = new Map<string, StepRun[]>();
  for (const s of steps) {
    const key = `${keyOf(s)}|${s.offeredMsgPerSec}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const s0 = g[0]!;
    const reference = s0.storedPoints === null;
    return {
      target: s0.target, payload: s0.payload, batchSize: s0.batchSize, qos: s0.qos, offeredMsgPerSec: s0.offeredMsgPerSec,
      runs: g.length,
      passed: g.filter((s) => s.pass).length,
      sentMsgPerSec: spread(g.map((s) => s.sentMsgPerSec)),
      doneMsgPerSec: spread(g.map((s) => s.doneMsgPerSec)),
      storedPointsPerSec: spread(g.map((s) => s.storedPointsPerSec)),
      cpuUsPerMsg: spread(g.map((s) => s.cpuUsPerMsg)),
      cpuUsPerPoint: spread(g.map((s) => s.cpuUsPerPoint)),
      sideCpuUs: spread(g.map((s) => {
        if (s.sideCpuMs === null) return null;
        const n = reference ? Math.min(s.delivered, s.sent) : (s.storedPoints ?? 0);
        return n > 0 ? (s.sideCpuMs * 1000) / n : null;
      })),
      loadGenCpuPercent: spread(g.map((s) => (s.loadCpuMs !== null && s.elapsedMs > 0 ? (s.loadCpuMs * 100) / s.elapsedMs : null))),
      ackP99Ms: spread(g.map((s) => (s.qos === 1 && s.ackLatency.count > 0 ? s.ackLatency.p99Ms : null))),
      completeRuns: g.filter((s) => s.complete).length,
      lostPoints: g.reduce((n, s) => n + (reference ? Math.max(0, s.sent - s.delivered) : Math.max(0, (s.qos === 1 ? s.pointsAcked : s.points) - (s.storedPoints ?? 0))), 0),
      deadLetters: g.reduce((n, s) => n + (s.counters?.deadLetters ?? 0), 0),
      loadAverage: spread(g.map((s) => s.loadAverage)),
    };
  });
}

interface Highest {
  target: Target;
  qos: 0 | 1;
  payload: string;
  /** the highest offered rate that a majority of runs passed */
  msgPerSec: number | null;
  pointsPerSec: number | null;
  lowerStepFailed: boolean;
  /** per run, the most messages per second done at any step; the median (min–max) over runs */
  peakDoneMsgPerSec: Spread | null;
}

function highest(rows: readonly SummaryRow[], steps: readonly StepRun[]): Highest[] {
  const out: Highest[] = [];
  for (const key of new Set(rows.map(keyOf))) {
    const g = rows.filter((r) => keyOf(r) === key).sort((a, b) => a.offeredMsgPerSec - b.offeredMsgPerSec);
    const ok = (r: SummaryRow) => r.passed * 2 > r.runs;
    const best = [...g].reverse().find(ok);
    const mine = steps.filter((s) => keyOf(s) === key);
    const peaks = [...new Set(mine.map((s) => s.run))].map((run) => Math.max(...mine.filter((s) => s.run === run).map((s) => s.doneMsgPerSec)));
    out.push({
      target: g[0]!.target, qos: g[0]!.qos, payload: g[0]!.payload,
      msgPerSec: best?.offeredMsgPerSec ?? null,
      pointsPerSec: best ? best.offeredMsgPerSec * best.batchSize : null,
      lowerStepFailed: best ? g.some((r) => r.offeredMsgPerSec < best.offeredMsgPerSec && !ok(r)) : false,
      peakDoneMsgPerSec: spread(peaks),
    });
  }
  return out;
}

function printTable(rows: readonly SummaryRow[]): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const header = ['target', 'QoS', 'payload', 'offered msg/s', 'sent msg/s', 'done msg/s', 'stored points/s', 'complete', 'CPU µs/msg', 'CPU µs/point', 'side µs', 'PUBACK p99 ms', 'load gen CPU %', 'load avg', 'pass'];
  return formatTable(
    header,
    rows.map((r) => [
      r.target === 'sqlite' || r.target === 'influx' ? `GridPatrol+${r.target}` : `bare ${r.target}`, String(r.qos), r.batchSize === 1 ? 'single' : `batch ${r.batchSize}`, n(r.offeredMsgPerSec),
      showSpread(r.sentMsgPerSec), showSpread(r.doneMsgPerSec), showSpread(r.storedPointsPerSec),
      r.completeRuns === r.runs ? `all (${r.runs}/${r.runs})` : `LOST ${r.lostPoints} (${r.completeRuns}/${r.runs} ok)`,
      showSpread(r.cpuUsPerMsg), showSpread(r.cpuUsPerPoint), showSpread(r.sideCpuUs), showSpread(r.ackP99Ms, 1), showSpread(r.loadGenCpuPercent), showSpread(r.loadAverage, 1),
      `${r.passed}/${r.runs}`,
    ]),
  );
}

/** The telling line of a multi-line error (a child's stack trace starts with its source location); the JSON keeps all of it. */
export function oneLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? '';
  const telling = lines.slice(1).find((l) => /error/i.test(l) && !l.startsWith('at '));
  return (telling && !/error/i.test(first) ? `${first} … ${telling}` : first).slice(0, 400);
}

/** GridPatrol's highest rate against the bare Aedes relay's, per QoS and payload: the issue's "twice the bare broker". */
function ratios(best: readonly Highest[]): string[] {
  const lines: string[] = [];
  for (const b of best.filter((x) => x.target === 'sqlite' || x.target === 'influx')) {
    for (const ref of ['aedes', 'mosquitto'] as const) {
      const r = best.find((x) => x.target === ref && x.qos === b.qos && x.payload === b.payload);
      if (!r?.peakDoneMsgPerSec || !b.peakDoneMsgPerSec) continue;
      lines.push(`  GridPatrol+${b.target} / bare ${ref}, QoS ${b.qos} ${b.payload}: peak ${(b.peakDoneMsgPerSec.median / r.peakDoneMsgPerSec.median).toFixed(2)}×` +
        `${b.msgPerSec !== null && r.msgPerSec !== null ? `, highest passed ${(b.msgPerSec / r.msgPerSec).toFixed(2)}×` : ''}`);
    }
  }
  return lines;
}

export async function ingestBench(o: IngestBenchOptions, log: (line: string) => void): Promise<void> {
  const notRun: string[] = [];
  let stores = o.stores;
  if (stores.includes('influx') && !existsSync(INFLUXD)) {
    notRun.push(`InfluxDB: ${INFLUXD} not found (apt-get install -y influxdb)`);
    stores = stores.filter((s) => s !== 'influx');
  }
  let references = o.references;
  if (references.includes('mosquitto') && !(await hasMosquitto())) {
    notRun.push('bare Mosquitto: `mosquitto` not installed (apt-get install -y mosquitto)');
    references = references.filter((r) => r !== 'mosquitto');
  }
  for (const line of notRun) log(`not run: ${line}`);
  const startedAt = new Date();
  const mach = machine();
  log(machineLine(mach));
  log(`${o.runs} run(s) × ${[...stores.map((s) => `GridPatrol+${s}`), ...references.map((r) => `bare ${r}`)].join(', ')}; ${o.devices} drones, ` +
    `${o.durationMs / 1000} s per step, ${o.loadWorkers} load generator process(es); ` + o.plans.map((p) => `${p.name} QoS ${p.qos} ${p.steps.join('/')} msg/s`).join('; '));

  const steps: StepRun[] = [];
  const scenarios: Array<{ target: Target; run: number } & Partial<Omit<ScenarioResult, 'steps'>>> = [];
  const common = { devices: o.devices, durationMs: o.durationMs, plans: o.plans, loadWorkers: o.loadWorkers, ackTimeoutMs: 10_000, drainTimeoutMs: 90_000, log };
  // runs interleave the targets, so that a change in the machine's load hits all of them alike
  for (let run = 1; run <= o.runs; run++) {
    for (const store of stores) {
      const nodeArgs = o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : [];
      const res = await runScenario({ ...common, store, run, nodeArgs });
      steps.push(...res.steps);
      scenarios.push({ target: store, run, skipped: res.skipped, error: res.error, gridpatrolLog: res.gridpatrolLog });
    }
    for (const broker of references) {
      const res = await runReference({ ...common, broker, run });
      steps.push(...res.steps);
      scenarios.push({ target: broker, run, error: res.error });
    }
  }

  const rows = summarize(steps);
  const best = highest(rows, steps);
  const finishedAt = new Date();
  const file = await writeResults('ingest', startedAt, {
    startedAt, finishedAt, seconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000), machine: mach,
    options: { ...o, stores, references, notRun }, highest: best, summary: rows, runs: steps, scenarios,
  }, o.out);

  const lines = [
    '',
    `GridPatrol ingest against bare brokers, ${o.devices} drones, ${o.durationMs / 1000} s per step, median (min–max) of ${o.runs} run(s)`,
    `${machineLine(mach)}; load generator and every server on the same machine`,
    '',
    printTable(rows),
    '',
    'done msg/s: acknowledged (GridPatrol QoS 1), counted in by ingest (GridPatrol QoS 0), delivered to the one subscriber (bare brokers).',
    'complete: every acknowledged (QoS 1) or sent (QoS 0) point stored (GridPatrol); every message delivered (bare brokers).',
    'side µs: influxd CPU per stored point, or the bare broker\'s subscriber CPU per message. load avg: the machine\'s 1-minute load average after the step.',
    '',
    'Highest offered rate passed by a majority of runs (everything done, complete, done ≥ 95 % of offered); peak: the most msg/s done at any step:',
    ...best.map((b) => `  ${(b.target === 'sqlite' || b.target === 'influx' ? `GridPatrol+${b.target}` : `bare ${b.target}`).padEnd(17)} QoS ${b.qos} ${b.payload.padEnd(6)} ` +
      `${b.msgPerSec === null ? 'none of the steps' : `${b.msgPerSec.toLocaleString('en-US')} msg/s (${b.pointsPerSec!.toLocaleString('en-US')} points/s)`}` +
      `${b.lowerStepFailed ? ' (a lower step failed)' : ''}; peak ${showSpread(b.peakDoneMsgPerSec)} msg/s`),
  ];
  const r = ratios(best);
  if (r.length) lines.push('', 'GridPatrol against the bare brokers (same run, same load generator):', ...r);
  const logs = scenarios.filter((s) => s.gridpatrolLog && (s.gridpatrolLog.warn || s.gridpatrolLog.error || s.gridpatrolLog.stderr));
  if (logs.length) {
    lines.push('', 'GridPatrol logged:');
    for (const s of logs) {
      const l = s.gridpatrolLog!;
      lines.push(`  ${s.target} run ${s.run}: ${l.error} error, ${l.warn} warn line(s)${l.samples[0] ? `, first: ${l.samples[0].slice(0, 300)}` : ''}${l.stderr ? `; stderr: ${l.stderr.slice(0, 300)}` : ''}`);
    }
  }
  const loadErrors = steps.filter((s) => s.loadErrors.count > 0);
  if (loadErrors.length) {
    lines.push('', 'Load generator saw:');
    for (const s of loadErrors) lines.push(`  ${s.target} ${s.payload} QoS ${s.qos} ${s.offeredMsgPerSec} msg/s run ${s.run}: ${s.loadErrors.count} × ${s.loadErrors.samples[0]}`);
  }
  const failed = scenarios.filter((s) => s.error);
  if (failed.length) {
    lines.push('', 'Scenarios that stopped early:');
    for (const s of failed) lines.push(`  ${s.target} run ${s.run}: ${oneLine(s.error!)}${s.skipped ? `; not measured: ${s.skipped.length} step(s)` : ''}`);
  }
  if (notRun.length) lines.push('', `Not run: ${notRun.join('; ')}`);
  if (o.profileDir) lines.push('', `GridPatrol CPU profiles (.cpuprofile): ${o.profileDir}`);
  lines.push('', `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
