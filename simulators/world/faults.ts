import { z } from 'zod';
import type { DroneTelemetry, SensorReading } from '../../core/telemetry.js';
import type { Rng } from '../lib/rng.js';

/** Every kind of bad input the simulators can send on demand. */
export const FaultKind = z.enum([
  'malformed_json', 'schema_violation', 'out_of_range', 'duplicate', 'out_of_order', 'late', 'clock_skew', 'oversize',
  'reconnect_storm', 'wrong_credentials', 'foreign_topic',
]);
export type FaultKind = z.infer<typeof FaultKind>;

/**
 * What GridPatrol does with each kind (README: Guarantees; Devices and MQTT), so that a run's
 * summary says what to look for and a test can compare: a dead letter with its stage and code
 * (GET /api/v1/dead-letters, gridpatrol_records_refused_total), a refusal in
 * gridpatrol_mqtt_refused_total{action,reason}, a drop in gridpatrol_duplicates_total, or stored.
 */
export type Outcome =
  | { kind: 'dead_letter'; stage: 'decode' | 'validate' | 'normalize'; code: string }
  | { kind: 'refused'; action: 'connect' | 'publish'; reason: string }
  | { kind: 'duplicate' }
  | { kind: 'stored' }
  | { kind: 'accepted' };

export const FAULT_OUTCOMES: Record<FaultKind, Outcome> = {
  malformed_json: { kind: 'dead_letter', stage: 'decode', code: 'not_json' },
  schema_violation: { kind: 'dead_letter', stage: 'validate', code: 'schema' },
  out_of_range: { kind: 'dead_letter', stage: 'validate', code: 'schema' },
  duplicate: { kind: 'duplicate' },
  out_of_order: { kind: 'stored' },
  late: { kind: 'dead_letter', stage: 'normalize', code: 'ts_too_old' },
  clock_skew: { kind: 'dead_letter', stage: 'normalize', code: 'ts_future' },
  oversize: { kind: 'dead_letter', stage: 'decode', code: 'too_large' },
  reconnect_storm: { kind: 'accepted' },
  wrong_credentials: { kind: 'refused', action: 'connect', reason: 'bad_password' },
  foreign_topic: { kind: 'refused', action: 'publish', reason: 'foreign_device' },
};

export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'dead_letter':
      return `dead letter ${o.stage}/${o.code}`;
    case 'refused':
      return `refused ${o.action} (${o.reason})`;
    case 'duplicate':
      return 'dropped as duplicate';
    case 'stored':
      return 'stored (a late seq is kept, it is no duplicate)';
    case 'accepted':
      return 'connections accepted, nothing stored';
  }
}

/** Kinds that need a drone (a sensor reading has no range to leave). */
export const DRONE_ONLY: ReadonlySet<FaultKind> = new Set(['out_of_range']);

/** What GridPatrol is assumed to accept (its settings); the faults are made to fall outside. */
export interface ServerLimits {
  maxPayloadBytes: number;
  maxFutureMs: number;
  maxAgeMs: number;
}

export interface FaultTuning {
  /** oversize payloads are at least this large, bytes (default: maxPayloadBytes + 1 KiB) */
  bytes?: number;
  /** clock_skew: how far ahead, ms (default: maxFutureMs + 6 h) */
  skewMs?: number;
  /** late: how old, ms (default: maxAgeMs + 1 day) */
  ageMs?: number;
  /** reconnect_storm: connections per storm (default 10) */
  connections?: number;
}

type Payload = DroneTelemetry | SensorReading;

/** A payload that is not JSON: a valid one cut short (an object cut before its last brace never parses). */
export function malformed(valid: string, rng: Rng): string {
  return valid.slice(0, Math.max(1, Math.floor(valid.length * rng.range(0.3, 0.9))));
}

/** A payload that parses but breaks the contract's schema: a wrong type, a missing field, an unknown mode. */
export function schemaViolation(p: Payload, rng: Rng): Record<string, unknown> {
  const variant = rng.int(0, 2);
  if ('metric' in p) {
    if (variant === 0) return { ...p, value: 'high' };
    if (variant === 1) return { ...p, metric: 'Water Level' };
    const { ts: _ts, ...rest } = p;
    return rest;
  }
  if (variant === 0) return { ...p, battery: 'full' };
  if (variant === 1) return { ...p, mode: 'hover' };
  const { ts: _ts, ...rest } = p;
  return rest;
}

/** Telemetry with a number outside its allowed range. */
export function outOfRange(p: DroneTelemetry, rng: Rng): DroneTelemetry {
  const variant = rng.int(0, 3);
  if (variant === 0) return { ...p, lat: 123.4 };
  if (variant === 1) return { ...p, battery: 140 };
  if (variant === 2) return { ...p, heading: 400 };
  return { ...p, speed: 250 };
}

/** A payload padded past the payload limit (but under the packet limit: the broker reads it). */
export function oversize(p: Payload, bytes: number): string {
  const body = JSON.stringify(p);
  return JSON.stringify({ ...p, note: 'x'.repeat(Math.max(0, bytes - body.length)) });
}
