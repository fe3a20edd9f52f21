import { Point } from '@influxdata/influxdb-client';
import type { AlertTransitionRecord, DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../../core/records.js';
import type { TrackPoint } from '../telemetry-store.js';
import { ALERT_TRANSITION, EVENT, READING, TELEMETRY } from './influxql.js';

/**
 * Records as InfluxDB points, exactly as CONTRACT.md "What lands in InfluxDB" names them:
 * tags are the device, its cell and its low-cardinality kind; time is the device's ts in ms.
 */
export function toPoint(r: StoreRecord): Point {
  switch (r.type) {
    case 'telemetry':
      return telemetryPoint(r);
    case 'event':
      return eventPoint(r);
    case 'reading':
      return readingPoint(r);
    case 'alert_transition':
      return alertTransitionPoint(r);
    default:
      throw new TypeError(`unknown record type: ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

function optionalFloat(p: Point, name: string, v: number | undefined): void {
  if (v !== undefined) p.floatField(name, v);
}

function optionalString(p: Point, name: string, v: string | undefined): void {
  if (v !== undefined) p.stringField(name, v);
}

function telemetryPoint(r: TelemetryRecord): Point {
  const p = new Point(TELEMETRY).tag('drone_id', r.droneId).tag('grid_id', r.gridId).timestamp(r.ts);
  for (const f of ['lat', 'lon', 'alt', 'speed', 'heading', 'battery', 'rssi', 'sats'] as const) p.floatField(f, r[f]);
  optionalFloat(p, 'vs', r.vs);
  optionalFloat(p, 'voltage', r.voltage);
  p.intField('seq', r.seq).stringField('mode', r.mode);
  optionalString(p, 'patrol_id', r.patrolId);
  return p;
}

function eventPoint(r: DetectionRecord): Point {
  const p = new Point(EVENT).tag('drone_id', r.droneId).tag('grid_id', r.gridId).tag('kind', r.kind).timestamp(r.ts);
  p.floatField('confidence', r.confidence);
  optionalFloat(p, 'lat', r.lat);
  optionalFloat(p, 'lon', r.lon);
  optionalString(p, 'image_url', r.imageUrl);
  return p;
}

function readingPoint(r: ReadingRecord): Point {
  const p = new Point(READING).tag('sensor_id', r.sensorId).tag('grid_id', r.gridId).tag('metric', r.metric).timestamp(r.ts);
  p.floatField('value', r.value);
  if (r.seq !== undefined) p.intField('seq', r.seq);
  optionalString(p, 'unit', r.unit);
  return p;
}

/**
 * The point's identity is (grid_id, severity, rule, time): the alert id is a field, not a tag,
 * because a tag per alert would grow the series without bound. Distinct transitions get distinct
 * milliseconds from the alert service (core/records.ts), so none overwrites another.
 */
function alertTransitionPoint(r: AlertTransitionRecord): Point {
  const p = new Point(ALERT_TRANSITION).tag('grid_id', r.gridId).tag('severity', r.severity).tag('rule', r.rule).timestamp(r.ts);
  p.stringField('alert_id', r.alertId).stringField('entity_id', r.entityId).stringField('state', r.state).stringField('actor', r.actor);
  optionalString(p, 'note', r.note);
  return p;
}

/** One InfluxQL result row with its series tags merged in; absent fields are null. */
export type Row = Record<string, unknown>;

const num = (row: Row, k: string): number => row[k] as number;
const str = (row: Row, k: string): string => row[k] as string;

function setIfPresent<T extends object>(target: T, key: keyof T, v: unknown): void {
  if (v !== null && v !== undefined) (target as Record<keyof T, unknown>)[key] = v;
}

export function rowToTelemetry(row: Row): TelemetryRecord {
  const r: TelemetryRecord = {
    type: 'telemetry', droneId: str(row, 'drone_id'), gridId: str(row, 'grid_id'), ts: num(row, 'time'),
    seq: num(row, 'seq'), lat: num(row, 'lat'), lon: num(row, 'lon'), alt: num(row, 'alt'),
    speed: num(row, 'speed'), heading: num(row, 'heading'), battery: num(row, 'battery'),
    mode: row.mode as TelemetryRecord['mode'], rssi: num(row, 'rssi'), sats: num(row, 'sats'),
  };
  setIfPresent(r, 'vs', row.vs);
  setIfPresent(r, 'voltage', row.voltage);
  setIfPresent(r, 'patrolId', row.patrol_id);
  return r;
}

export function rowToEvent(row: Row): DetectionRecord {
  const r: DetectionRecord = {
    type: 'event', droneId: str(row, 'drone_id'), gridId: str(row, 'grid_id'), ts: num(row, 'time'),
    kind: row.kind as DetectionRecord['kind'], confidence: num(row, 'confidence'),
  };
  setIfPresent(r, 'lat', row.lat);
  setIfPresent(r, 'lon', row.lon);
  setIfPresent(r, 'imageUrl', row.image_url);
  return r;
}

export function rowToReading(row: Row): ReadingRecord {
  const r: ReadingRecord = {
    type: 'reading', sensorId: str(row, 'sensor_id'), gridId: str(row, 'grid_id'), ts: num(row, 'time'),
    metric: str(row, 'metric'), value: num(row, 'value'),
  };
  setIfPresent(r, 'seq', row.seq);
  setIfPresent(r, 'unit', row.unit);
  return r;
}

export function rowToTrackPoint(row: Row): TrackPoint {
  return {
    ts: num(row, 'time'), lat: num(row, 'lat'), lon: num(row, 'lon'), alt: num(row, 'alt'), speed: num(row, 'speed'),
    heading: num(row, 'heading'), battery: num(row, 'battery'), rssi: num(row, 'rssi'), mode: row.mode as TrackPoint['mode'], gridId: str(row, 'grid_id'),
  };
}
