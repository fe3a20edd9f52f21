import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadDevice } from '../simulators/load.js';
import { freePort } from '../test/helpers/ports.js';
import { stopProcess } from '../test/helpers/influxd.js';
import { describe, KEEP_UP, logStep, stepLabel, waitCount, type PayloadPlan, type StepRun } from './ingest.js';
import { generate } from './lib/load.js';
import { load1, ROOT } from './lib/machine.js';
import { cpuTimeMs } from './lib/proc.js';
import { spawnJson, tsxArgs } from './lib/spawn.js';

/**
 * The reference of the ingest benchmark, measured in the same run with the same load generator:
 * a bare broker (Aedes as its README starts it, or Mosquitto) relaying every drone's telemetry to
 * one subscriber in its own process. Neither authenticates, validates, spools nor stores.
 */

export type ReferenceBroker = 'aedes' | 'mosquitto';

export interface ReferenceOptions {
  broker: ReferenceBroker;
  run: number;
  devices: number;
  durationMs: number;
  plans: readonly PayloadPlan[];
  loadWorkers: number;
  ackTimeoutMs: number;
  /** longest wait for the subscriber to receive what was sent, ms */
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export interface ReferenceResult {
  steps: StepRun[];
  error?: string;
}

export interface BrokerProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on the port. */
async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A bare Aedes (bench/aedes-broker.ts) in its own process on a free port. */
export async function startAedes(): Promise<BrokerProcess> {
  const [cmd, args] = tsxArgs('bench/aedes-broker.ts');
  const { child, first } = await spawnJson<{ port: number }>(cmd, args);
  return { port: first.port, pid: child.pid!, stop: () => stopProcess(child) };
}

/** True when a `mosquitto` binary is on the PATH. */
export async function hasMosquitto(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn('mosquitto', ['-h'], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('exit', () => resolve(true));
  });
}

/**
 * Mosquitto with a generated configuration on a free port of 127.0.0.1: anonymous, no
 * persistence, no log, and no limit on its per-client queue (the default 1,000 would drop QoS 1
 * messages the subscriber has not read yet; the bench measures relaying, not a drop policy).
 */
export async function startMosquitto(): Promise<BrokerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', 'max_queued_messages 0', 'set_tcp_nodelay true', ''].join('\n'));
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mosquitto: ${(err as Error).message}: ${stderr.slice(0, 500)}`);
  }
  return {
    port, pid: child.pid!,
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Subscriber {
  pid: number;
  count(): Promise<{ received: number; lastAt: number }>;
  stop(): Promise<void>;
}

/** bench/relay-subscriber.ts, forked: subscribes to every drone's telemetry at `qos`. */
async function startSubscriber(port: number, qos: 0 | 1): Promise<Subscriber> {
  const child = fork(fileURLToPath(new URL('./relay-subscriber.ts', import.meta.url)), [String(port), String(qos)], {
    execArgv: ['--import', 'tsx'], cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: Array<(m: { received: number; lastAt: number }) => void> = [];
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string; received: number; lastAt: number; message?: string }) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'count') waiting.shift()?.(m);
      else if (m.type === 'error') reject(new Error(`subscriber: ${m.message}`));
    });
    child.once('exit', (code) => reject(new Error(`subscriber exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    count: () => new Promise((resolve) => {
      waiting.push(resolve);
      child.send({ type: 'count' });
    }),
    stop: () => stopProcess(child),
  };
}

const epochNow = () => performance.timeOrigin + performance.now();

async function runStep(o: ReferenceOptions, broker: BrokerProcess, sub: Subscriber, devices: LoadDevice[], plan: PayloadPlan, offered: number, seq: number): Promise<{ step: StepRun; nextSeq: number }> {
  const wallStart = performance.now();
  const before = await sub.count();
  let cpuBefore: number | null = null;
  let subCpuBefore: number | null = null;
  let startedAt = 0;
  const loadCalled = performance.now();
  const { res, loadCpuMs } = await generate({
    mqttPort: broker.port, devices, ratePerDevice: offered / devices.length, durationMs: o.durationMs, qos: plan.qos,
    batchSize: plan.batchSize, seqStart: seq, tsOrigin: Date.now() - 3_600_000, ackTimeoutMs: o.ackTimeoutMs, seed: o.run,
    onReady: () => {
      cpuBefore = cpuTimeMs(broker.pid);
      subCpuBefore = cpuTimeMs(sub.pid);
      startedAt = epochNow();
    },
  }, o.loadWorkers);
  const got = await waitCount(async () => (await sub.count()).received - before.received, res.sent, o.drainTimeoutMs);
  const cpuAfter = cpuTimeMs(broker.pid);
  const subCpuAfter = cpuTimeMs(sub.pid);
  const after = await sub.count();
  const delivered = after.received - before.received;
  // done when the last message reached the subscriber (and, at QoS 1, the last PUBACK came back)
  const elapsedMs = delivered > 0 ? Math.max(after.lastAt - startedAt, plan.qos === 1 ? res.elapsedMs : 0) : 0;
  const doneMsgPerSec = elapsedMs > 0 ? (Math.min(delivered, res.sent) * 1000) / elapsedMs : 0;
  const cpuMs = cpuAfter !== null && cpuBefore !== null ? cpuAfter - cpuBefore : null;
  const allAcked = plan.qos === 0 || res.acked === res.sent;
  const complete = got !== null && delivered >= res.sent;
  const keptUp = doneMsgPerSec >= KEEP_UP * offered;
  const step: StepRun = {
    target: o.broker, payload: plan.name, batchSize: plan.batchSize, qos: plan.qos, run: o.run, offeredMsgPerSec: offered, durationMs: o.durationMs,
    sent: res.sent, acked: res.acked, points: res.points, pointsAcked: res.pointsAcked, delivered, elapsedMs,
    sentMsgPerSec: res.sendMs > 0 ? (res.sent * 1000) / res.sendMs : 0,
    doneMsgPerSec, drainedMs: null, storedPoints: null, storedPointsPerSec: null, counters: null,
    allAcked, complete, keptUp, pass: allAcked && complete && keptUp,
    cpuMs,
    cpuUsPerMsg: cpuMs !== null && delivered > 0 ? (cpuMs * 1000) / Math.min(delivered, res.sent) : null,
    cpuUsPerPoint: cpuMs !== null && delivered > 0 ? (cpuMs * 1000) / (Math.min(delivered, res.sent) * plan.batchSize) : null,
    sideCpuMs: subCpuAfter !== null && subCpuBefore !== null ? subCpuAfter - subCpuBefore : null,
    loadCpuMs, readyz: null, loadErrors: res.errors, ackLatency: res.latency,
    connectMs: 0, wallMs: performance.now() - wallStart, loadAverage: load1(),
  };
  step.connectMs = Math.max(0, startedAt - (performance.timeOrigin + loadCalled));
  return { step, nextSeq: res.nextSeq };
}

/** One run against a fresh reference broker: every plan and rate, as the GridPatrol scenario. */
export async function runReference(o: ReferenceOptions): Promise<ReferenceResult> {
  const steps: StepRun[] = [];
  let broker: BrokerProcess | undefined;
  let sub: Subscriber | undefined;
  let current = `${o.broker} run ${o.run}`;
  const devices: LoadDevice[] = Array.from({ length: o.devices }, (_, i) => ({ id: `bench-drone-${String(i + 1).padStart(3, '0')}`, password: 'not checked' }));
  try {
    broker = o.broker === 'aedes' ? await startAedes() : await startMosquitto();
    let seq = 1;
    for (const plan of o.plans) {
      sub = await startSubscriber(broker.port, plan.qos);
      for (const offered of plan.steps) {
        current = stepLabel(o.broker, plan, offered, o.run);
        const r = await runStep(o, broker, sub, devices, plan, offered, seq);
        seq = r.nextSeq;
        steps.push(r.step);
        logStep(o.log, r.step);
      }
      await sub.stop();
      sub = undefined;
    }
    return { steps };
  } catch (err) {
    const error = `${current}: ${describe(err)}`;
    o.log(`ERROR ${error}`);
    return { steps, error };
  } finally {
    await sub?.stop();
    await broker?.stop();
  }
}
