import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAlerting } from '../alerts/runtime.js';
import { topics } from '../core/topics.js';
import { buildIngest } from '../ingest/pipeline.js';
import { Spool } from '../ingest/spool.js';
import type { Envelope } from '../ingest/stages/types.js';
import { SpoolWriter } from '../ingest/writer.js';
import { loadGrids } from '../lib/grids.js';
import { BUNDLED_RULES_FILE } from '../lib/rules-file.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { DeadLetters } from '../storage/dead-letters.js';
import { DeviceRegistry } from '../storage/devices.js';
import { InfluxStore } from '../storage/influx-store.js';
import { LiveState } from '../storage/live-state.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import { SqliteStore } from '../storage/sqlite-store.js';
import type { TelemetryStore } from '../storage/telemetry-store.js';
import { writeRulesFile } from '../test/helpers/alerts.js';
import { startInfluxd, type Influxd } from '../test/helpers/influxd.js';
import { benchRules } from './alert-latency.js';
import { seedDrones } from './lib/seed.js';

/**
 * The hot path in one process, without the network: GridPatrol's ingest (decode → validate →
 * normalize → dedup → enrich → spool append → live state, rules and alerts) fed prepared MQTT
 * payloads as the broker hands them over, and the writer draining the spool into a store. CPU µs
 * per message, per stage, for before/after figures of code changes: far steadier than the
 * end-to-end ingest benchmark on a shared machine, and says nothing about the broker.
 * Usage: tsx bench/hot-path.ts [--messages N] [--batch N] [--store sqlite|influx|both] [--rounds N] [--drones N] [--rules bench|bundled]
 * `--rules bundled` keeps the shipped altitude ceiling (120 m, clear below 115 m) under the
 * payloads' 110–129 m: an alert storm (per drone and 20 samples: an open, 9 repeats, an auto-resolve).
 */

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const MESSAGES = Number(args.get('messages') ?? 50_000);
const BATCH = Number(args.get('batch') ?? 1);
const ROUNDS = Number(args.get('rounds') ?? 3);
const STORES = (args.get('store') ?? 'sqlite') === 'both' ? ['sqlite', 'influx'] : [args.get('store') ?? 'sqlite'];
const DRONES = Number(args.get('drones') ?? 100);
const STORM = args.get('rules') === 'bundled';
/** messages handed to ingest before the previous ones are awaited: a socket read holds several */
const CHUNK = 64;

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function payloads(ids: string[], round: number): Envelope[] {
  const out: Envelope[] = [];
  const t0 = Date.now() - 3_600_000;
  for (let m = 0; m < MESSAGES; m++) {
    const d = m % ids.length;
    const seqBase = round * MESSAGES * BATCH + Math.floor(m / ids.length) * BATCH;
    const items = Array.from({ length: BATCH }, (_, k) => {
      const seq = seqBase + k + 1;
      return { ts: t0 + seq, seq, lat: 33.8 + (d % 10) * 0.01 + (seq % 100) * 1e-5, lon: 113.9 + Math.floor(d / 10) * 0.01, alt: 110 + (seq % 20), speed: 8.2, heading: 270, battery: 76, mode: 'patrol', rssi: -67, sats: 14 };
    });
    const id = ids[d]!;
    out.push({ deviceId: id, kind: 'drone', channel: 'telemetry', topic: topics.droneTelemetry(id), payload: Buffer.from(JSON.stringify(BATCH === 1 ? items[0] : items)), receivedAt: Date.now() });
  }
  return out;
}

async function runStore(kind: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gridpatrol-hot-path-'));
  let influx: Influxd | undefined;
  const rules = writeRulesFile(STORM ? readFileSync(BUNDLED_RULES_FILE, 'utf8') : benchRules());
  try {
    influx = kind === 'influx' ? await startInfluxd() : undefined;
    const log = silentLogger();
    const metrics = createMetrics();
    const grids = loadGrids();
    const drones = await seedDrones(dir, DRONES, 'hot');
    const meta = openMetadataDb(join(dir, 'gridpatrol.db'));
    const devices = new DeviceRegistry(meta);
    const deadLetters = new DeadLetters(meta);
    const live = new LiveState();
    const store: TelemetryStore = influx ? new InfluxStore({ url: influx.url, database: 'gridpatrol', api: 'auto' }) : new SqliteStore(join(dir, 'telemetry.db'));
    await store.init();
    const spool = await Spool.open({ dir: join(dir, 'spool'), maxBytes: 2 ** 31, fsync: false, log, metrics });
    const alerting = buildAlerting({
      config: { rulesFile: rules.path, webhooks: { targets: [] }, dispatch: { minBatteryPct: 40 } },
      db: meta, grids, devices, live, sink: spool, publish: () => {}, metrics, log,
    });
    const ingest = buildIngest({
      config: { limits: { maxPayloadBytes: 65536, maxPacketBytes: 1 << 20, maxMessagesPerSec: 1e9, maxConnections: 1e6 }, time: { maxFutureMs: 86_400_000, maxAgeMs: 7 * 86_400_000 } },
      grids, sensorCell: (id) => devices.get(id)?.gridId, sink: spool, deadLetters, live, metrics, log, observer: alerting.observer,
    });
    const ids = drones.map((d) => d.id);
    const rows: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const envs = payloads(ids, round);
      // ingest alone: the writer is not running, so its CPU is not counted here
      let c0 = cpuUs();
      let w0 = performance.now();
      for (let i = 0; i < envs.length; i += CHUNK) {
        const pending: Array<Promise<void>> = [];
        for (let k = i; k < Math.min(envs.length, i + CHUNK); k++) pending.push(ingest.accept(envs[k]!));
        await Promise.all(pending);
      }
      const ingestUs = (cpuUs() - c0) / MESSAGES;
      const ingestWallUs = ((performance.now() - w0) * 1000) / MESSAGES;
      // the writer drains what was spooled
      c0 = cpuUs();
      w0 = performance.now();
      // a writer runs once: one per round, each reading on from the spool's cursor
      const writer = new SpoolWriter({ spool, store, deadLetters, batchSize: 5000, flushIntervalMs: 200, log, metrics });
      writer.start();
      await writer.whenDrained();
      const points = MESSAGES * BATCH;
      const writerUs = (cpuUs() - c0) / points;
      const writerWallUs = ((performance.now() - w0) * 1000) / points;
      await writer.stop();
      rows.push(`${kind} round ${round + 1}: ingest ${ingestUs.toFixed(1)} µs CPU/msg (${ingestWallUs.toFixed(1)} wall), writer ${writerUs.toFixed(1)} µs CPU/point in this process (${writerWallUs.toFixed(1)} wall)`);
      process.stdout.write(`${rows.at(-1)}\n`);
    }
    // every drone's rule state changed since the last flush: what the runtime writes every second while the fleet reports at 1 Hz or more
    const f0 = performance.now();
    await alerting.stop();
    process.stdout.write(`${kind}: rule state flush with ${DRONES} drones' states changed: ${Math.round(performance.now() - f0)} ms\n`);
    await spool.close();
    await store.close();
    meta.close();
  } finally {
    rules.remove();
    await influx?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`hot path: ${MESSAGES} messages of ${BATCH} object(s) from ${DRONES} drones, ${CHUNK} handed over at once; ${STORM ? 'bundled rules (an alert storm: half the samples above the altitude ceiling)' : 'bench rules (every rule evaluated, none firing)'}\n`);
for (const s of STORES) await runStore(s);
