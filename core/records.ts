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

/**
 * One alert transition (CONTRACT: measurement `alert_transition`), written by the alert service
 * so that Grafana users see the audit trail beside the telemetry. Tags grid_id, severity, rule;
 * fields alert_id, entity_id, state, actor, note; time = the transition's time.
 *
 * Identity: a store keys a point by measurement, tags and time (InfluxDB has no other key), so two
 * transitions in one series at one millisecond would overwrite each other. The alert service
 * therefore gives every transition a distinct millisecond (strictly increasing, see
 * alerts/store.ts), and a replay of the same transition writes the same point again.
 */
export interface AlertTransitionRecord {
  type: 'alert_transition';
  gridId: string;
  severity: string;
  /** the rule id */
  rule: string;
  /** transition time, epoch ms (the alert service's clock) */
  ts: number;
  alertId: string;
  entityId: string;
  /** the alert's state after the transition */
  state: string;
  /** "system" or the token name of a person */
  actor: string;
  note?: string;
}

export type StoreRecord = TelemetryRecord | DetectionRecord | ReadingRecord | AlertTransitionRecord;

/** The device a record is about; for an alert transition, the alert's entity (a drone or sensor). */
export function recordDeviceId(r: StoreRecord): string {
  switch (r.type) {
    case 'reading':
      return r.sensorId;
    case 'alert_transition':
      return r.entityId;
    default:
      return r.droneId;
  }
}
