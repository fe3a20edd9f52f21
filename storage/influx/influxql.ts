import type { ReadingsQuery, TimeRange, TrackQuery } from '../telemetry-store.js';

/**
 * InfluxQL text for the store's reads. Every value that comes from outside (device ids, metric
 * names) goes through `literal`; every name through `ident`. Numbers are checked to be integers.
 * The same text runs on InfluxDB 1.x, 2.x (v1 compatibility API) and 3.x.
 */

function escapeQuoted(s: string, quote: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\\' || ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n'; // a raw newline ends a literal in the InfluxQL scanner
    else out += ch;
  }
  return out;
}

/** A single-quoted InfluxQL string literal. */
export function literal(s: string): string {
  return `'${escapeQuoted(s, "'")}'`;
}

/** A double-quoted InfluxQL identifier. */
export function ident(s: string): string {
  return `"${escapeQuoted(s, '"')}"`;
}

/** An integer for the query text; anything else (NaN, fractions, 1e21) is a caller bug. */
export function int(n: number, what: string): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} must be an integer, got ${n}`);
  return String(n);
}

function timeRange(q: TimeRange): string {
  return `time >= ${int(q.from, 'from')}ms AND time <= ${int(q.to, 'to')}ms`;
}

export const TELEMETRY = 'drone_telemetry';
export const EVENT = 'drone_event';
export const READING = 'sensor_reading';
export const ALERT_TRANSITION = 'alert_transition';

const TRACK_FIELDS = ['lon', 'alt', 'speed', 'heading', 'battery', 'rssi', 'mode', 'grid_id'].map(ident).join(', ');

/** Newest point per device; whole rows, tags included (`SELECT *` returns the ungrouped tags). */
export function latestTelemetryQuery(): string {
  return `SELECT * FROM ${ident(TELEMETRY)} GROUP BY ${ident('drone_id')} ORDER BY time DESC LIMIT 1`;
}

export function latestReadingsQuery(): string {
  return `SELECT * FROM ${ident(READING)} GROUP BY ${ident('sensor_id')}, ${ident('metric')} ORDER BY time DESC LIMIT 1`;
}

function trackWhere(droneId: string, q: TimeRange): string {
  return `FROM ${ident(TELEMETRY)} WHERE ${ident('drone_id')} = ${literal(droneId)} AND ${timeRange(q)}`;
}

/** Up to `limit` raw points, oldest first: a track within its budget is returned as stored. */
export function trackRawQuery(droneId: string, q: TrackQuery, limit: number): string {
  return `SELECT ${ident('lat')}, ${TRACK_FIELDS} ${trackWhere(droneId, q)} ORDER BY time ASC LIMIT ${int(limit, 'limit')}`;
}

/**
 * The track cut into at most `limit` buckets starting at `from`: one selector (LAST) with the
 * other fields and grid_id as its companions, so every point is one real stored point; its time
 * is the bucket start (InfluxQL reports selectors under GROUP BY time() that way).
 */
export function trackBucketedQuery(droneId: string, q: TrackQuery, limit: number): string {
  const bucketMs = Math.ceil((q.to - q.from + 1) / limit);
  const offsetMs = q.from % bucketMs;
  return `SELECT LAST(${ident('lat')}) AS ${ident('lat')}, ${TRACK_FIELDS} ${trackWhere(droneId, q)}` +
    ` GROUP BY time(${int(bucketMs, 'bucket')}ms, ${int(offsetMs, 'offset')}ms) fill(none)`;
}

/** Windows aligned to the epoch (no offset): start = floor(ts / every) * every. */
export function readingsQuery(sensorId: string, q: ReadingsQuery): string {
  const v = ident('value');
  const metric = q.metric === undefined ? '' : ` AND ${ident('metric')} = ${literal(q.metric)}`;
  return `SELECT MEAN(${v}) AS ${ident('mean')}, MIN(${v}) AS ${ident('min')}, MAX(${v}) AS ${ident('max')}, COUNT(${v}) AS ${ident('count')}` +
    ` FROM ${ident(READING)} WHERE ${ident('sensor_id')} = ${literal(sensorId)}${metric} AND ${timeRange(q)}` +
    ` GROUP BY time(${int(q.everyMs, 'everyMs')}ms), ${ident('metric')} fill(none)`;
}

export function eventsQuery(droneId: string, q: TimeRange & { limit: number }): string {
  return `SELECT * FROM ${ident(EVENT)} WHERE ${ident('drone_id')} = ${literal(droneId)} AND ${timeRange(q)}` +
    ` ORDER BY time DESC LIMIT ${int(q.limit, 'limit')}`;
}

export function createDatabaseStatement(database: string): string {
  return `CREATE DATABASE ${ident(database)}`;
}
