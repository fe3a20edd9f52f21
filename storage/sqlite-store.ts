import type Database from 'better-sqlite3';
import type { DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../core/records.js';
import * as sql from './sqlite/schema.js';
import { openSqlite } from './sqlite-file.js';
import { WriteGuard } from './write-guard.js';
import {
  alertTransitionParams, eventParams, readingParams, telemetryParams, toEvent, toReading, toTelemetry, toTrackPoint,
  type EventRow, type ReadingRow, type TelemetryRow, type TrackRow,
} from './sqlite/rows.js';
import type {
  ReadingWindow, ReadingsQuery, TelemetryStore, TimeRange, TrackPoint, TrackQuery, WriteResult,
} from './telemetry-store.js';

type Statement = Database.Statement;

interface Statements {
  insertTelemetry: Statement; insertEvent: Statement; insertReading: Statement; insertAlertTransition: Statement;
  latestTelemetry: Statement; latestReadings: Statement;
  trackRaw: Statement; trackLastIn: Statement;
  readingsAll: Statement; readingsOne: Statement; events: Statement;
}

/** Errors that the same batch will hit again however often it is retried. */
const POISON_CODES = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/;

export function classifySqliteError(err: unknown): WriteResult {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof TypeError || err instanceof RangeError || (typeof code === 'string' && POISON_CODES.test(code))) {
    return { status: 'rejected', reason: message };
  }
  // SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR ...: the disk or another connection, not the records
  return { status: 'retry', reason: typeof code === 'string' ? `${code}: ${message}` : message };
}

/**
 * The embedded TelemetryStore: one SQLite file in WAL mode (the api's reads never block the
 * writer). Synchronous underneath; the async port keeps both adapters interchangeable.
 */
export class SqliteStore implements TelemetryStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | undefined;
  private stmts: Statements | undefined;
  private writeBatch: ((batch: readonly StoreRecord[]) => void) | undefined;

  /** @param path a file path, or ':memory:' */
  constructor(
    readonly path: string,
    readonly writeGuard: WriteGuard = new WriteGuard(path),
  ) {}

  async init(): Promise<void> {
    if (this.db) return;
    const db = openSqlite(this.path, this.writeGuard);
    db.exec(sql.SCHEMA);
    this.db = db;
    this.stmts = prepare(db);
    const s = this.stmts;
    const tx = db.transaction((batch: readonly StoreRecord[]) => {
      for (const r of batch) insert(s, r);
    });
    this.writeBatch = (batch) => tx.immediate(batch);
  }

  /** the connection, once init() has run (for the checkpointer) */
  get connection(): Database.Database | undefined {
    return this.db;
  }

  async write(batch: readonly StoreRecord[]): Promise<WriteResult> {
    if (batch.length === 0) return { status: 'accepted' };
    try {
      this.ready().writeBatch(batch);
      return { status: 'accepted' };
    } catch (err) {
      return classifySqliteError(err);
    }
  }

  async latestTelemetry(): Promise<TelemetryRecord[]> {
    return (this.ready().stmts.latestTelemetry.all() as TelemetryRow[]).map(toTelemetry);
  }

  async latestReadings(): Promise<ReadingRecord[]> {
    return (this.ready().stmts.latestReadings.all() as ReadingRow[]).map(toReading);
  }

  async track(droneId: string, q: TrackQuery): Promise<TrackPoint[]> {
    const { stmts } = this.ready();
    const limit = Math.max(1, Math.floor(q.limit));
    const params = { droneId, from: q.from, to: q.to };
    // Under the budget every point is returned as stored; only a longer track is bucketed.
    const raw = stmts.trackRaw.all({ ...params, limit: limit + 1 }) as TrackRow[];
    if (raw.length <= limit) return raw.map(toTrackPoint);
    // bucket b: the times t with floor((t - from) * limit / span) = b, i.e. from + b * span / limit <= t < from + (b + 1) * span / limit
    const span = q.to - q.from + 1;
    const points: TrackPoint[] = [];
    for (let b = 0; b < limit; b++) {
      const lo = q.from + (b * span) / limit;
      const hi = b === limit - 1 ? q.to + 1 : q.from + ((b + 1) * span) / limit;
      const row = stmts.trackLastIn.get({ droneId, lo, hi }) as TrackRow | undefined;
      if (row) points.push(toTrackPoint(row));
    }
    return points;
  }

  async readings(sensorId: string, q: ReadingsQuery): Promise<ReadingWindow[]> {
    const { stmts } = this.ready();
    const everyMs = Math.max(1, Math.floor(q.everyMs));
    const params = { sensorId, from: q.from, to: q.to, everyMs };
    const rows = (q.metric === undefined
      ? stmts.readingsAll.all(params)
      : stmts.readingsOne.all({ ...params, metric: q.metric })) as (Omit<ReadingWindow, 'ts'> & { window_start: number })[];
    return rows.map(({ window_start, metric, mean, min, max, count }) => ({ ts: window_start, metric, mean, min, max, count }));
  }

  async events(droneId: string, q: TimeRange & { limit: number }): Promise<DetectionRecord[]> {
    const rows = this.ready().stmts.events.all({ droneId, from: q.from, to: q.to, limit: Math.max(0, Math.floor(q.limit)) });
    return (rows as EventRow[]).map(toEvent);
  }

  async ping(): Promise<boolean> {
    try {
      return this.db?.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
    this.writeBatch = undefined;
  }

  private ready(): { stmts: Statements; writeBatch: (batch: readonly StoreRecord[]) => void } {
    if (!this.stmts || !this.writeBatch) throw new Error('SqliteStore used before init() or after close()');
    return { stmts: this.stmts, writeBatch: this.writeBatch };
  }
}

function prepare(db: Database.Database): Statements {
  return {
    insertTelemetry: db.prepare(sql.INSERT_TELEMETRY),
    insertEvent: db.prepare(sql.INSERT_EVENT),
    insertReading: db.prepare(sql.INSERT_READING),
    insertAlertTransition: db.prepare(sql.INSERT_ALERT_TRANSITION),
    latestTelemetry: db.prepare(sql.LATEST_TELEMETRY),
    latestReadings: db.prepare(sql.LATEST_READINGS),
    trackRaw: db.prepare(sql.TRACK_RAW),
    trackLastIn: db.prepare(sql.TRACK_LAST_IN),
    readingsAll: db.prepare(sql.READINGS_ALL),
    readingsOne: db.prepare(sql.READINGS_ONE),
    events: db.prepare(sql.EVENTS),
  };
}

function insert(s: Statements, r: StoreRecord): void {
  switch (r.type) {
    case 'telemetry':
      s.insertTelemetry.run(telemetryParams(r));
      return;
    case 'event':
      s.insertEvent.run(eventParams(r));
      return;
    case 'reading':
      s.insertReading.run(readingParams(r));
      return;
    case 'alert_transition':
      s.insertAlertTransition.run(alertTransitionParams(r));
      return;
    default:
      throw new TypeError(`unknown record type: ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}
