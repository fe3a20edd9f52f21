import { parseArgs } from 'node:util';
import { alertLatencyBench } from './alert-latency-report.js';
import { connectionsBench } from './connections.js';
import { freshnessBench } from './freshness.js';
import { ingestBench } from './ingest-report.js';
import type { PayloadPlan, StoreKind } from './ingest.js';
import { queriesBench } from './queries.js';
import { redisBrokerBench } from './redis-broker.js';
import type { ReferenceBroker } from './reference.js';
import { startupBench } from './startup.js';

const INFLUXD = process.env.GRIDPATROL_INFLUXD ?? '/usr/bin/influxd';

const USAGE = `npm run bench [-- options]: GridPatrol's benchmarks, each printing a table and writing
bench/results/<bench>-<time>.json (machine, versions, commit, every run). GridPatrol, influxd, the
reference brokers and the load generators each run in their own process on this machine.

  --bench LIST        any of ingest, alert-latency, freshness, connections, queries, startup, redis-broker, or all (default all)
  --runs N            repetitions, each in fresh processes (default 3); figures are the median (min–max)
  --quick             a tiny configuration of each benchmark (1 run, 20 drones, 1 s steps ...; what npm test runs)
  --store S           sqlite, influx or both (default both; influx needs ${INFLUXD})

ingest: a fresh GridPatrol takes telemetry from --devices drones at offered rates stepped up;
bare Aedes and Mosquitto (when installed) relay the same load to one subscriber in the same run.
  --duration S        seconds of publishing per step (default 4; quick 1)
  --payload P         single, batch or both (default both)
  --qos Q             0, 1 or both (default both)
  --steps LIST        offered msg/s for single objects (default 2000,5000,10000,20000,30000)
  --batch-steps LIST  offered msg/s for arrays of 10 (default 500,1000,2000,3000)
  --devices N         drones (default 100; quick 20), for alert-latency and freshness too
  --reference LIST    aedes, mosquitto, both or none (default both; mosquitto when installed)
  --load-workers N    load generator processes (default 1: in the bench process, its CPU measured)
  --profile DIR       run GridPatrol with --cpu-prof, profiles into DIR
  --out FILE          the ingest JSON (default bench/results/ingest-<time>.json)

alert-latency: publish of a fire detection → alert event on the SSE stream, under background telemetry.
  --rates LIST        background msg/s over all drones (default 2000,5000; quick 500)
  --triggers N        triggering publishes per run (default 200; quick 40)
  --trigger-interval MS  between two triggering publishes (default 50)
  --warmup S          background load alone before the first trigger, seconds (default 5; quick 1)
  --rules R           bench (default: the bundled rules with the altitude ceiling above the generator's
                      110–130 m) or bundled (as shipped: an alert storm, half the samples over the ceiling);
                      for freshness too

freshness: QoS 1 publish → the point returned by GET /api/v1/drones/{id}/track, under background telemetry.
  --samples N         probes per run (default 200; quick 20)
  --rate N            background msg/s over --devices drones (default 2000; quick 500)

connections: RSS and CPU of GridPatrol and of a bare Aedes with idle authenticated connections; reconnect storm.
  --connections LIST  idle connections (default 1000,10000; quick 100)
  --conn-workers N    client processes opening them (default 4; quick 1)

queries: a 6 h track at 10 Hz reduced to 500 points, a day of readings per 5 minutes, the alert list of 100,000 alerts.
  --alerts N          alerts seeded (default 100000; quick 5000)
  --repeat N          requests of each query per run (default 20; quick 5)

startup: process start → GET /readyz 200, with an empty data folder and with a full one.

redis-broker: a broker node's idle connections with its state in memory and in Redis (--connections,
--conn-workers as above); messages/s relayed from node A to node B through Redis.
  --relay-messages N  QoS 1 messages published per relay case (default 50000; quick 2000)
  --publishers N      drones publishing them (default 10; quick 4)

  -h, --help          this text
`;

const BENCHES = ['ingest', 'alert-latency', 'freshness', 'connections', 'queries', 'startup', 'redis-broker'] as const;
type Bench = (typeof BENCHES)[number];

function parseOptions(argv: string[]) {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      bench: { type: 'string', default: 'all' },
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      store: { type: 'string', default: 'both' },
      duration: { type: 'string' },
      payload: { type: 'string' },
      qos: { type: 'string', default: 'both' },
      steps: { type: 'string' },
      'batch-steps': { type: 'string' },
      devices: { type: 'string' },
      reference: { type: 'string', default: 'both' },
      'load-workers': { type: 'string', default: '1' },
      profile: { type: 'string' },
      out: { type: 'string' },
      rates: { type: 'string' },
      triggers: { type: 'string' },
      'trigger-interval': { type: 'string' },
      warmup: { type: 'string' },
      rules: { type: 'string' },
      samples: { type: 'string' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      'conn-workers': { type: 'string' },
      alerts: { type: 'string' },
      repeat: { type: 'string' },
      'relay-messages': { type: 'string' },
      publishers: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return null;
  const positive = (name: string, x: string): number => {
    const n = Number(x);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${x}: expected a number above 0`);
    return n;
  };
  const int = (name: string, x: string | undefined, dflt: number) => (x === undefined ? dflt : Math.round(positive(name, x)));
  const list = (name: string, x: string): number[] => x.split(',').map((s) => positive(name, s.trim())).sort((a, b) => a - b);
  const oneOf = <T extends string>(name: string, x: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(x)) throw new Error(`--${name} ${x}: expected one of ${allowed.join(', ')}`);
    return x as T;
  };
  const quick = v.quick;
  const benches: Bench[] = v.bench === 'all' ? [...BENCHES] : v.bench.split(',').map((b) => oneOf('bench', b.trim(), BENCHES));
  const store = oneOf('store', v.store, ['sqlite', 'influx', 'both'] as const);
  const stores: StoreKind[] = store === 'both' ? ['sqlite', 'influx'] : [store];
  const payload = oneOf('payload', v.payload ?? 'both', ['single', 'batch', 'both'] as const);
  const qos = oneOf('qos', v.qos, ['0', '1', 'both'] as const);
  const single = v.steps ? list('steps', v.steps) : quick ? [500] : [2000, 5000, 10000, 20000, 30000];
  const batch = v['batch-steps'] ? list('batch-steps', v['batch-steps']) : quick ? [100] : [500, 1000, 2000, 3000];
  const plans: PayloadPlan[] = [];
  for (const q of qos === 'both' ? ([1, 0] as const) : ([Number(qos) as 0 | 1] as const)) {
    if (payload !== 'batch') plans.push({ name: 'single', batchSize: 1, qos: q, steps: single });
    // --quick: arrays only at QoS 1, enough to run that path
    if (payload !== 'single' && !(quick && q === 0 && !v.payload)) plans.push({ name: 'batch', batchSize: 10, qos: q, steps: batch });
  }
  const reference = oneOf('reference', v.reference, ['aedes', 'mosquitto', 'both', 'none'] as const);
  const references: ReferenceBroker[] = reference === 'both' ? ['aedes', 'mosquitto'] : reference === 'none' ? [] : [reference];
  const runs = int('runs', v.runs, quick ? 1 : 3);
  const devices = int('devices', v.devices, quick ? 20 : 100);
  const rates = v.rates ? list('rates', v.rates) : quick ? [500] : [2000, 5000];
  const rules = oneOf('rules', v.rules ?? 'bench', ['bench', 'bundled'] as const);
  return {
    benches,
    ingest: {
      runs, quick, stores, references, plans, devices, out: v.out, profileDir: v.profile,
      durationMs: (v.duration ? positive('duration', v.duration) : quick ? 1 : 4) * 1000,
      loadWorkers: int('load-workers', v['load-workers'], 1),
    },
    alert: {
      runs, quick, devices, rates,
      triggers: int('triggers', v.triggers, quick ? 40 : 200),
      intervalMs: v['trigger-interval'] ? positive('trigger-interval', v['trigger-interval']) : 50,
      warmupMs: (v.warmup ? positive('warmup', v.warmup) : quick ? 1 : 5) * 1000,
      rules,
    },
    freshness: { runs, quick, stores, devices, samples: int('samples', v.samples, quick ? 20 : 200), rate: int('rate', v.rate, quick ? 500 : 2000), rules },
    connections: {
      runs, quick, counts: v.connections ? list('connections', v.connections) : quick ? [100] : [1000, 10000],
      workers: int('conn-workers', v['conn-workers'], quick ? 1 : 4),
    },
    queries: { runs, quick, stores, alerts: int('alerts', v.alerts, quick ? 5000 : 100_000), repeat: int('repeat', v.repeat, quick ? 5 : 20) },
    startup: { runs, quick },
    redisBroker: {
      runs, quick, connections: v.connections ? list('connections', v.connections) : quick ? [100] : [1000, 10000],
      workers: int('conn-workers', v['conn-workers'], quick ? 1 : 4),
      relayMessages: int('relay-messages', v['relay-messages'], quick ? 2000 : 50_000), publishers: int('publishers', v.publishers, quick ? 4 : 10),
    },
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return void process.stdout.write(USAGE);
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  // a stray rejection must not end the bench before its finally blocks stop GridPatrol, influxd and the brokers
  process.on('unhandledRejection', (err) => log(`unhandled rejection (the run goes on): ${(err as Error)?.stack ?? String(err)}`));
  for (const b of o.benches) {
    if (b === 'ingest') await ingestBench(o.ingest, log);
    else if (b === 'alert-latency') await alertLatencyBench(o.alert, log);
    else if (b === 'freshness') await freshnessBench(o.freshness, log);
    else if (b === 'connections') await connectionsBench(o.connections, log);
    else if (b === 'queries') await queriesBench(o.queries, log);
    else if (b === 'redis-broker') await redisBrokerBench(o.redisBroker, log);
    else await startupBench(o.startup, log);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
