import type { DeviceRecord } from './types.js';
import type { RuleOf } from './types.js';
import { FIELD_UNITS } from '../format.js';

type Field = RuleOf<'threshold'>['field'];

/** One number a threshold or rate rule watches, with what a description needs about it. */
export interface FieldSample {
  value: number;
  unit?: string;
  gridId: string;
  lat?: number;
  lon?: number;
}

/** A sensor rule watches its reading's `value`; a drone rule one telemetry field. */
export function readsField(field: Field, r: DeviceRecord): boolean {
  return r.type === 'reading' ? field === 'value' : r.type === 'telemetry' && field !== 'value';
}

/** The watched number of a record; undefined when the record lacks it (`vs` and `voltage` are optional). */
export function fieldSample(field: Field, r: DeviceRecord): FieldSample | undefined {
  if (r.type === 'reading') return field === 'value' ? { value: r.value, gridId: r.gridId, ...(r.unit ? { unit: r.unit } : {}) } : undefined;
  if (r.type !== 'telemetry' || field === 'value') return undefined;
  const value = r[field];
  if (value === undefined) return undefined;
  const unit = FIELD_UNITS[field];
  return { value, gridId: r.gridId, lat: r.lat, lon: r.lon, ...(unit ? { unit } : {}) };
}

export function positionOf(s: { lat?: number; lon?: number }): { position: { lat: number; lon: number } } | Record<string, never> {
  return s.lat !== undefined && s.lon !== undefined ? { position: { lat: s.lat, lon: s.lon } } : {};
}
