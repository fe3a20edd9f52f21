import { timingSafeEqual, createHash } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAlerting, type Alerting } from './alerts/runtime.js';
import { buildApp } from './api/app.js';
import { buildBroker } from './broker/build.js';
import type { Broker } from './broker/types.js';
import type { Config } from './core/config.js';
import type { Principal } from './core/principal.js';
import { buildIngest } from './ingest/pipeline.js';
import { Spool, type SpoolStats } from './ingest/spool.js';
import { SpoolWriter } from './ingest/writer.js';
import { resolveAdminToken } from './lib/admin-token.js';
import { prepareDataDir } from './lib/data-dir.js';
import { loadTls } from './lib/tls.js';
import { loadGrids } from './lib/grids.js';
import type { Logger } from './lib/logger.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { Counter, Gauge } from 'prom-client';
import { DeadLetters } from './storage/dead-letters.js';
import { DeviceRegistry } from './storage/devices.js';
import { InfluxStore } from './storage/influx-store.js';
import { LiveState } from './storage/live-state.js';
import { openMetadataDb } from './storage/metadata-db.js';
import { SqliteStore } from './storage/sqlite-store.js';
import { TokenStore } from './storage/tokens.js';
import { Checkpointer, type CheckpointedFile } from './storage/checkpointer.js';
import { dataFolderReadiness, isDataUnwritable, reportWriteGuard, WriteGuard } from './storage/write-guard.js';
import type { TelemetryStore } from './storage/telemetry-store.js';

export interface GridPatrol {
  config: Readonly<Config>;
  metrics: Metrics;
  broker: Broker;
  api: FastifyInstance;
  store: TelemetryStore;
  spool: Spool;
  writer: SpoolWriter;
  live: LiveState;
  devices: DeviceRegistry;
  deadLetters: DeadLetters;
  alerting: Alerting;
  adminToken: { token: string; generated: boolean; file: string };
  /** Listens on every port and starts the writer; the real ports (0 picks free ones; mqttsPort null without TLS). */
  start(): Promise<{ mqttPort: number; wsPort: number; httpPort: number; mqttsPort: number | null }>;
  /** Stops taking messages, lets the writer finish its batch, closes everything. */
  stop(): Promise<void>;
}

export function makeStore(config: Config, log: Logger, metrics: Metrics): TelemetryStore {
  if (config.store.type !== 'sqlite') return new InfluxStore(config.store, { log });
  const { path } = config.store;
  return new SqliteStore(path, new WriteGuard(path, reportWriteGuard('telemetry', log, metrics.sqliteWritable)));
}

/** The guards between the data folder's SQLite files and a folder that turns read-only. */
export function dataGuards(meta: WriteGuard, store: TelemetryStore): WriteGuard[] {
  return store instanceof SqliteStore ? [meta, store.writeGuard] : [meta];
}

/** The data folder's metadata database, behind a write guard that reports to the log and metrics. */
export function openGuardedMetadataDb(dataDir: string, log: Logger, metrics: Metrics): CheckpointedFile {
  const path = join(dataDir, 'gridpatrol.db');
  const guard = new WriteGuard(path, reportWriteGuard('metadata', log, metrics.sqliteWritable));
  return { path, db: openMetadataDb(path, guard), guard };
}

/** The data folder's SQLite files this process writes, for the checkpointer: once the store is initialised. */
export function sqliteFiles(meta: CheckpointedFile, store: TelemetryStore): CheckpointedFile[] {
  const db = store instanceof SqliteStore ? store.connection : undefined;
  return db ? [meta, { path: (store as SqliteStore).path, db, guard: (store as SqliteStore).writeGuard }] : [meta];
}

function constantTimeEqual(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/**
 * The all-in-one process: broker → ingest → spool → writer → store, and the API, wired but not
 * listening. Ingest is attached to the embedded broker, so a QoS 1 PUBACK waits for the spool.
 */
export async function buildGridPatrol(config: Readonly<Config>, log: Logger): Promise<GridPatrol> {
  prepareDataDir(config.dataDir);
  const tls = loadTls(config.tls);
  const metrics = createMetrics();
  const grids = loadGrids(config.gridsFile);
  const metaFile = openGuardedMetadataDb(config.dataDir, log, metrics);
  const { db: meta, guard: metaGuard } = metaFile;
  const devices = new DeviceRegistry(meta);
  const deadLetters = new DeadLetters(meta, config.deadLetters.maxRows, (rows) => metrics.deadLettersRotated.inc(rows));
  // the count lives in the data folder; the counter starts from it so a restart does not hide rotations
  if (deadLetters.rotatedTotal > 0) metrics.deadLettersRotated.inc(deadLetters.rotatedTotal);
  const live = new LiveState();
  const store = makeStore(config, log, metrics);
  const guards = dataGuards(metaGuard, store);
  await initStore(store, live, log);
  const checkpointer = new Checkpointer({ files: sqliteFiles(metaFile, store), log });

  const spool = await Spool.open({ dir: join(config.dataDir, 'spool'), maxBytes: config.spool.maxBytes, fsync: config.spool.fsync, log, metrics });
  const writer = new SpoolWriter({ spool, store, deadLetters, batchSize: config.writer.batchSize, flushIntervalMs: config.writer.flushIntervalMs, log, metrics });
  // the broker is built below; alerts and commands are published through it once it listens
  let publish: (topic: string, payload: string) => void = () => {};
  const alerting = buildAlerting({ config, db: meta, dataGuard: metaGuard, grids, devices, live, sink: spool, publish: (t, p) => publish(t, p), metrics, log });
  const ingest = buildIngest({ config, grids, sensorCell: (id) => devices.get(id)?.gridId, sink: spool, deadLetters, live, metrics, log, observer: alerting.observer });

  const adminToken = resolveAdminToken(config.dataDir, config.adminToken);
  const tokens = new TokenStore(meta);
  const verifyToken = async (token: string): Promise<Principal | null> =>
    constantTimeEqual(token, adminToken.token) ? { type: 'person', tokenId: 'admin', name: 'admin', role: 'admin' } : tokens.verify(token);

  const broker = buildBroker({ config, tls, devices, verifyToken, ingest: (msg) => ingest.accept(msg), metrics, log });
  publish = (topic, payload) =>
    broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, (err) => {
      if (err) log.warn({ err, topic }, 'broker publish failed');
    });
  let listening = false;
  let wsPort: number | null = null;
  const readiness = async () => {
    const s = spool.stats();
    const answers = await store.ping().catch(() => false);
    const failing = writer.storeFailure;
    return {
      broker: { ok: listening, detail: listening ? undefined : 'not listening' },
      store: {
        ok: answers && !failing,
        detail: !answers
          ? `${store.kind} store does not answer; records wait in the spool`
          : failing
            ? `${store.kind} store fails writes since ${new Date(failing.since).toISOString()} (${failing.reason}); records wait in the spool`
            : undefined,
      },
      spool: { ok: !s.full && !s.writeError, detail: spoolDetail(s) },
      data: dataFolderReadiness(guards),
      ...(broker.redis && { redis: broker.redis.health() }),
    };
  };
  registerStateGauges(metrics, { spool, alerting, now: Date.now });
  const api = await buildApp({
    store, live, devices, deadLetters, grids, metrics, log, verifyToken, readiness, alerting, db: meta, tokens, tls,
    dashboard: { mqttWsPort: () => wsPort, tileUrl: config.dashboard.tileUrl, tileAttribution: config.dashboard.tileAttribution },
  });

  return {
    config, metrics, broker, api, store, spool, writer, live, devices, deadLetters, alerting, adminToken,
    async start() {
      checkpointer.start();
      writer.start();
      alerting.start();
      const ports = await broker.listen();
      wsPort = ports.wsPort;
      await api.listen({ host: config.host, port: config.httpPort });
      listening = true;
      const addr = api.server.address();
      return { mqttPort: ports.mqttPort, wsPort: ports.wsPort, mqttsPort: ports.mqttsPort, httpPort: typeof addr === 'object' && addr ? addr.port : config.httpPort };
    },
    async stop() {
      listening = false;
      await broker.close();
      await api.close();
      await alerting.stop();
      await writer.stop();
      await spool.close();
      await checkpointer.stop();
      await store.close();
      meta.close();
    },
  };
}

function spoolDetail(s: SpoolStats): string {
  if (s.writeError) return `cannot write to disk (${s.writeError}): publishes are refused until it can`;
  if (s.full) return `at its disk budget (${s.pendingBytes} bytes): publishes are refused until the store catches up`;
  return `${s.pendingRecords} records waiting`;
}

/** Gauges read when /metrics is scraped: state that is cheaper to look at than to track. */
export function registerStateGauges(metrics: Metrics, s: { spool: Spool; alerting: Alerting; now: () => number }): void {
  const r = [metrics.registry];
  // gauges read from SQLite keep their last values while the data folder cannot be written: /metrics still answers
  const fromDb = (collect: () => void) => {
    try {
      collect();
    } catch (err) {
      if (!isDataUnwritable(err)) throw err;
    }
  };
  new Gauge({
    name: 'gridpatrol_spool_oldest_age_seconds', help: 'age of the oldest record not yet read by the writer (ingest lag)', registers: r,
    collect() {
      const b = s.spool.backlog();
      this.set(b.records > 0 && b.since > 0 ? (s.now() - b.since) / 1000 : 0);
    },
  });
  new Gauge({ name: 'gridpatrol_sse_clients', help: 'open alert streams', registers: r, collect() { this.set(s.alerting.sse.size); } });
  new Counter({ name: 'gridpatrol_sse_dropped_total', help: 'alert streams closed because the client did not read', registers: r, collect() { this.reset(); this.inc(s.alerting.sse.dropped); } });
  new Gauge({
    name: 'gridpatrol_webhook_deliveries', help: 'webhook deliveries by status (pending is the backlog)', labelNames: ['status'], registers: r,
    collect() {
      fromDb(() => {
        for (const status of ['pending', 'failed'] as const) this.set({ status }, s.alerting.webhooks?.count(status) ?? 0);
      });
    },
  });
  new Gauge({
    name: 'gridpatrol_alerts', help: 'unresolved alerts by state and severity', labelNames: ['state', 'severity'], registers: r,
    collect() {
      fromDb(() => {
        const rows = s.alerting.service.countUnresolved();
        this.reset();
        for (const row of rows) this.set({ state: row.state, severity: row.severity }, row.count);
      });
    },
  });
  new Gauge({
    name: 'gridpatrol_alert_deadlines_missed', help: 'unresolved alerts past a deadline, by deadline', labelNames: ['deadline'], registers: r,
    collect() {
      fromDb(() => {
        const m = s.alerting.service.countOverdue(s.now());
        this.set({ deadline: 'response' }, m.response);
        this.set({ deadline: 'disposal' }, m.disposal);
      });
    },
  });
}

/** The store may be down at start (InfluxDB restarting): start anyway, the writer retries. */
export async function initStore(store: TelemetryStore, live: LiveState, log: Logger): Promise<void> {
  try {
    await store.init();
    const [telemetry, readings] = await Promise.all([store.latestTelemetry(), store.latestReadings()]);
    live.apply(telemetry);
    live.apply(readings);
  } catch (err) {
    log.warn({ err, store: store.kind }, 'store not ready at start; records will wait in the spool');
  }
}
