import { InfluxDB, setLogger, type Point } from '@influxdata/influxdb-client';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Config } from '../core/config.js';
import type { DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../core/records.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import {
  authorization, chooseWriteApi, execute, majorVersion, ping, queryRows, type QueryConnection, type WriteApiKind,
} from './influx/http.js';
import {
  createDatabaseStatement, eventsQuery, latestReadingsQuery, latestTelemetryQuery, readingsQuery, trackBucketedQuery, trackRawQuery,
} from './influx/influxql.js';
import { rowToEvent, rowToReading, rowToTelemetry, isWholeTrackRow, rowToTrackPoint, toPoint } from './influx/points.js';
import { writeBatch, type WriteTarget, type WriteTuning } from './influx/write.js';
import type {
  ReadingWindow, ReadingsQuery, TelemetryStore, TimeRange, TrackPoint, TrackQuery, WriteResult,
} from './telemetry-store.js';

export type InfluxStoreConfig = Omit<Extract<Config['store'], { type: 'influx' }>, 'type'>;

export interface InfluxStoreOptions {
  log?: Logger;
  /** per HTTP request, reads and writes alike */
  requestTimeoutMs?: number;
  write?: Partial<WriteTuning>;
}

/** Short retries: the spool writer backs off on top of these. */
const DEFAULT_WRITE: WriteTuning = { maxRetries: 2, minRetryDelayMs: 250, maxRetryDelayMs: 2000, maxBatchLines: 5000 };
const DEFAULT_TIMEOUT_MS = 10_000;

interface Connected {
  version: string | undefined;
  api: WriteApiKind;
  conn: QueryConnection;
  target: WriteTarget;
}

/**
 * The InfluxDB TelemetryStore: line protocol through the official client (batching, gzip,
 * retries), InfluxQL over `/query` for reads. One code path for 1.x, 2.x and 3.x; only the write
 * endpoint differs (see `chooseWriteApi`).
 */
export class InfluxStore implements TelemetryStore {
  readonly kind = 'influx' as const;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly tuning: WriteTuning;
  private readonly log: Logger;
  private readonly agent: Agent;
  private connecting: Promise<Connected> | undefined;

  constructor(private readonly config: InfluxStoreConfig, options: InfluxStoreOptions = {}) {
    this.url = config.url.replace(/\/+$/, '');
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.tuning = { ...DEFAULT_WRITE, ...options.write };
    this.log = (options.log ?? silentLogger()).child({ component: 'influx-store' });
    this.agent = this.url.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
    routeClientLogs(this.log);
  }

  /** Detects the write API and creates the database on 1.x. Throws when the server is not reachable. */
  async init(): Promise<void> {
    await this.connect();
  }

  async write(batch: readonly StoreRecord[]): Promise<WriteResult> {
    if (batch.length === 0) return { status: 'accepted' };
    let points: Point[];
    try {
      points = batch.map(toPoint);
    } catch (err) {
      return { status: 'rejected', reason: `not representable as a point: ${(err as Error).message}` };
    }
    let server: Connected;
    try {
      server = await this.connect();
    } catch (err) {
      return { status: 'retry', reason: `InfluxDB not ready: ${(err as Error).message}` };
    }
    return writeBatch(server.target, points, this.tuning);
  }

  async latestTelemetry(): Promise<TelemetryRecord[]> {
    return (await this.query(latestTelemetryQuery())).map(rowToTelemetry);
  }

  async latestReadings(): Promise<ReadingRecord[]> {
    return (await this.query(latestReadingsQuery())).map(rowToReading);
  }

  async track(droneId: string, q: TrackQuery): Promise<TrackPoint[]> {
    const limit = Math.max(1, Math.floor(q.limit));
    // Under the budget every point is returned as stored; only a longer track is bucketed.
    const raw = await this.query(trackRawQuery(droneId, q, limit + 1));
    const rows = raw.length <= limit ? raw : await this.query(trackBucketedQuery(droneId, q, limit));
    return rows.filter(isWholeTrackRow).map(rowToTrackPoint);
  }

  async readings(sensorId: string, q: ReadingsQuery): Promise<ReadingWindow[]> {
    const rows = await this.query(readingsQuery(sensorId, { ...q, everyMs: Math.max(1, Math.floor(q.everyMs)) }));
    return rows
      .map((r) => ({
        ts: r.time as number, metric: r.metric as string, mean: r.mean as number,
        min: r.min as number, max: r.max as number, count: r.count as number,
      }))
      .sort((a, b) => a.ts - b.ts || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
  }

  async events(droneId: string, q: TimeRange & { limit: number }): Promise<DetectionRecord[]> {
    const limit = Math.floor(q.limit);
    if (limit <= 0) return []; // InfluxQL reads LIMIT 0 as no limit
    return (await this.query(eventsQuery(droneId, { ...q, limit }))).map(rowToEvent);
  }

  async ping(): Promise<boolean> {
    try {
      const auth = this.connecting ? (await this.connecting).conn.authorization : undefined;
      return (await ping(this.url, this.timeoutMs, auth)).ok;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async query(q: string) {
    return queryRows((await this.connect()).conn, q);
  }

  /** Connects once; after a failure the next call tries again. */
  private connect(): Promise<Connected> {
    this.connecting ??= this.probe().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async probe(): Promise<Connected> {
    const { version } = await ping(this.url, this.timeoutMs);
    const api = this.config.api === 'auto' ? chooseWriteApi(version) : this.config.api;
    if (api === 'v2' && majorVersion(version) === 2 && !this.config.org) {
      throw new Error(`InfluxDB ${version} writes need an organisation: set GRIDPATROL_INFLUX_ORG`);
    }
    const auth = authorization(api, this.config.token);
    const conn: QueryConnection = { url: this.url, database: this.config.database, authorization: auth, timeoutMs: this.timeoutMs };
    // 1.x needs the database made; 2.x buckets are made by their owners, 3.x makes one on first write
    if (majorVersion(version) === 1 || (version === undefined && api === 'v1')) {
      await execute(conn, createDatabaseStatement(this.config.database));
    }
    const client = new InfluxDB({
      url: this.url,
      timeout: this.timeoutMs,
      headers: auth ? { authorization: auth } : {},
      transportOptions: { agent: this.agent },
    });
    this.log.info({ url: this.url, version, api }, 'InfluxDB store connected');
    return { version, api, conn, target: { client, api, org: this.config.org ?? '', database: this.config.database } };
  }
}

/**
 * The client logs every failed attempt through one process-wide hook. Outcomes are the spool
 * writer's to report, so here they are debug lines.
 */
function routeClientLogs(log: Logger): void {
  setLogger({
    error: (message, err) => log.debug({ err }, message),
    warn: (message, err) => log.debug({ err }, message),
  });
}
