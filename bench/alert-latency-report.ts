import { runAlertLatency, summarizeAlertLatency, type AlertLatencyRun, type RulesChoice } from './alert-latency.js';
import { oneLine } from './ingest-report.js';
import { machine, machineLine } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { showSpread, type Spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

export interface AlertLatencyBenchOptions {
  runs: number;
  quick: boolean;
  devices: number;
  rates: number[];
  triggers: number;
  intervalMs: number;
  /** background load alone before the first trigger: the first seconds of a cold process are JIT warm-up, not steady state */
  warmupMs: number;
  rules: RulesChoice;
}

export async function alertLatencyBench(o: AlertLatencyBenchOptions, log: (line: string) => void): Promise<void> {
  const startedAt = new Date();
  const mach = machine();
  const triggerDrones = 20;
  log(`alert latency: ${o.runs} run(s) × background ${o.rates.join('/')} msg/s from ${o.devices} drones; ` +
    `${o.triggers} fire detections ${o.intervalMs} ms apart from ${triggerDrones} trigger drones; ${o.rules} rules, ${o.warmupMs / 1000} s warm-up`);
  const runs: AlertLatencyRun[] = [];
  for (const rate of o.rates)
    for (let run = 1; run <= o.runs; run++)
      runs.push(await runAlertLatency({ rate, run, devices: o.devices, triggers: o.triggers, intervalMs: o.intervalMs, warmupMs: o.warmupMs, triggerDrones, rules: o.rules, log }));
  const summary = summarizeAlertLatency(runs);
  const finishedAt = new Date();
  const file = await writeResults('alert-latency', startedAt, { startedAt, finishedAt, machine: mach, options: { ...o, triggerDrones }, summary, runs });
  const ms = (x: Spread | null) => showSpread(x, 1);
  const lines = [
    '',
    `GridPatrol alert latency: triggering MQTT publish → event on GET /api/v1/alerts/stream, ${o.triggers} alerts per run, median (min–max) of ${o.runs} run(s)`,
    `${machineLine(mach)}; load generator and SSE reader in the same machine`,
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
  lines.push('', `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
