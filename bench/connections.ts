import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import type { LoadDevice } from '../simulators/load.js';
import { testEnv } from '../test/helpers/gridpatrol.js';
import { stopProcess } from '../test/helpers/influxd.js';
import { startRedis } from '../test/helpers/redis.js';
import { describe } from './ingest.js';
import { oneLine } from './ingest-report.js';
import { startGridPatrol, type RunningGridPatrol } from './lib/gridpatrol.js';
import { load1, machine, machineLine, ROOT } from './lib/machine.js';
import { cpuTimeMs, rssKiB } from './lib/proc.js';
import { promValue } from './lib/prom.js';
import { writeResults } from './lib/results.js';
import { seedDrones } from './lib/seed.js';
import { spawnJson, tsxArgs, withNofile } from './lib/spawn.js';
import { showSpread, spread } from './lib/stats.js';
import { formatTable } from './lib/table.js';

/**
 * Idle connections: GridPatrol's resident memory and CPU with N idle authenticated MQTT
 * connections (each a registered drone with its own password check), and a bare Aedes holding
 * the same connections in the same run; then a reconnect storm: every connection reset at once
 * and all of them connecting again. The clients are raw sockets in `workers` processes
 * (bench/conn-worker.ts).
 */

export interface ConnectionsBenchOptions {
  runs: number;
  quick: boolean;
  /** idle connections to hold, ascending; each level adds to the previous */
  counts: number[];
  workers: number;
}

/** gridpatrol-redis: GridPatrol with its broker's state in a throwaway redis-server (GRIDPATROL_REDIS_URL) */
export type Target = 'gridpatrol' | 'gridpatrol-redis' | 'aedes';

interface Level {
  connections: number;
  /** the new connections' CONNECTs, first sent → last CONNACK, per second (GridPatrol: each a password check) */
  connectPerSec: number;
  connectFailed: number;
  rssKiB: number | null;
  /** (RSS now − RSS with no connection) / connections */
  perConnectionKiB: number | null;
  /** CPU over idleMs with the connections idle, percent of one core */
  idleCpuPercent: number | null;
  /** GridPatrol's V8 heap in use (gridpatrol_process_nodejs_heap_size_used_bytes) per connection, KiB */
  heapPerConnectionKiB: number | null;
  /** gridpatrol-redis: (Redis's RSS now − with no connection) / connections, KiB */
  redisPerConnectionKiB?: number | null;
}

export interface ConnectionsRun {
  target: Target;
  run: number;
  baseRssKiB: number | null;
  levels: Level[];
  /**
   * every connection reset at once, then all connecting again: connections per second, first
   * CONNECT → last CONNACK; twice in a row (the second time every password is in the registry's cache)
   */
  storms: Array<{ connections: number; connectPerSec: number; failed: number; errors: string[] }>;
  loadAverage: { before: number; after: number };
  error?: string;
}

/** how long CPU is measured with the connections idle, and the pause before RSS is read, ms (--quick: 1 s each) */
const timing = (quick: boolean) => ({ idleMs: quick ? 1000 : 5000, settleMs: quick ? 1000 : 3000 });
/** CONNECTs in flight at once per client process: a real storm is spread by TCP's SYN backlog too */
const CONCURRENCY = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Opened {
  ok: number;
  failed: number;
  firstAt: number;
  lastAt: number;
  errors: string[];
}

class Worker {
  private waiting = new Map<string, Array<(m: unknown) => void>>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: { type: string }) => this.waiting.get(m.type)?.shift()?.(m));
  }

  static async start(nofile: number): Promise<Worker> {
    const [cmd, args] = withNofile(process.execPath, ['--import', 'tsx', 'bench/conn-worker.ts'], nofile);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const w = new Worker(child);
    await Promise.race([
      w.next('ready'),
      new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`connection worker exited with ${code}`)))),
    ]);
    return w;
  }

  next<T>(type: string): Promise<T> {
    return new Promise((resolve) => {
      const list = this.waiting.get(type) ?? [];
      list.push(resolve as (m: unknown) => void);
      this.waiting.set(type, list);
    });
  }

  async open(port: number, devices: LoadDevice[]): Promise<Opened> {
    const done = this.next<Opened>('opened');
    this.child.send({ type: 'open', port, devices, concurrency: CONCURRENCY });
    return done;
  }

  async drop(): Promise<void> {
    const done = this.next('dropped');
    this.child.send({ type: 'drop' });
    await done;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = this.next('closed');
    this.child.send({ type: 'close' });
    await Promise.race([done, sleep(5000)]);
    await stopProcess(this.child);
  }
}

/** Every worker connects its share of `devices` at once; the merged result. */
async function openAll(workers: Worker[], port: number, devices: LoadDevice[]): Promise<Opened> {
  const rs = await Promise.all(workers.map((w, k) => w.open(port, devices.filter((_, i) => i % workers.length === k))));
  return {
    ok: rs.reduce((n, r) => n + r.ok, 0), failed: rs.reduce((n, r) => n + r.failed, 0),
    firstAt: Math.min(...rs.map((r) => r.firstAt)), lastAt: Math.max(...rs.map((r) => r.lastAt)),
    errors: rs.flatMap((r) => r.errors).slice(0, 5),
  };
}

interface Server {
  pid: number;
  port: number;
  /** connections the server counts as open, when it says */
  connections(): Promise<number | null>;
  heapUsedBytes(): Promise<number | null>;
  /** the redis-server of target gridpatrol-redis */
  redisPid?: number;
  stop(): Promise<void>;
}

async function startServer(target: Target, devices: number, nofile: number): Promise<{ server: Server; devices: LoadDevice[] }> {
  if (target === 'aedes') {
    const [cmd, args] = withNofile(...tsxArgs('bench/aedes-broker.ts'), nofile);
    const { child, first } = await spawnJson<{ port: number }>(cmd, args);
    return {
      server: { pid: child.pid!, port: first.port, connections: async () => null, heapUsedBytes: async () => null, stop: () => stopProcess(child) },
      devices: Array.from({ length: devices }, (_, i) => ({ id: `idle-${String(i + 1).padStart(6, '0')}`, password: 'not checked' })),
    };
  }
  const redis = target === 'gridpatrol-redis' ? await startRedis() : undefined;
  const env = testEnv({ GRIDPATROL_MAX_CONNECTIONS: String(Math.max(20_000, devices + 100)), ...(redis && { GRIDPATROL_REDIS_URL: redis.url }) });
  const dataDir = env.GRIDPATROL_DATA_DIR!;
  const seeded = await seedDrones(dataDir, devices, 'idle');
  let gp: RunningGridPatrol;
  try {
    gp = await startGridPatrol(env, [], nofile);
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    await redis?.stop();
    throw err;
  }
  gp.child.stdout!.resume();
  const metric = async (name: string) => {
    const r = await gp.http('GET', '/metrics', undefined, null);
    return r.status === 200 ? promValue(String(r.json), name) : null;
  };
  return {
    server: {
      pid: gp.child.pid!, port: gp.ports.mqttPort,
      connections: () => metric('gridpatrol_mqtt_connections'),
      heapUsedBytes: () => metric('gridpatrol_process_nodejs_heap_size_used_bytes'),
      redisPid: redis?.pid,
      async stop() {
        await stopProcess(gp.child, 15_000);
        await gp.exited;
        await rm(dataDir, { recursive: true, force: true });
        await redis?.stop();
      },
    },
    devices: seeded,
  };
}

export async function runConnections(o: ConnectionsBenchOptions, target: Target, run: number, log: (line: string) => void): Promise<ConnectionsRun> {
  const max = Math.max(...o.counts);
  const nofile = max + 1024;
  const { idleMs, settleMs } = timing(o.quick);
  const result: ConnectionsRun = { target, run, baseRssKiB: null, levels: [], storms: [], loadAverage: { before: load1(), after: 0 } };
  let server: Server | undefined;
  const workers: Worker[] = [];
  try {
    const started = await startServer(target, max, nofile);
    server = started.server;
    for (let k = 0; k < o.workers; k++) workers.push(await Worker.start(Math.ceil(max / o.workers) + 1024));
    await sleep(settleMs);
    result.baseRssKiB = rssKiB(server.pid);
    const baseRedis = server.redisPid ? rssKiB(server.redisPid) : null;
    const baseHeap = await server.heapUsedBytes();
    let open = 0;
    for (const count of o.counts) {
      const added = await openAll(workers, server.port, started.devices.slice(open, count));
      open = count;
      await sleep(settleMs);
      const rss = rssKiB(server.pid);
      const heap = await server.heapUsedBytes();
      const cpu0 = cpuTimeMs(server.pid);
      await sleep(idleMs);
      const cpu1 = cpuTimeMs(server.pid);
      const level: Level = {
        connections: count,
        connectPerSec: added.ok > 0 ? Math.round((added.ok * 1000) / (added.lastAt - added.firstAt)) : 0,
        connectFailed: added.failed,
        rssKiB: rss,
        perConnectionKiB: rss !== null && result.baseRssKiB !== null ? Math.round(((rss - result.baseRssKiB) / count) * 10) / 10 : null,
        idleCpuPercent: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) * 1000) / idleMs) / 10 : null,
        heapPerConnectionKiB: heap !== null && baseHeap !== null ? Math.round(((heap - baseHeap) / 1024 / count) * 10) / 10 : null,
      };
      const redisRss = server.redisPid ? rssKiB(server.redisPid) : null;
      if (redisRss !== null && baseRedis !== null) level.redisPerConnectionKiB = Math.round(((redisRss - baseRedis) / count) * 10) / 10;
      result.levels.push(level);
      log(`connections ${target} run ${run}: ${count} idle (${added.failed} failed${added.errors[0] ? `: ${added.errors[0]}` : ''}), ` +
        `${level.connectPerSec}/s connecting, RSS ${rss} KiB = ${level.perConnectionKiB} KiB per connection, idle CPU ${level.idleCpuPercent} %`);
    }
    // the reconnect storm: every socket reset at once (a network failure), then every device back; twice
    for (let storm = 1; storm <= 2; storm++) {
      await Promise.all(workers.map((w) => w.drop()));
      for (let waited = 0; waited < 10_000; waited += 100) {
        const n = await server.connections();
        if (n === null || n === 0) break;
        await sleep(100);
      }
      if ((await server.connections()) === null) await sleep(2000);
      const s = await openAll(workers, server.port, started.devices.slice(0, max));
      result.storms.push({ connections: s.ok, connectPerSec: s.ok > 0 ? Math.round((s.ok * 1000) / (s.lastAt - s.firstAt)) : 0, failed: s.failed, errors: s.errors });
      log(`connections ${target} run ${run}: reconnect storm ${storm} of ${max}: ${result.storms.at(-1)!.connectPerSec}/s, ${s.failed} failed${s.errors[0] ? `: ${s.errors[0]}` : ''}`);
    }
  } catch (err) {
    result.error = (err as Error).stack ?? describe(err);
    log(`connections ${target} run ${run}: ERROR ${describe(err)}`);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await server?.stop();
    result.loadAverage.after = load1();
  }
  return result;
}

export async function connectionsBench(o: ConnectionsBenchOptions, log: (line: string) => void): Promise<void> {
  const startedAt = new Date();
  const mach = machine();
  const targets: Target[] = ['gridpatrol', 'aedes'];
  log(`connections: ${o.runs} run(s) × GridPatrol and bare Aedes; ${o.counts.join(', ')} idle connections from ${o.workers} client process(es)`);
  const runs: ConnectionsRun[] = [];
  for (let run = 1; run <= o.runs; run++) for (const t of targets) runs.push(await runConnections(o, t, run, log));
  const ok = runs.filter((r) => !r.error);
  const summary = targets.flatMap((target) => o.counts.map((connections) => {
    const ls = ok.filter((r) => r.target === target).map((r) => r.levels.find((l) => l.connections === connections)).filter((l): l is Level => !!l);
    return {
      target, connections, runs: ls.length,
      rssMiB: spread(ls.map((l) => (l.rssKiB === null ? null : l.rssKiB / 1024))),
      perConnectionKiB: spread(ls.map((l) => l.perConnectionKiB)),
      heapPerConnectionKiB: spread(ls.map((l) => l.heapPerConnectionKiB)),
      idleCpuPercent: spread(ls.map((l) => l.idleCpuPercent)),
      connectPerSec: spread(ls.map((l) => l.connectPerSec)),
      failed: ls.reduce((n, l) => n + l.connectFailed, 0),
    };
  }));
  const storms = targets.flatMap((target) => [0, 1].map((k) => {
    const s = ok.filter((r) => r.target === target).map((r) => r.storms[k]).filter((x): x is ConnectionsRun['storms'][number] => !!x);
    return { target, storm: k + 1, connections: Math.max(...o.counts), connectPerSec: spread(s.map((x) => x.connectPerSec)), failed: s.reduce((n, x) => n + x.failed, 0) };
  }));
  const finishedAt = new Date();
  const file = await writeResults('connections', startedAt, { startedAt, finishedAt, machine: mach, options: { ...o, ...timing(o.quick), concurrency: CONCURRENCY }, summary, storms, runs });
  const name = (t: Target) => (t === 'gridpatrol' ? 'GridPatrol' : 'bare Aedes');
  const lines = [
    '',
    `Idle MQTT connections (clean session, keepalive 60 s), median (min–max) of ${o.runs} run(s); GridPatrol: each an authenticated registered drone`,
    `${machineLine(mach)}; ${o.workers} client process(es) on the same machine, ${CONCURRENCY} CONNECTs in flight per process`,
    '',
    formatTable(
      ['server', 'connections', 'RSS MiB', 'RSS KiB/conn', 'heap KiB/conn', `idle CPU % (${timing(o.quick).idleMs / 1000} s)`, 'first connects/s', 'failed'],
      summary.map((r) => [name(r.target), r.connections.toLocaleString('en-US'), showSpread(r.rssMiB, 1), showSpread(r.perConnectionKiB, 1), showSpread(r.heapPerConnectionKiB, 1), showSpread(r.idleCpuPercent, 1), showSpread(r.connectPerSec), String(r.failed)]),
    ),
    '',
    formatTable(
      ['reconnect storm', 'storm', 'connections', 'connects/s', 'failed'],
      storms.map((s) => [name(s.target), String(s.storm), s.connections.toLocaleString('en-US'), showSpread(s.connectPerSec), String(s.failed)]),
    ),
    '',
    `RSS KiB/conn: (RSS with the connections − RSS with none) / connections, read ${timing(o.quick).settleMs / 1000} s after the last one connected (V8 collects garbage`,
    'when it likes: a heap not yet collected counts). first connects: GridPatrol checks each new password against its salted SHA-256 in the registry. Storm 1 comes',
    'after the idle measurements: passwords verified more than 60 s before are out of the registry\'s cache and are read from SQLite again; storm 2',
    'follows at once, every password cached: the broker\'s own connect rate.',
    `Load average (1 min) around the runs: ${Math.min(...runs.map((r) => r.loadAverage.before))}–${Math.max(...runs.map((r) => r.loadAverage.after))} on ${mach.cpus.count} cores.`,
  ];
  const failed = runs.filter((r) => r.error);
  if (failed.length) lines.push('', 'Runs that failed:', ...failed.map((r) => `  ${name(r.target)} run ${r.run}: ${oneLine(r.error!)}`));
  lines.push('', `Results: ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
