import type { AlertTransitionRecord, DetectionRecord, ReadingRecord, TelemetryRecord } from '../../core/records.js';
import type { TrackPoint } from '../telemetry-store.js';

/** SQL NULL for an absent optional value: named parameters must all be bound. */
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

export function telemetryParams(r: TelemetryRecord) {
  return {
    droneId: r.droneId, ts: r.ts, gridId: r.gridId, seq: r.seq, lat: r.lat, lon: r.lon, alt: r.alt,
    speed: r.speed, heading: r.heading, battery: r.battery, rssi: r.rssi, sats: r.sats,
    vs: orNull(r.vs), voltage: orNull(r.voltage), mode: r.mode, patrolId: orNull(r.patrolId),
  };
}

export function eventParams(r: DetectionRecord) {
  return {
    droneId: r.droneId, kind: r.kind, ts: r.ts, gridId: r.gridId, confidence: r.confidence,
    lat: orNull(r.lat), lon: orNull(r.lon), imageUrl: orNull(r.imageUrl),
  };
}

export function readingParams(r: ReadingRecord) {
  return {
    sensorId: r.sensorId, metric: r.metric, ts: r.ts, gridId: r.gridId, value: r.value,
    seq: orNull(r.seq), unit: orNull(r.unit),
  };
}

export function alertTransitionParams(r: AlertTransitionRecord) {
  return {
    gridId: r.gridId, severity: r.severity, rule: r.rule, ts: r.ts, alertId: r.alertId, entityId: r.entityId,
    state: r.state, actor: r.actor, note: orNull(r.note),
  };
}

export interface TelemetryRow {
  drone_id: string; ts: number; grid_id: string; seq: number; lat: number; lon: number; alt: number;
  speed: number; heading: number; battery: number; rssi: number; sats: number;
  vs: number | null; voltage: number | null; mode: TelemetryRecord['mode']; patrol_id: string | null;
}

export interface EventRow {
  drone_id: string; kind: DetectionRecord['kind']; ts: number; grid_id: string; confidence: number;
  lat: number | null; lon: number | null; image_url: string | null;
}

export interface ReadingRow {
  sensor_id: string; metric: string; ts: number; grid_id: string; value: number; seq: number | null; unit: string | null;
}

export type TrackRow = Pick<TelemetryRow, 'ts' | 'lat' | 'lon' | 'alt' | 'speed' | 'heading' | 'battery' | 'rssi' | 'mode' | 'grid_id'>;

export function toTelemetry(row: TelemetryRow): TelemetryRecord {
  const r: TelemetryRecord = {
    type: 'telemetry', droneId: row.drone_id, gridId: row.grid_id, ts: row.ts, seq: row.seq,
    lat: row.lat, lon: row.lon, alt: row.alt, speed: row.speed, heading: row.heading,
    battery: row.battery, mode: row.mode, rssi: row.rssi, sats: row.sats,
  };
  if (row.vs !== null) r.vs = row.vs;
  if (row.voltage !== null) r.voltage = row.voltage;
  if (row.patrol_id !== null) r.patrolId = row.patrol_id;
  return r;
}

export function toEvent(row: EventRow): DetectionRecord {
  const r: DetectionRecord = {
    type: 'event', droneId: row.drone_id, gridId: row.grid_id, ts: row.ts, kind: row.kind, confidence: row.confidence,
  };
  if (row.lat !== null) r.lat = row.lat;
  if (row.lon !== null) r.lon = row.lon;
  if (row.image_url !== null) r.imageUrl = row.image_url;
  return r;
}

export function toReading(row: ReadingRow): ReadingRecord {
  const r: ReadingRecord = {
    type: 'reading', sensorId: row.sensor_id, gridId: row.grid_id, ts: row.ts, metric: row.metric, value: row.value,
  };
  if (row.seq !== null) r.seq = row.seq;
  if (row.unit !== null) r.unit = row.unit;
  return r;
}

export function toTrackPoint(row: TrackRow): TrackPoint {
  return {
    ts: row.ts, lat: row.lat, lon: row.lon, alt: row.alt, speed: row.speed, heading: row.heading,
    battery: row.battery, rssi: row.rssi, mode: row.mode, gridId: row.grid_id,
  };
}
