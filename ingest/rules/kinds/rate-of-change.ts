import { duration, num, round, withUnit } from '../format.js';
import { fieldSample, positionOf, readsField, type FieldSample } from './field.js';
import { conditionStep, subject } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleOf } from './types.js';

type Rule = RuleOf<'rate_of_change'>;

export interface RateState extends BaseState, Omit<FieldSample, 'value'> {
  /** [device ts, value], oldest first, spanning about 1.5 × per */
  window: Array<[number, number]>;
}

/** Bounds the window: kept samples are at least per / SPACING apart, at most MAX_SAMPLES of them. */
const SPACING = 40;
const MAX_SAMPLES = 64;

/** The sample whose age is closest to `per`, among those between per / 2 and 1.5 × per old. */
function reference(window: Array<[number, number]>, ts: number, per: number): [number, number] | undefined {
  let best: [number, number] | undefined;
  for (const s of window) {
    const age = ts - s[0];
    if (age < per / 2 || age > per * 1.5) continue;
    if (!best || Math.abs(age - per) < Math.abs(ts - best[0] - per)) best = s;
  }
  return best;
}

function push(window: Array<[number, number]>, ts: number, value: number, per: number): Array<[number, number]> {
  const w = window.filter(([t]) => t >= ts - per * 1.5);
  // the newest sample is always kept; it replaces the previous newest while that one is too close to the one before
  const before = w.at(-2);
  if (before && ts - before[0] < per / SPACING) w[w.length - 1] = [ts, value];
  else w.push([ts, value]);
  return w.length > MAX_SAMPLES ? w.slice(w.length - MAX_SAMPLES) : w;
}

/**
 * rate_of_change: compares the value now with the value about `per` ago (device time) and
 * scales the change to `per`, so irregular sampling neither hides nor invents a rise. No
 * sample between per / 2 and 1.5 × per old: no verdict, the state stays as it was.
 */
export const rateOfChange: KindModule<Rule, RateState> = {
  reads: (rule, r) => readsField(rule.field, r),
  perMetric: true,
  status: false,
  ticks: false,
  skipStale: true,

  evaluate(prev, input, rule): Evaluation<RateState> {
    if (input.type !== 'record') return { state: prev };
    const r = input.record;
    const sample = fieldSample(rule.field, r);
    if (!sample) return { state: prev };
    const { value, ...about } = sample;
    const window = push(prev?.window ?? [], r.ts, value, rule.per);
    const next = { lastTs: r.ts, lastAt: input.at, window, ...about };
    const ref = reference(window, r.ts, rule.per);
    if (!ref) return { state: { ...next, firing: prev?.firing ?? false } };
    const change = value - ref[1];
    const span = r.ts - ref[0];
    const scaled = (change * rule.per) / span;
    const holds = rule.direction === 'rising' ? scaled > rule.change : scaled < -rule.change;
    const verb = change >= 0 ? 'rose' : 'fell';
    return conditionStep(rule, input.entity, next, prev?.firing ?? false, holds, () => ({
      gridId: sample.gridId, at: r.ts, ...positionOf(sample),
      values: {
        value, change: round(change, 4), spanS: round(span / 1000, 1), perS: rule.per / 1000, changePerPeriod: round(scaled, 4), limit: rule.change,
        ...(rule.field !== 'value' ? { field: rule.field } : {}), ...(sample.unit ? { unit: sample.unit } : {}),
      },
      description: `${subject(input.entity, rule.field === 'value' ? undefined : rule.field)} ${verb} ${withUnit(Math.abs(change), sample.unit)} in ${duration(span)} (limit ${num(rule.change)} per ${duration(rule.per)})`,
    }), r.ts);
  },
};
