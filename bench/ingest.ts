import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LoadDevice, LoadResult } from '../simulators/load.js';
import { testEnv, type Http } from '../test/helpers/gridpatrol.js';
import { writeRulesFile } from '../test/helpers/alerts.js';
import { startInfluxd, stopProcess, type Influxd } from '../test/helpers/influxd.js';
import { benchRules } from './alert-latency.js';
import { startGridPatrol, type RunningGridPatrol } from './lib/gridpatrol.js';
import { watchLog, type GpLog } from './lib/gp-log.js';
import { generate } from './lib/load.js';
import { load1 } from './lib/machine.js';
import { cpuTimeMs } from './lib/proc.js';
import { promValue } from './lib/prom.js';
import { registerDrones } from './lib/register.js';

/**
 * One ingest benchmark scenario: a fresh GridPatrol process (and, for InfluxDB, a fresh influxd)
 * with `devices` drones; for each plan (payload shape and QoS), each offered rate in turn,
 * publish for `durationMs`, wait for the PUBACKs (QoS 1) or for ingest to have counted every
 * message (QoS 0), then for the spool to drain, then count what the store holds.
 */

export type StoreKind = 'sqlite' | 'influx';
/** what took the load: GridPatrol with a store, or a bare reference broker relaying to one subscriber */
export type Target = StoreKind | 'aedes' | 'mosquitto';

export interface PayloadPlan {
  name: 'single' | 'batch';
  /** telemetry objects per MQTT message */
  batchSize: number;
  qos: 0 | 1;
  /** offered rates, messages per second over all devices, lowest first */
  steps: readonly number[];
}

export interface ScenarioOptions {
  store: StoreKind;
  /** which repetition this is (1-based), recorded with every step */
  run: number;
  devices: number;
  durationMs: number;
  plans: readonly PayloadPlan[];
  /** load generator processes (1: in this process) */
  loadWorkers: number;
  /** longest wait for PUBACKs after the last publish, ms */
  ackTimeoutMs: number;
  /** longest wait for the spool to drain after a step, ms */
  drainTimeoutMs: number;
  /** node options for GridPatrol (e.g. --cpu-prof) */
  nodeArgs?: string[];
  log: (line: string) => void;
}

export interface StepRun {
  target: Target;
  payload: string;
  batchSize: number;
  qos: 0 | 1;
  run: number;
  offeredMsgPerSec: number;
  durationMs: number;
  sent: number;
  /** QoS 1 PUBACKs (0 at QoS 0) */
  acked: number;
  points: number;
  pointsAcked: number;
  /**
   * messages the target took: GridPatrol's ingest count (gridpatrol_messages_in_total), or what
   * the reference broker delivered to its subscriber
   */
  delivered: number;
  /** first publish → the last message done (PUBACK at QoS 1, ingested or delivered at QoS 0), ms */
  elapsedMs: number;
  sentMsgPerSec: number;
  /** messages done per second over elapsedMs: acknowledged (GridPatrol QoS 1), ingested (GridPatrol QoS 0), relayed (reference) */
  doneMsgPerSec: number;
  /** GridPatrol: first publish → spool seen empty, ms; null when it did not drain in time (or a reference) */
  drainedMs: number | null;
  /** GridPatrol: rows (SQLite) or points (InfluxDB) added to drone_telemetry by this step */
  storedPoints: number | null;
  storedPointsPerSec: number | null;
  /** GridPatrol's counters over the step (null for a reference) */
  counters: Omit<Counters, 'spoolRecords'> | null;
  /** every message sent was acknowledged (QoS 1; true at QoS 0) */
  allAcked: boolean;
  /** GridPatrol: every acknowledged (QoS 1) or sent (QoS 0) point is in the store; reference: every message reached the subscriber */
  complete: boolean;
  /** done msg/s ≥ 95 % of offered */
  keptUp: boolean;
  pass: boolean;
  /** the target's user+system CPU from the first publish until done (GridPatrol: drained), ms */
  cpuMs: number | null;
  cpuUsPerMsg: number | null;
  cpuUsPerPoint: number | null;
  /** influxd's or the reference subscriber's CPU over the same span, ms */
  sideCpuMs: number | null;
  /** the load generator's CPU while publishing and waiting for acks, ms; null when it ran in worker processes */
  loadCpuMs: number | null;
  readyz: number | null;
  loadErrors: LoadResult['errors'];
  /** publish → PUBACK, ms (QoS 1) */
  ackLatency: LoadResult['latency'];
  /** load generator called → every drone connected, ms */
  connectMs: number;
  /** the whole step, counting and draining included, ms */
  wallMs: number;
  /** 1-minute load average of the machine after the step */
  loadAverage: number;
}

export interface ScenarioResult {
  steps: StepRun[];
  /** steps not run because an earlier one left the spool undrained */
  skipped: string[];
  /** why the scenario stopped early, if it did */
  error?: string;
  /** GridPatrol's WARN and ERROR log lines (first ones) and how many there were */
  gridpatrolLog: GpLog;
}

export const KEEP_UP = 0.95;
const POLL_MS = 50;

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
 * Polls `count` until it reaches `target` or stops moving for a second (messages of a closed
 * connection may still be read by the server). Returns the count and when it was last seen to
 * grow (performance.now()), or null at the timeout.
 */
export async function waitCount(count: () => Promise<number>, target: number, timeoutMs: number, pollMs = 10): Promise<{ at: number; n: number } | null> {
  const until = performance.now() + timeoutMs;
  let last = -1;
  let since = 0;
  for (;;) {
    const now = performance.now();
    const n = await count();
    if (n !== last) {
      last = n;
      since = now;
    }
    if (n >= target) return { at: now, n };
    if (now - since >= 1000) return { at: since, n };
    if (now > until) return null;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Waits until the spool is empty and no more messages arrive. Returns the counters then and when,
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

interface StepContext {
  o: ScenarioOptions;
  gp: RunningGridPatrol;
  influx: Influxd | undefined;
  dataDir: string;
  devices: LoadDevice[];
  tsOrigin: number;
  seq: number;
}

/** One offered rate: publish, wait for PUBACKs (or the ingest count) and the drained spool, count. Advances `ctx.seq`. */
async function runStep(ctx: StepContext, plan: PayloadPlan, offered: number): Promise<{ step: StepRun; drained: boolean }> {
  const { o, gp, influx, dataDir, devices } = ctx;
  const pid = gp.child.pid;
  const wallStart = performance.now();
  const storedBefore = await storedCount(o.store, dataDir, influx);
  const before = counters(await metrics(gp.http));
  let cpuBefore: number | null = null;
  let storeCpuBefore: number | null = null;
  let startedAt = 0;
  const loadCalled = performance.now();
  const { res, loadCpuMs } = await generate({
    mqttPort: gp.ports.mqttPort, devices, ratePerDevice: offered / devices.length, durationMs: o.durationMs, qos: plan.qos,
    batchSize: plan.batchSize, seqStart: ctx.seq, tsOrigin: ctx.tsOrigin, ackTimeoutMs: o.ackTimeoutMs, seed: o.run,
    onReady: () => {
      cpuBefore = cpuTimeMs(pid);
      storeCpuBefore = cpuTimeMs(influx?.pid);
      startedAt = performance.now();
    },
  }, o.loadWorkers);
  ctx.seq = res.nextSeq;
  // QoS 0 has no acknowledgement: done is when ingest has counted every message
  const taken = plan.qos === 0
    ? await waitCount(async () => counters(await metrics(gp.http)).messagesIn - before.messagesIn, res.sent, o.drainTimeoutMs)
    : null;
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
  const elapsedMs = plan.qos === 1 ? res.elapsedMs : taken ? taken.at - startedAt : o.durationMs + o.drainTimeoutMs;
  const done = plan.qos === 1 ? res.acked : Math.min(res.sent, taken?.n ?? messagesIn);
  const doneMsgPerSec = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const allAcked = plan.qos === 0 || res.acked === res.sent;
  // at QoS 0 every point sent must be stored: nothing was refused, and the broker dropped nothing
  const mustStore = plan.qos === 1 ? res.pointsAcked : res.points;
  const complete = drained !== null && storedPoints >= mustStore && storedPoints >= recordsAccepted;
  const keptUp = doneMsgPerSec >= KEEP_UP * offered;
  const step: StepRun = {
    target: o.store, payload: plan.name, batchSize: plan.batchSize, qos: plan.qos, run: o.run, offeredMsgPerSec: offered, durationMs: o.durationMs,
    sent: res.sent, acked: res.acked, points: res.points, pointsAcked: res.pointsAcked, delivered: messagesIn, elapsedMs,
    sentMsgPerSec: res.sendMs > 0 ? (res.sent * 1000) / res.sendMs : 0,
    doneMsgPerSec, drainedMs,
    storedPoints,
    storedPointsPerSec: drainedMs ? (storedPoints * 1000) / drainedMs : null,
    counters: {
      messagesIn, recordsAccepted,
      deadLetters: after.deadLetters - before.deadLetters,
      duplicates: after.duplicates - before.duplicates,
      mqttRefused: after.mqttRefused - before.mqttRefused,
      limitDisconnects: after.limitDisconnects - before.limitDisconnects,
    },
    allAcked, complete, keptUp, pass: allAcked && complete && keptUp,
    cpuMs,
    cpuUsPerMsg: cpuMs !== null && messagesIn > 0 ? (cpuMs * 1000) / messagesIn : null,
    cpuUsPerPoint: cpuMs !== null && recordsAccepted > 0 ? (cpuMs * 1000) / recordsAccepted : null,
    sideCpuMs: storeCpuAfter !== null && storeCpuBefore !== null ? storeCpuAfter - storeCpuBefore : null,
    loadCpuMs,
    readyz,
    loadErrors: res.errors,
    ackLatency: res.latency,
    connectMs: startedAt - loadCalled,
    wallMs: performance.now() - wallStart,
    loadAverage: load1(),
  };
  return { step, drained: drained !== null };
}

export function stepLabel(target: Target, plan: Pick<PayloadPlan, 'name' | 'qos'>, offered: number, run: number): string {
  return `${target} ${plan.name} QoS ${plan.qos} ${offered} msg/s run ${run}`;
}

export function logStep(log: (line: string) => void, s: StepRun, extra = ''): void {
  log(
    `${stepLabel(s.target, { name: s.payload as PayloadPlan['name'], qos: s.qos }, s.offeredMsgPerSec, s.run)}: sent ${Math.round(s.sentMsgPerSec)}/s, ` +
      `done ${Math.round(s.doneMsgPerSec)}/s (${s.qos === 1 ? `${s.acked} acked` : `${s.delivered} in`}/${s.sent}), ` +
      `${s.storedPoints === null ? `${s.delivered} delivered` : `stored ${s.storedPoints}/${s.qos === 1 ? s.pointsAcked : s.points} points`}, ` +
      `${s.cpuMs ?? '?'} ms CPU, ${(s.wallMs / 1000).toFixed(1)} s, load ${s.loadAverage}${extra}` +
      `${s.loadErrors.count ? `, ${s.loadErrors.count} load errors: ${s.loadErrors.samples[0]}` : ''}`,
  );
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const steps: StepRun[] = [];
  const skipped: string[] = [];
  let error: string | undefined;
  let influx: Influxd | undefined;
  let gp: RunningGridPatrol | undefined;
  let log: GpLog = { warn: 0, error: 0, samples: [], stderr: '' };
  let dataDir: string | undefined;
  const pending = o.plans.flatMap((plan) => plan.steps.map((offered) => ({ plan, offered })));
  const label = (p: (typeof pending)[number]) => stepLabel(o.store, p.plan, p.offered, o.run);
  // every bundled rule evaluates every sample; the altitude ceiling is raised above the load
  // generator's 110–130 m, which would otherwise open or update an alert on most samples
  const rules = writeRulesFile(benchRules());
  try {
    influx = o.store === 'influx' ? await startInfluxd() : undefined;
    const env = testEnv({
      GRIDPATROL_RULES_FILE: rules.path,
      // the per-connection limit would close a bench connection long before the pipeline is the limit
      GRIDPATROL_MAX_MSGS_PER_SEC: '10000000',
      // measure the shipped writer setting, not the test helper's quick flush
      GRIDPATROL_FLUSH_INTERVAL_MS: '200',
      ...(influx && { GRIDPATROL_INFLUX_URL: influx.url }),
    });
    dataDir = env.GRIDPATROL_DATA_DIR!;
    gp = await startGridPatrol(env, o.nodeArgs);
    log = watchLog(gp.child);
    const devices = await registerDrones(gp.http, 'bench-drone', o.devices);
    // one device time per seq (tsOrigin + seq), an hour back: unique keys however fast the steps go
    const ctx: StepContext = { o, gp, influx, dataDir, devices, tsOrigin: Date.now() - 3_600_000, seq: 1 };

    while (pending.length) {
      const next = pending[0]!;
      const { step, drained } = await runStep(ctx, next.plan, next.offered);
      pending.shift();
      steps.push(step);
      logStep(o.log, step, drained ? '' : ', spool NOT drained');
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
    rules.remove();
  }
  return { steps, skipped, error, gridpatrolLog: log };
}
