import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runLoad, type LoadDevice, type LoadResult } from '../simulators/load.js';
import { registerDevice, spawnGridPatrol, testEnv, type Http } from '../test/helpers/gridpatrol.js';
import { startInfluxd, stopProcess, type Influxd } from '../test/helpers/influxd.js';
import { cpuTimeMs } from './lib/proc.js';
import { promValue } from './lib/prom.js';

/**
 * One ingest benchmark scenario: a fresh GridPatrol process (and, for InfluxDB, a fresh influxd)
 * with `devices` drones; for each payload shape, each offered rate in turn, publish for
 * `durationMs`, wait for the PUBACKs and for the spool to drain, then count what the store holds.
 */

export type StoreKind = 'sqlite' | 'influx';

export interface PayloadPlan {
  name: string;
  /** telemetry objects per MQTT message */
  batchSize: number;
  /** offered rates, messages per second over all devices, lowest first */
  steps: readonly number[];
}

export interface ScenarioOptions {
  store: StoreKind;
  /** which repetition this is (1-based), recorded with every step */
  run: number;
  devices: number;
  durationMs: number;
  payloads: readonly PayloadPlan[];
  /** longest wait for PUBACKs after the last publish, ms */
  ackTimeoutMs: number;
  /** longest wait for the spool to drain after a step, ms */
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export interface StepRun {
  store: StoreKind;
  payload: string;
  batchSize: number;
  run: number;
  offeredMsgPerSec: number;
  durationMs: number;
  sent: number;
  acked: number;
  points: number;
  pointsAcked: number;
  /** first publish → last PUBACK, ms */
  elapsedMs: number;
  /** first publish → spool seen empty, ms; null when it did not drain in time */
  drainedMs: number | null;
  sentMsgPerSec: number;
  ackedMsgPerSec: number;
  /** rows (SQLite) or points (InfluxDB) added to drone_telemetry by this step */
  storedPoints: number;
  storedPointsPerSec: number | null;
  /** GridPatrol's counters over the step */
  messagesIn: number;
  recordsAccepted: number;
  deadLetters: number;
  duplicates: number;
  mqttRefused: number;
  limitDisconnects: number;
  /** every message sent was acknowledged */
  allAcked: boolean;
  /** every acknowledged point is in the store (counted), and nothing accepted is missing */
  ackedStored: boolean;
  /** acknowledged msg/s ≥ 95 % of offered */
  keptUp: boolean;
  pass: boolean;
  /** GridPatrol's user+system CPU from the first publish to the drained spool, ms */
  cpuMs: number | null;
  cpuUsPerMsg: number | null;
  cpuUsPerPoint: number | null;
  /** influxd's CPU over the same span, ms */
  storeCpuMs: number | null;
  /** the load generator's (this process) CPU while publishing and waiting for acks, ms */
  loadCpuMs: number;
  readyz: number;
  loadErrors: LoadResult['errors'];
  /** runLoad called → every drone connected, ms */
  connectMs: number;
  /** the whole step, counting and draining included, ms */
  wallMs: number;
}

export interface ScenarioResult {
  steps: StepRun[];
  /** steps not run because an earlier one left the spool undrained */
  skipped: string[];
  /** why the scenario stopped early, if it did */
  error?: string;
  /** GridPatrol's WARN and ERROR log lines (first ones) and how many there were */
  gridpatrolLog: { warn: number; error: number; samples: string[]; stderr: string };
}

const KEEP_UP = 0.95;
const POLL_MS = 100;

/** Reads GridPatrol's log: counts WARN (40) and ERROR/FATAL (50+) lines, keeps the first few. */
function watchLog(child: ChildProcess): ScenarioResult['gridpatrolLog'] {
  const out = { warn: 0, error: 0, samples: [] as string[], stderr: '' };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (!level || Number(level) < 40) continue;
      if (Number(level) >= 50) out.error++;
      else out.warn++;
      if (out.samples.length < 20) out.samples.push(line.slice(0, 1000));
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (out.stderr.length < 8000) out.stderr += d.toString();
  });
  return out;
}

async function storedCount(store: StoreKind, dataDir: string, influx: Influxd | undefined): Promise<number> {
  if (store === 'sqlite') {
    const db = new Database(join(dataDir, 'telemetry.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM drone_telemetry').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const q = encodeURIComponent('SELECT COUNT(seq) FROM drone_telemetry');
  let res: Response | undefined;
  for (let attempt = 1; !res; attempt++) {
    try {
      res = await fetch(`${influx!.url}/query?db=gridpatrol&q=${q}`, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      const alive = isAlive(influx!.pid) ? 'influxd still running' : 'influxd is gone';
      if (attempt >= 3) throw new Error(`influx count: ${describe(err)} (${alive})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  if (!res.ok) throw new Error(`influx count: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { results?: Array<{ series?: Array<{ values?: Array<[unknown, number]> }>; error?: string }> };
  const r = body.results?.[0];
  if (r?.error) throw new Error(`influx count: ${r.error}`);
  return r?.series?.[0]?.values?.[0]?.[1] ?? 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An error with its cause (undici's "fetch failed" says why only there). */
export function describe(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  const cause = e?.cause as (Error & { code?: string }) | undefined;
  return `${e?.message ?? String(err)}${cause ? `: ${cause.code ?? ''} ${cause.message ?? ''}`.trimEnd() : ''}`;
}

async function metrics(h: Http): Promise<string> {
  const r = await h('GET', '/metrics', undefined, null);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return String(r.json);
}

interface Counters {
  messagesIn: number;
  recordsAccepted: number;
  deadLetters: number;
  duplicates: number;
  mqttRefused: number;
  limitDisconnects: number;
  spoolRecords: number;
}

function counters(text: string): Counters {
  return {
    messagesIn: promValue(text, 'gridpatrol_messages_in_total', { channel: 'telemetry' }),
    recordsAccepted: promValue(text, 'gridpatrol_records_accepted_total', { type: 'telemetry' }),
    deadLetters: promValue(text, 'gridpatrol_dead_letters_total'),
    duplicates: promValue(text, 'gridpatrol_duplicates_total'),
    mqttRefused: promValue(text, 'gridpatrol_mqtt_refused_total'),
    limitDisconnects: promValue(text, 'gridpatrol_mqtt_limit_disconnects_total'),
    spoolRecords: promValue(text, 'gridpatrol_spool_records'),
  };
}

/**
 * Waits until the spool is empty and no more messages arrive (a connection closed with
 * unacknowledged messages may still be read by the broker). Returns the counters then and when,
 * or null at the timeout.
 */
async function waitDrained(h: Http, sent: number, before: Counters, timeoutMs: number): Promise<{ at: number; c: Counters } | null> {
  const until = performance.now() + timeoutMs;
  let lastIn = -1;
  let stableSince = 0;
  for (;;) {
    const now = performance.now();
    const c = counters(await metrics(h));
    if (c.messagesIn !== lastIn) {
      lastIn = c.messagesIn;
      stableSince = now;
    }
    const allIn = c.messagesIn - before.messagesIn >= sent;
    if (c.spoolRecords === 0 && (allIn || now - stableSince >= 1000)) return { at: allIn ? now : stableSince, c };
    if (now > until) return null;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function registerDrones(h: Http, n: number): Promise<LoadDevice[]> {
  const ids = Array.from({ length: n }, (_, i) => `bench-drone-${String(i + 1).padStart(3, '0')}`);
  const out: LoadDevice[] = [];
  for (let i = 0; i < ids.length; i += 8) {
    const chunk = ids.slice(i, i + 8);
    const passwords = await Promise.all(chunk.map((id) => registerDevice(h, id, 'drone')));
    chunk.forEach((id, k) => out.push({ id, password: passwords[k]! }));
  }
  return out;
}

interface StepContext {
  o: ScenarioOptions;
  gp: Awaited<ReturnType<typeof spawnGridPatrol>>;
  influx: Influxd | undefined;
  dataDir: string;
  devices: LoadDevice[];
  tsOrigin: number;
  seq: number;
}

/** One offered rate: publish, wait for PUBACKs and the drained spool, count. Advances `ctx.seq`. */
async function runStep(ctx: StepContext, plan: PayloadPlan, offered: number): Promise<{ step: StepRun; drained: boolean }> {
  const { o, gp, influx, dataDir, devices } = ctx;
  const pid = gp.child.pid;
  const wallStart = performance.now();
  const storedBefore = await storedCount(o.store, dataDir, influx);
  const before = counters(await metrics(gp.http));
  let cpuBefore: number | null = null;
  let storeCpuBefore: number | null = null;
  let loadCpuBefore = process.cpuUsage();
  let startedAt = 0;
  const loadCalled = performance.now();
  const res = await runLoad({
    mqttPort: gp.ports.mqttPort, devices, ratePerDevice: offered / devices.length, durationMs: o.durationMs, qos: 1,
    batchSize: plan.batchSize, seqStart: ctx.seq, tsOrigin: ctx.tsOrigin, ackTimeoutMs: o.ackTimeoutMs, seed: o.run,
    onReady: () => {
      cpuBefore = cpuTimeMs(pid);
      storeCpuBefore = cpuTimeMs(influx?.pid);
      loadCpuBefore = process.cpuUsage();
      startedAt = performance.now();
    },
  });
  const load = process.cpuUsage(loadCpuBefore);
  ctx.seq = res.nextSeq;
  const drained = await waitDrained(gp.http, res.sent, before, o.drainTimeoutMs);
  const cpuAfter = cpuTimeMs(pid);
  const storeCpuAfter = cpuTimeMs(influx?.pid);
  const after = drained?.c ?? counters(await metrics(gp.http));
  const storedPoints = (await storedCount(o.store, dataDir, influx)) - storedBefore;
  const readyz = (await gp.http('GET', '/readyz', undefined, null)).status;
  const drainedMs = drained ? drained.at - startedAt : null;
  const cpuMs = cpuAfter !== null && cpuBefore !== null ? cpuAfter - cpuBefore : null;
  const messagesIn = after.messagesIn - before.messagesIn;
  const recordsAccepted = after.recordsAccepted - before.recordsAccepted;
  const ackedMsgPerSec = res.elapsedMs > 0 ? (res.acked * 1000) / res.elapsedMs : 0;
  const allAcked = res.acked === res.sent;
  const ackedStored = drained !== null && storedPoints >= res.pointsAcked && storedPoints >= recordsAccepted;
  const keptUp = ackedMsgPerSec >= KEEP_UP * offered;
  const step: StepRun = {
    store: o.store, payload: plan.name, batchSize: plan.batchSize, run: o.run, offeredMsgPerSec: offered, durationMs: o.durationMs,
    sent: res.sent, acked: res.acked, points: res.points, pointsAcked: res.pointsAcked, elapsedMs: res.elapsedMs, drainedMs,
    sentMsgPerSec: res.sendMs > 0 ? (res.sent * 1000) / res.sendMs : 0,
    ackedMsgPerSec,
    storedPoints,
    storedPointsPerSec: drainedMs ? (storedPoints * 1000) / drainedMs : null,
    messagesIn, recordsAccepted,
    deadLetters: after.deadLetters - before.deadLetters,
    duplicates: after.duplicates - before.duplicates,
    mqttRefused: after.mqttRefused - before.mqttRefused,
    limitDisconnects: after.limitDisconnects - before.limitDisconnects,
    allAcked, ackedStored, keptUp, pass: allAcked && ackedStored && keptUp,
    cpuMs,
    cpuUsPerMsg: cpuMs !== null && messagesIn > 0 ? (cpuMs * 1000) / messagesIn : null,
    cpuUsPerPoint: cpuMs !== null && recordsAccepted > 0 ? (cpuMs * 1000) / recordsAccepted : null,
    storeCpuMs: storeCpuAfter !== null && storeCpuBefore !== null ? storeCpuAfter - storeCpuBefore : null,
    loadCpuMs: (load.user + load.system) / 1000,
    readyz,
    loadErrors: res.errors,
    connectMs: startedAt - loadCalled,
    wallMs: performance.now() - wallStart,
  };
  return { step, drained: drained !== null };
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const steps: StepRun[] = [];
  const skipped: string[] = [];
  let error: string | undefined;
  let influx: Influxd | undefined;
  let gp: Awaited<ReturnType<typeof spawnGridPatrol>> | undefined;
  let log: ScenarioResult['gridpatrolLog'] = { warn: 0, error: 0, samples: [], stderr: '' };
  let dataDir: string | undefined;
  const pending = o.payloads.flatMap((plan) => plan.steps.map((offered) => ({ plan, offered })));
  const label = (p: (typeof pending)[number]) => `${o.store} ${p.plan.name} ${p.offered} msg/s run ${o.run}`;
  try {
    influx = o.store === 'influx' ? await startInfluxd() : undefined;
    const env = testEnv({
      // the per-connection limit would close a bench connection long before the pipeline is the limit
      GRIDPATROL_MAX_MSGS_PER_SEC: '10000000',
      // measure the shipped writer setting, not the test helper's quick flush
      GRIDPATROL_FLUSH_INTERVAL_MS: '200',
      ...(influx && { GRIDPATROL_INFLUX_URL: influx.url }),
    });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await spawnGridPatrol(env);
    log = watchLog(gp.child);
    const devices = await registerDrones(gp.http, o.devices);
    // one device time per seq (tsOrigin + seq), an hour back: unique keys however fast the steps go
    const ctx: StepContext = { o, gp, influx, dataDir, devices, tsOrigin: Date.now() - 3_600_000, seq: 1 };

    while (pending.length) {
      const next = pending[0]!;
      const { step, drained } = await runStep(ctx, next.plan, next.offered);
      pending.shift();
      steps.push(step);
      o.log(
        `${label(next)}: sent ${Math.round(step.sentMsgPerSec)}/s, acked ${Math.round(step.ackedMsgPerSec)}/s (${step.acked}/${step.sent}), ` +
          `stored ${step.storedPoints}/${step.pointsAcked} acked points, ${step.cpuMs ?? '?'} ms CPU, ${(step.wallMs / 1000).toFixed(1)} s` +
          `${drained ? '' : ', spool NOT drained'}${step.loadErrors.count ? `, ${step.loadErrors.count} load errors: ${step.loadErrors.samples[0]}` : ''}`,
      );
      // a spool still draining would count into the next step: stop this scenario here
      if (!drained) {
        error = `spool not drained within ${o.drainTimeoutMs} ms after ${label(next)}`;
        break;
      }
    }
  } catch (err) {
    // record it and let the other scenarios run: one failure should not lose the whole bench
    error = `${pending[0] ? label(pending[0]) : `${o.store} run ${o.run}`}: ${describe(err)}`;
    o.log(`ERROR ${error}`);
  } finally {
    skipped.push(...pending.map(label));
    if (gp) {
      await stopProcess(gp.child, 15_000);
      await gp.exited;
    }
    await influx?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
  return { steps, skipped, error, gridpatrolLog: log };
}
