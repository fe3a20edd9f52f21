import type { DetectionKind, DroneMode } from './telemetry.js';

/** The cell id stored when a position falls outside every grid cell (CONTRACT: What lands in InfluxDB). */
export const NO_GRID = 'none';

/**
 * Records after normalize and enrich: what the spool holds and what a TelemetryStore writes.
 * Times are epoch milliseconds of the device clock.
 */
export interface TelemetryRecord {
  type: 'telemetry';
  droneId: string;
  gridId: string;
  ts: number;
  seq: number;
  lat: number;
  lon: number;
  alt: number;
  speed: number;
  heading: number;
  battery: number;
  mode: DroneMode;
  rssi: number;
  sats: number;
  vs?: number;
  voltage?: number;
  patrolId?: string;
}

export interface DetectionRecord {
  type: 'event';
  droneId: string;
  gridId: string;
  ts: number;
  kind: DetectionKind;
  confidence: number;
  lat?: number;
  lon?: number;
  imageUrl?: string;
}

export interface ReadingRecord {
  type: 'reading';
  sensorId: string;
  gridId: string;
  ts: number;
  seq?: number;
  metric: string;
  value: number;
  unit?: string;
}

export type StoreRecord = TelemetryRecord | DetectionRecord | ReadingRecord;

export function recordDeviceId(r: StoreRecord): string {
  return r.type === 'reading' ? r.sensorId : r.droneId;
}
