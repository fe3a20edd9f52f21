import { Point } from '@influxdata/influxdb-client';
import type { AlertTransitionRecord, DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../../core/records.js';
import type { TrackPoint } from '../telemetry-store.js';
import { ALERT_TRANSITION, EVENT, READING, TELEMETRY } from './influxql.js';

/**
 * Records as InfluxDB points, exactly as CONTRACT.md "What lands in InfluxDB" names them:
 * tags are the device, its cell and its low-cardinality kind; time is the device's ts in ms.
 *
 * Each point's line is written here, straight from the record: building the client's Point
 * (objects of tags and fields, sorted and escaped again for every line) cost more than the rest
 * of a write. The line is what Point.toLineProtocol gives for the same fields (same escaping,
 * number formatting, sorted tags and fields, ms time), and the same values are refused: a float
 * that is not finite, an integer out of range.
 */
export function toPoint(r: StoreRecord): Point {
  switch (r.type) {
    case 'telemetry':
      return new LinePoint(telemetryLine(r));
    case 'event':
      return new LinePoint(eventLine(r));
    case 'reading':
      return new LinePoint(readingLine(r));
    case 'alert_transition':
      return new LinePoint(alertTransitionLine(r));
    default:
      throw new TypeError(`unknown record type: ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

/** A Point whose line protocol is already written; the WriteApi only asks it for that line. */
class LinePoint extends Point {
  constructor(private readonly line: string) {
    super();
  }

  override toLineProtocol(): string {
    return this.line;
  }
}

// Line protocol escaping, as the client's `escape`: tag keys and values (and field keys) escape
// comma, equals sign, space, tab, CR and LF; string field values escape the quote and the backslash.
const TAG_SPECIAL = /[,= \t\r\n]/;
const TAG_ESCAPES: Record<string, string> = { ',': '\\,', '=': '\\=', ' ': '\\ ', '\t': '\\t', '\r': '\\r', '\n': '\\n' };
const tag = (v: string): string => (TAG_SPECIAL.test(v) ? v.replace(/[,= \t\r\n]/g, (c) => TAG_ESCAPES[c]!) : v);
const quoted = (v: string): string => `"${/["\\]/.test(v) ? v.replace(/["\\]/g, (c) => `\\${c}`) : v}"`;

function float(name: string, v: number): string {
  if (!Number.isFinite(v)) throw new Error(`invalid float value for field '${name}': ${v}`);
  return String(v);
}

function int(name: string, v: number): string {
  if (Number.isNaN(v) || v <= -9223372036854776e3 || v >= 9223372036854776e3) throw new Error(`invalid integer value for field '${name}': '${v}'!`);
  return `${Math.floor(v)}i`;
}

/** `,key=value`, or nothing for an empty value (the client leaves those out). Callers give tags in sorted key order. */
const tagPair = (key: string, v: string): string => (v ? `,${key}=${tag(v)}` : '');

const time = (ts: number) => String(Math.floor(ts));

/** Fields in sorted order: alt, battery, heading, lat, lon, mode, patrol_id, rssi, sats, seq, speed, voltage, vs. */
function telemetryLine(r: TelemetryRecord): string {
  let f = `alt=${float('alt', r.alt)},battery=${float('battery', r.battery)},heading=${float('heading', r.heading)},lat=${float('lat', r.lat)},lon=${float('lon', r.lon)},mode=${quoted(r.mode)}`;
  if (r.patrolId !== undefined) f += `,patrol_id=${quoted(r.patrolId)}`;
  f += `,rssi=${float('rssi', r.rssi)},sats=${float('sats', r.sats)},seq=${int('seq', r.seq)},speed=${float('speed', r.speed)}`;
  if (r.voltage !== undefined) f += `,voltage=${float('voltage', r.voltage)}`;
  if (r.vs !== undefined) f += `,vs=${float('vs', r.vs)}`;
  return `${TELEMETRY}${tagPair('drone_id', r.droneId)}${tagPair('grid_id', r.gridId)} ${f} ${time(r.ts)}`;
}

function eventLine(r: DetectionRecord): string {
  let f = `confidence=${float('confidence', r.confidence)}`;
  if (r.imageUrl !== undefined) f += `,image_url=${quoted(r.imageUrl)}`;
  if (r.lat !== undefined) f += `,lat=${float('lat', r.lat)}`;
  if (r.lon !== undefined) f += `,lon=${float('lon', r.lon)}`;
  return `${EVENT}${tagPair('drone_id', r.droneId)}${tagPair('grid_id', r.gridId)}${tagPair('kind', r.kind)} ${f} ${time(r.ts)}`;
}

function readingLine(r: ReadingRecord): string {
  let f = '';
  if (r.seq !== undefined) f += `seq=${int('seq', r.seq)},`;
  if (r.unit !== undefined) f += `unit=${quoted(r.unit)},`;
  f += `value=${float('value', r.value)}`;
  return `${READING}${tagPair('grid_id', r.gridId)}${tagPair('metric', r.metric)}${tagPair('sensor_id', r.sensorId)} ${f} ${time(r.ts)}`;
}

/**
 * The point's identity is (grid_id, severity, rule, time): the alert id is a field, not a tag,
 * because a tag per alert would grow the series without bound. Distinct transitions get distinct
 * milliseconds from the alert service (core/records.ts), so none overwrites another.
 */
function alertTransitionLine(r: AlertTransitionRecord): string {
  let f = `actor=${quoted(r.actor)},alert_id=${quoted(r.alertId)},entity_id=${quoted(r.entityId)}`;
  if (r.note !== undefined) f += `,note=${quoted(r.note)}`;
  f += `,state=${quoted(r.state)}`;
  return `${ALERT_TRANSITION}${tagPair('grid_id', r.gridId)}${tagPair('rule', r.rule)}${tagPair('severity', r.severity)} ${f} ${time(r.ts)}`;
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

const TRACK_COLUMNS = ['time', 'lat', 'lon', 'alt', 'speed', 'heading', 'battery', 'rssi', 'mode', 'grid_id'] as const;

/**
 * Whether a track row has every column. InfluxDB 1.x keeps each field of a point as its own
 * series in its write cache, so a query that runs while the point is being written can see some
 * of its fields and not others (the freshness benchmark polls a point as it lands, and saw rows
 * with alt, battery, heading and speed but null lat, lon, rssi and mode). Such a row is not a point yet: the track
 * leaves it out, and the next query sees it whole.
 */
export function isWholeTrackRow(row: Row): boolean {
  return TRACK_COLUMNS.every((c) => row[c] !== null && row[c] !== undefined);
}

export function rowToTrackPoint(row: Row): TrackPoint {
  return {
    ts: num(row, 'time'), lat: num(row, 'lat'), lon: num(row, 'lon'), alt: num(row, 'alt'), speed: num(row, 'speed'),
    heading: num(row, 'heading'), battery: num(row, 'battery'), rssi: num(row, 'rssi'), mode: row.mode as TrackPoint['mode'], gridId: str(row, 'grid_id'),
  };
}
