import { duration, round, withUnit } from '../format.js';
import { fieldSample, positionOf, readsField } from './field.js';
import { clear, fire, subject } from './signals.js';
import type { BaseState, EntityRef, Evaluation, KindModule, RuleContext, RuleOf } from './types.js';

type Rule = RuleOf<'threshold'>;

export interface ThresholdState extends BaseState {
  /** device time since which the opening condition has held (only while not firing) */
  since?: number;
  /** samples seen since `since` */
  samples: number;
  value: number;
  unit?: string;
  gridId: string;
  lat?: number;
  lon?: number;
}

const opens = (rule: Rule, v: number) => (rule.op === 'above' ? v > rule.value : v < rule.value);
/** Hysteresis: an open condition ends only at or past `clear` (default: the value itself). */
const clears = (rule: Rule, v: number) => {
  const level = rule.clear ?? rule.value;
  return rule.op === 'above' ? v <= level : v >= level;
};

function fireFrom(rule: Rule, entity: EntityRef, s: ThresholdState, at: number, heldMs: number) {
  const unit = s.unit;
  const name = subject(entity, rule.field === 'value' ? undefined : rule.field);
  const past = opens(rule, s.value)
    ? `is ${rule.op} the ${withUnit(rule.value, unit)} threshold`
    : `is still ${rule.op} ${withUnit(rule.clear ?? rule.value, unit)}, where it clears (threshold ${withUnit(rule.value, unit)})`;
  const held = rule.for > 0 && heldMs > 0 ? ` for ${duration(heldMs)}` : '';
  const values: Record<string, number | string> = { value: s.value, threshold: rule.value };
  if (rule.clear !== undefined) values.clear = rule.clear;
  if (rule.field !== 'value') values.field = rule.field;
  if (unit) values.unit = unit;
  if (heldMs > 0) values.heldForS = round(heldMs / 1000, 1);
  return fire(rule, entity, {
    gridId: s.gridId, values, at, description: `${name} ${withUnit(s.value, unit)} ${past}${held}`,
    ...positionOf(s),
  });
}

/**
 * threshold: opens once the condition has held continuously for `for` (device time) and over at
 * least `minSamples` samples; fires again on every sample while open; clears once past `clear`.
 * A tick opens a pending condition whose `for` has run out without a new sample, taking the
 * last value as still true (the device's clock is advanced by the server time since then).
 */
export const threshold: KindModule<Rule, ThresholdState> = {
  reads: (rule, r) => readsField(rule.field, r),
  perMetric: true,
  status: false,
  ticks: true,
  skipStale: true,

  evaluate(prev, input, rule, _ctx: RuleContext): Evaluation<ThresholdState> {
    if (input.type === 'tick') {
      if (!prev || prev.firing || prev.since === undefined || prev.samples < rule.minSamples) return { state: prev };
      const deviceNow = prev.lastTs + (input.now - prev.lastAt);
      if (deviceNow - prev.since < rule.for) return { state: prev };
      const state: ThresholdState = { ...prev, firing: true, since: undefined };
      return { state, signal: fireFrom(rule, input.entity, state, input.now, deviceNow - prev.since) };
    }
    if (input.type !== 'record') return { state: prev };
    const r = input.record;
    const sample = fieldSample(rule.field, r);
    if (!sample) return { state: prev };
    const base: ThresholdState = { lastTs: r.ts, lastAt: input.at, firing: false, samples: 0, ...sample };
    if (prev?.firing) {
      if (clears(rule, sample.value)) return { state: base, signal: clear(rule, input.entity, r.ts) };
      const state = { ...base, firing: true };
      return { state, signal: fireFrom(rule, input.entity, state, r.ts, 0) };
    }
    if (!opens(rule, sample.value)) return { state: base };
    const since = prev?.since ?? r.ts;
    const samples = (prev?.since === undefined ? 0 : prev.samples) + 1;
    if (r.ts - since >= rule.for && samples >= rule.minSamples) {
      const state: ThresholdState = { ...base, firing: true };
      return { state, signal: fireFrom(rule, input.entity, state, r.ts, r.ts - since) };
    }
    return { state: { ...base, since, samples } };
  },
};
