import type { DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../core/records.js';

/** What a store says about one batch. The spool writer, not the adapter, decides what happens next. */
export type WriteResult =
  | { status: 'accepted' }
  /** The store will never take these records (a 4xx other than 429): they become dead letters. */
  | { status: 'rejected'; reason: string }
  /** Try again later: network error, timeout, 429, 5xx. */
  | { status: 'retry'; reason: string; retryAfterMs?: number };

export interface TimeRange {
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, inclusive */
  to: number;
}

export interface TrackQuery extends TimeRange {
  /** at most this many points; a longer track is reduced in the store, keeping its shape */
  limit: number;
}

export type TrackPoint = Pick<TelemetryRecord, 'ts' | 'lat' | 'lon' | 'alt' | 'speed' | 'heading' | 'battery' | 'rssi' | 'mode' | 'gridId'>;

export interface ReadingsQuery extends TimeRange {
  /** window length in ms */
  everyMs: number;
  /** only this metric; all of the sensor's metrics when unset */
  metric?: string;
}

export interface ReadingWindow {
  /** window start, epoch ms */
  ts: number;
  metric: string;
  mean: number;
  min: number;
  max: number;
  count: number;
}

/**
 * The storage port: ingest writes through it, the api reads through it. Adapters are simple:
 * they never buffer or retry across calls (the spool writer does), and writes are idempotent:
 * writing the same record twice leaves one row/point (key: measurement, tags, device time).
 * Every adapter passes `storage/contract.ts`.
 */
export interface TelemetryStore {
  readonly kind: 'sqlite' | 'influx';
  /** Creates tables/database as needed. Called once before anything else. */
  init(): Promise<void>;
  /** Never called concurrently by the writer. */
  write(batch: readonly StoreRecord[]): Promise<WriteResult>;
  /** The newest telemetry of every drone (newest by device time). */
  latestTelemetry(): Promise<TelemetryRecord[]>;
  /** The newest reading of every sensor and metric. */
  latestReadings(): Promise<ReadingRecord[]>;
  /** A drone's positions in a time range, oldest first, at most `limit` points. */
  track(droneId: string, q: TrackQuery): Promise<TrackPoint[]>;
  /** A sensor's readings aggregated per window, oldest first; empty windows are left out. */
  readings(sensorId: string, q: ReadingsQuery): Promise<ReadingWindow[]>;
  /** A drone's detection events in a time range, newest first. */
  events(droneId: string, q: TimeRange & { limit: number }): Promise<DetectionRecord[]>;
  /** True when the store answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
