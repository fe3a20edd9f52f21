import { duration, round } from '../format.js';
import { cellOf, clear, fire } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleOf } from './types.js';

type Rule = RuleOf<'sensor_silent'>;

export interface SilentState extends BaseState {
  /** usual time between readings (device clock), ms; EWMA */
  intervalMs?: number;
  /** gaps learned so far */
  gaps: number;
}

/** weight of the newest gap: the interval adapts within ~10 readings when a sensor is reconfigured */
const ALPHA = 0.2;
/** a gap longer than this many intervals teaches at most this much, so one outage does not excuse the next */
const MAX_GAP_FACTOR = 4;
/** gaps to learn before the sensor can be called silent */
const MIN_GAPS = 2;

/**
 * sensor_silent: learns each sensor's usual interval from the gaps between its readings; no
 * reading for max(factor × interval, minSilence) (server clock, from a tick) fires once; the
 * next reading clears. A gap that ended a silence teaches nothing. A late (older) reading
 * still proves the sensor is alive but teaches nothing either.
 */
export const sensorSilent: KindModule<Rule, SilentState> = {
  reads: (_rule, r) => r.type === 'reading',
  perMetric: false,
  status: false,
  ticks: true,
  skipStale: false,

  evaluate(prev, input, rule, ctx): Evaluation<SilentState> {
    const e = input.entity;
    if (input.type === 'tick') {
      if (!prev || prev.firing || prev.intervalMs === undefined || prev.gaps < MIN_GAPS) return { state: prev };
      const limit = Math.max(rule.factor * prev.intervalMs, rule.minSilence);
      const silentMs = input.now - Math.max(prev.lastAt, ctx.startedAt);
      if (silentMs < limit) return { state: prev };
      return {
        state: { ...prev, firing: true },
        signal: fire(rule, e, {
          gridId: cellOf(ctx, e), at: input.now,
          values: { silentForS: round(silentMs / 1000, 0), usualIntervalS: round(prev.intervalMs / 1000, 1), factor: rule.factor, limitS: round(limit / 1000, 0) },
          description: `${e.id} sent no reading for ${duration(silentMs)} (usually every ${duration(prev.intervalMs)})`,
        }),
      };
    }
    if (input.type !== 'record') return { state: prev };
    const r = input.record;
    let { intervalMs, gaps } = prev ?? { gaps: 0 };
    const gap = prev ? r.ts - prev.lastTs : 0;
    if (prev && gap > 0 && !prev.firing) {
      const taught = intervalMs === undefined ? gap : Math.min(gap, intervalMs * MAX_GAP_FACTOR);
      intervalMs = intervalMs === undefined ? taught : intervalMs * (1 - ALPHA) + taught * ALPHA;
      gaps++;
    }
    const state: SilentState = { lastTs: Math.max(r.ts, prev?.lastTs ?? r.ts), lastAt: input.at, firing: false, gaps, ...(intervalMs !== undefined ? { intervalMs } : {}) };
    return prev?.firing ? { state, signal: clear(rule, e, r.ts) } : { state };
  },
};
