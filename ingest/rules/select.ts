import type { DeviceRecord } from './kinds/types.js';
import type { Selector } from '../../core/rules.js';
import type { DroneMode } from '../../core/telemetry.js';
import type { EntityKind, EntityRef } from './kinds/types.js';

/** What a selector is matched against; `cell` is looked up only when the selector names cells. */
export interface EntityFacts {
  kind: EntityKind;
  id: string;
  cell: () => string | undefined;
  /** a drone's mode in the record at hand; unknown for events and status */
  mode?: DroneMode;
}

/**
 * Whether the rule's `appliesTo` covers the entity. Every given key must match; `modes` is
 * checked only when the mode is known (telemetry), so an event or a status is never refused
 * for a mode it does not carry. Metrics are a question about the record: see `selectsRecord`.
 */
export function selectsEntity(sel: Selector, f: EntityFacts): boolean {
  if (sel.kind && sel.kind !== f.kind) return false;
  if (sel.devices && !sel.devices.includes(f.id)) return false;
  if (sel.modes && (f.kind !== 'drone' || (f.mode !== undefined && !sel.modes.includes(f.mode)))) return false;
  if (sel.cells) {
    const cell = f.cell();
    if (cell === undefined || !sel.cells.includes(cell)) return false;
  }
  return true;
}

/** `appliesTo.metrics` picks sensor readings; a rule naming metrics reads nothing else. */
export function selectsRecord(sel: Selector, r: DeviceRecord): boolean {
  return !sel.metrics || (r.type === 'reading' && sel.metrics.includes(r.metric));
}

export function entityOf(r: DeviceRecord, perMetric: boolean): EntityRef {
  if (r.type !== 'reading') return { kind: 'drone', id: r.droneId };
  return perMetric ? { kind: 'sensor', id: r.sensorId, metric: r.metric } : { kind: 'sensor', id: r.sensorId };
}

/** `drone/drone-7`, `sensor/river-3/water_level`: device ids and metric names never contain `/` (core/telemetry.ts). */
export function entityKey(e: EntityRef): string {
  return e.metric === undefined ? `${e.kind}/${e.id}` : `${e.kind}/${e.id}/${e.metric}`;
}

export function parseEntityKey(key: string): EntityRef {
  const [kind, id, metric] = key.split('/');
  return metric === undefined ? { kind: kind as EntityKind, id: id! } : { kind: kind as EntityKind, id: id!, metric };
}

/** The device part of a key, `sensor/river-3/`, for finding a device's other metrics. */
export function devicePrefix(e: EntityRef): string {
  return `${e.kind}/${e.id}/`;
}
