import { NO_GRID } from '../../../core/records.js';
import type { Rule, RuleSignal } from '../../../core/rules.js';
import type { LatLon } from '../../../core/geo.js';
import type { BaseState, EntityRef, Evaluation, RuleContext } from './types.js';

export interface FireDetails {
  gridId: string;
  values: Record<string, number | string | boolean>;
  position?: LatLon;
  description: string;
  /** device time of the triggering record, or the server clock for time-based fires */
  at: number;
}

export function fire(rule: Rule, entity: EntityRef, d: FireDetails): RuleSignal {
  const values = entity.metric === undefined ? d.values : { metric: entity.metric, ...d.values };
  const s: RuleSignal = {
    type: 'fire', ruleId: rule.id, ruleKind: rule.kind, severity: rule.severity, entityKind: entity.kind, entityId: entity.id,
    gridId: d.gridId, values, description: d.description, at: d.at,
  };
  if (d.position) s.position = { lat: d.position.lat, lon: d.position.lon };
  return s;
}

export function clear(rule: Rule, entity: EntityRef, at: number): RuleSignal {
  return { type: 'clear', ruleId: rule.id, entityKind: entity.kind, entityId: entity.id, at };
}

/**
 * The usual condition pattern: while it holds, fire on every sample (the alert service counts
 * repeats under one fingerprint); when it stops holding, clear once.
 */
export function conditionStep<S extends BaseState>(
  rule: Rule, entity: EntityRef, next: Omit<S, 'firing'>, wasFiring: boolean, holds: boolean, details: () => FireDetails, at: number,
): Evaluation<S> {
  if (holds) return { state: { ...next, firing: true } as S, signal: fire(rule, entity, details()) };
  const state = { ...next, firing: false } as S;
  return wasFiring ? { state, signal: clear(rule, entity, at) } : { state };
}

/** The cell a time-based signal belongs to: where the device was last seen, else where it is assigned. */
export function cellOf(ctx: RuleContext, entity: EntityRef, position?: LatLon): string {
  if (entity.kind === 'sensor') return ctx.sensorCell(entity.id) ?? NO_GRID;
  if (position) return ctx.grids.cellAt(position.lat, position.lon);
  return ctx.assignedCell(entity.id) ?? NO_GRID;
}

/** "river-3 water_level", "drone-7 battery": how descriptions name what they are about. */
export function subject(entity: EntityRef, field?: string): string {
  const what = entity.metric ?? field;
  return what ? `${entity.id} ${what}` : entity.id;
}
