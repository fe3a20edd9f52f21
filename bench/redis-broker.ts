import type { MqttClient } from 'mqtt';
import { rm } from 'node:fs/promises';
import { ADMIN_TOKEN, connectMqtt, testEnv } from '../test/helpers/gridpatrol.js';
import { stopProcess } from '../test/helpers/influxd.js';
import { publishQos1 } from '../test/helpers/publisher.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { runConnections, type ConnectionsRun } from './connections.js';
import { startGridPatrol, type RunningGridPatrol } from './lib/gridpatrol.js';
import { load1, machine, machineLine } from './lib/machine.js';
import { cpuTimeMs } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { seedDrones } from './lib/seed.js';
import { showSpread, spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

/**
 * The clustered broker (GRIDPATROL_REDIS_URL): what one broker node holds, with and without its
 * state in Redis (idle authenticated connections, bench/connections.ts), and how fast messages
 * cross from one node to another through Redis, against the same node and a node without Redis.
 */
export interface RedisBrokerBenchOptions {
  runs: number;
  quick: boolean;
  /** idle connections to hold, ascending */
  connections: number[];
  /** client processes holding them */
  workers: number;
  /** QoS 1 telemetry messages published per relay case */
  relayMessages: number;
  /** drones publishing them at once, each with 20 awaiting PUBACK */
  publishers: number;
}

type RelayCase = 'one node, no Redis' | 'same node, through Redis' | 'node A to node B, through Redis';
const CASES: RelayCase[] = ['one node, no Redis', 'same node, through Redis', 'node A to node B, through Redis'];

interface RelayRun {
  case: RelayCase;
  run: number;
  sent: number;
  received: number;
  /** first publish → last message at the subscriber */
  ms: number;
  perSec: number;
  /** CPU of each GridPatrol node and of redis-server over the run, percent of one core */
  cpuPercent: Record<string, number | null>;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Deployment {
  nodes: Record<string, RunningGridPatrol>;
  redis?: RedisServer;
  drones: Array<{ id: string; password: string }>;
  stop(): Promise<void>;
}

/** Broker nodes (role broker, no ingest: the relay alone) on one data folder, with a Redis when `redis`. */
async function deploy(names: string[], redis: boolean, publishers: number): Promise<Deployment> {
  const server = redis ? await startRedis() : undefined;
  const env = testEnv({
    GRIDPATROL_ROLE: 'broker', GRIDPATROL_BROKER_INGEST: 'none', GRIDPATROL_MAX_MSGS_PER_SEC: '1000000',
    ...(server && { GRIDPATROL_REDIS_URL: server.url }),
  });
  const dataDir = env.GRIDPATROL_DATA_DIR!;
  const nodes: Record<string, RunningGridPatrol> = {};
  const stop = async () => {
    for (const n of Object.values(nodes)) {
      await stopProcess(n.child, 15_000);
      await n.exited;
    }
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const drones = await seedDrones(dataDir, publishers, 'relay');
    for (const name of names) {
      nodes[name] = await startGridPatrol({ ...env, GRIDPATROL_NODE_ID: name });
      nodes[name]!.child.stdout!.resume();
    }
    return { nodes, redis: server, drones, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function relayOnce(d: Deployment, c: RelayCase, run: number, o: RedisBrokerBenchOptions): Promise<RelayRun> {
  const [from, to] = c === 'node A to node B, through Redis' ? ['a', 'b'] : ['a', 'a'];
  const clients: MqttClient[] = [];
  const result: RelayRun = { case: c, run, sent: 0, received: 0, ms: 0, perSec: 0, cpuPercent: {} };
  try {
    const sub = await connectMqtt(d.nodes[to]!.ports.mqttPort, 'token', ADMIN_TOKEN, { clientId: `relay-sub-${run}` });
    clients.push(sub);
    let received = 0;
    let lastAt = 0;
    sub.on('message', () => {
      received++;
      lastAt = performance.now();
    });
    await sub.subscribeAsync('gridpatrol/v1/drones/+/telemetry', { qos: 0 });
    const pubs = await Promise.all(d.drones.map((dr) => connectMqtt(d.nodes[from]!.ports.mqttPort, dr.id, dr.password, { clientId: dr.id })));
    clients.push(...pubs);
    const perDrone = Math.ceil(o.relayMessages / pubs.length);
    const pids: Record<string, number> = Object.fromEntries(Object.entries(d.nodes).map(([k, n]) => [`node ${k}`, n.child.pid!]));
    if (d.redis) pids['redis-server'] = d.redis.pid;
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuTimeMs(pid)]));
    // the clients (publishers and subscriber) run in this process: its CPU says whether they were the limit
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const publishing = pubs.map((p, i) => publishQos1(p, d.drones[i]!.id, 1, { inflight: 20, max: perDrone }));
    await Promise.all(publishing.map((p) => p.done));
    result.sent = publishing.reduce((n, p) => n + p.acked.size, 0);
    // the subscriber's last message: wait until nothing more arrives for a second
    for (let before = -1; before !== received; ) {
      before = received;
      await sleep(1000);
    }
    result.received = received;
    result.ms = Math.round(lastAt - t0);
    result.perSec = Math.round((received * 1000) / (lastAt - t0));
    for (const [k, pid] of Object.entries(pids)) {
      const c1 = cpuTimeMs(pid);
      result.cpuPercent[k] = c1 !== null && cpu0[k] !== null ? Math.round(((c1 - cpu0[k]!) * 1000) / (lastAt - t0)) / 10 : null;
    }
    const self = process.cpuUsage(self0);
    result.cpuPercent.clients = Math.round((self.user + self.system) / (lastAt - t0)) / 10;
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    for (const c of clients) c.end(true);
  }
  return result;
}

export async function redisBrokerBench(o: RedisBrokerBenchOptions, log: (line: string) => void): Promise<void> {
  const startedAt = new Date();
  const mach = machine();
  const load = { before: load1(), after: 0 };
  log(`redis-broker: ${o.runs} run(s); idle connections ${o.connections.join(', ')} with and without Redis; relay of ${o.relayMessages} QoS 1 messages from ${o.publishers} drones`);

  const conns: ConnectionsRun[] = [];
  for (let run = 1; run <= o.runs; run++)
    for (const target of ['gridpatrol', 'gridpatrol-redis'] as const)
      conns.push(await runConnections({ runs: o.runs, quick: o.quick, counts: o.connections, workers: o.workers }, target, run, log));

  const relays: RelayRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    const single = await deploy(['a'], false, o.publishers);
    try {
      relays.push(await relayOnce(single, 'one node, no Redis', run, o));
    } finally {
      await single.stop();
    }
    const pair = await deploy(['a', 'b'], true, o.publishers);
    try {
      for (const c of CASES.slice(1)) relays.push(await relayOnce(pair, c, run, o));
    } finally {
      await pair.stop();
    }
    for (const r of relays.filter((x) => x.run === run))
      log(`redis-broker relay run ${run}, ${r.case}: ${r.received}/${r.sent} in ${r.ms} ms = ${r.perSec}/s${r.error ? ` ERROR ${r.error}` : ''}`);
  }
  load.after = load1();

  const okConns = conns.filter((r) => !r.error);
  const connSummary = (['gridpatrol', 'gridpatrol-redis'] as const).flatMap((target) => o.connections.map((connections) => {
    const ls = okConns.filter((r) => r.target === target).map((r) => r.levels.find((l) => l.connections === connections)).filter((l) => !!l);
    return {
      target, connections,
      perConnectionKiB: spread(ls.map((l) => l.perConnectionKiB)),
      redisPerConnectionKiB: spread(ls.map((l) => l.redisPerConnectionKiB ?? null)),
      connectPerSec: spread(ls.map((l) => l.connectPerSec)),
      failed: ls.reduce((n, l) => n + l.connectFailed, 0),
      storm2PerSec: spread(okConns.filter((r) => r.target === target).map((r) => r.storms[1]?.connectPerSec)),
    };
  }));
  const relaySummary = CASES.map((c) => {
    const rs = relays.filter((r) => r.case === c && !r.error);
    return { case: c, perSec: spread(rs.map((r) => r.perSec)), lost: rs.reduce((n, r) => n + r.sent - r.received, 0), cpu: rs[0]?.cpuPercent ?? {} };
  });
  const finishedAt = new Date();
  const file = await writeResults('redis-broker', startedAt, { startedAt, finishedAt, machine: mach, options: o, connSummary, relaySummary, conns, relays, load });
  const lines = [
    '',
    `Broker node with its state in memory or in Redis (GRIDPATROL_REDIS_URL), median (min–max) of ${o.runs} run(s)`,
    `${machineLine(mach)}; clients, GridPatrol nodes and redis-server on the same machine`,
    '',
    formatTable(
      ['broker state', 'idle connections', 'GridPatrol RSS KiB/conn', 'Redis RSS KiB/conn', 'first connects/s', 'reconnect storm (cached) connects/s', 'failed'],
      connSummary.map((r) => [r.target === 'gridpatrol' ? 'memory' : 'Redis', r.connections.toLocaleString('en-US'), showSpread(r.perConnectionKiB, 1), r.target === 'gridpatrol' ? '–' : showSpread(r.redisPerConnectionKiB, 1), showSpread(r.connectPerSec), showSpread(r.storm2PerSec), String(r.failed)]),
    ),
    '',
    formatTable(
      ['relay (QoS 1 in, QoS 0 out)', 'messages/s at the subscriber', 'not received', 'CPU % of one core (last run)'],
      relaySummary.map((r) => [r.case, showSpread(r.perSec), String(r.lost), Object.entries(r.cpu).map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')]),
    ),
    '',
    `Relay: ${o.publishers} drones publish ${o.relayMessages} telemetry messages (QoS 1, 20 awaiting PUBACK each) to node A, one operator`,
    'subscribed to every drone\'s telemetry (QoS 0) on node A or B counts them; broker role without ingest (GRIDPATROL_BROKER_INGEST=none),',
    'so the figure is the broker\'s relay alone. Through Redis every message goes to Redis and back, even to a subscriber on the same node.',
    `Load average (1 min): ${load.before} before, ${load.after} after, on ${mach.cpus.count} cores.`,
    '',
    `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`,
  ];
  const failed = [...conns.filter((r) => r.error).map((r) => `connections ${r.target} run ${r.run}: ${r.error!.split('\n')[0]}`), ...relays.filter((r) => r.error).map((r) => `relay ${r.case} run ${r.run}: ${r.error}`)];
  if (failed.length) lines.push('', 'Runs that failed:', ...failed.map((f) => `  ${f}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}
