import { duration, round, withUnit } from '../format.js';
import { conditionStep } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleOf } from './types.js';

type Rule = RuleOf<'stuck_value'>;

export interface StuckState extends BaseState {
  value: number;
  /** device time of the first of the identical readings */
  since: number;
  samples: number;
}

/**
 * stuck_value: the same reading (exactly: a live sensor's noise changes the last digit) for
 * `for` and at least minSamples readings fires, and again on each identical reading; the first
 * different value clears.
 */
export const stuckValue: KindModule<Rule, StuckState> = {
  reads: (_rule, r) => r.type === 'reading',
  perMetric: true,
  status: false,
  ticks: false,
  skipStale: true,

  evaluate(prev, input, rule): Evaluation<StuckState> {
    if (input.type !== 'record' || input.record.type !== 'reading') return { state: prev };
    const r = input.record;
    const same = prev !== undefined && prev.value === r.value;
    const since = same ? prev.since : r.ts;
    const samples = same ? prev.samples + 1 : 1;
    const next = { lastTs: r.ts, lastAt: input.at, value: r.value, since, samples };
    const heldMs = r.ts - since;
    const holds = heldMs >= rule.for && samples >= rule.minSamples;
    return conditionStep(rule, input.entity, next, prev?.firing ?? false, holds, () => ({
      gridId: r.gridId, at: r.ts,
      values: { value: r.value, sameForS: round(heldMs / 1000, 0), samples, ...(r.unit ? { unit: r.unit } : {}) },
      description: `${r.sensorId} ${r.metric} has read ${withUnit(r.value, r.unit)} for ${duration(heldMs)} (${samples} identical readings)`,
    }), r.ts);
  },
};
