import type { TelemetryRecord } from '../../../core/records.js';
import { distance, round, withUnit } from '../format.js';
import { distanceToEdgesM, insideGeometry } from '../geo.js';
import { conditionStep } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleContext, RuleOf } from './types.js';

type Rule = RuleOf<'geofence'>;

interface Verdict {
  holds: boolean;
  values: Record<string, number | string>;
  description: string;
}

/** undefined: this drone is not checked (no assigned cell, or one the grid does not know). */
function check(rule: Rule, r: TelemetryRecord, ctx: RuleContext, firing: boolean): Verdict | undefined {
  const p = { lat: r.lat, lon: r.lon };
  if (rule.check === 'altitude')
    return { holds: r.alt > rule.ceilingM - (firing ? rule.clearMarginM : 0), values: { alt: r.alt, ceilingM: rule.ceilingM }, description: `${r.droneId} altitude ${withUnit(r.alt, 'm')} is above the ${withUnit(rule.ceilingM, 'm')} ceiling` };
  if (rule.check === 'no_fly') {
    const zones = ctx.grids.noFlyAt(r.lat, r.lon);
    const names = zones.map((z) => `${z.properties.id} (${z.properties.name})`).join(', ');
    return { holds: zones.length > 0, values: { zones: zones.map((z) => z.properties.id).join(',') }, description: `${r.droneId} is inside no-fly zone ${names}` };
  }
  const assigned = ctx.assignedCell(r.droneId);
  const cell = assigned === undefined ? undefined : ctx.grids.cell(assigned);
  if (!cell) return undefined;
  const outsideM = insideGeometry(p, cell.feature.geometry) ? 0 : distanceToEdgesM(p, cell.feature.geometry);
  return {
    holds: outsideM > rule.toleranceM,
    values: { assignedCell: cell.id, currentCell: r.gridId, outsideM: round(outsideM, 0), toleranceM: rule.toleranceM },
    description: `${r.droneId} is ${distance(outsideM)} outside its assigned cell ${cell.id} (in ${r.gridId}; tolerance ${withUnit(rule.toleranceM, 'm')})`,
  };
}

/**
 * geofence: altitude above the ceiling, inside a no-fly polygon, or farther than the tolerance
 * outside the drone's assigned cell (drones without one are not checked). Fires on every
 * sample outside, clears once back.
 */
export const geofence: KindModule<Rule, BaseState> = {
  reads: (_rule, r) => r.type === 'telemetry',
  perMetric: false,
  status: false,
  ticks: false,
  skipStale: true,

  evaluate(prev, input, rule, ctx): Evaluation<BaseState> {
    if (input.type !== 'record' || input.record.type !== 'telemetry') return { state: prev };
    const r = input.record;
    const v = check(rule, r, ctx, prev?.firing ?? false);
    const next = { lastTs: r.ts, lastAt: input.at };
    // unassigned since the alert opened: nothing to be outside of any more
    const holds = v?.holds ?? false;
    if (!v && !prev) return { state: undefined };
    return conditionStep(rule, input.entity, next, prev?.firing ?? false, holds, () => ({
      gridId: r.gridId, values: v!.values, position: { lat: r.lat, lon: r.lon }, description: v!.description, at: r.ts,
    }), r.ts);
  },
};
