import { distance, duration, num, round } from '../format.js';
import { distanceM } from '../../../core/geo.js';
import { conditionStep } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleOf } from './types.js';

type Rule = RuleOf<'implausible_motion'>;

export interface MotionState extends BaseState {
  lat: number;
  lon: number;
}

/**
 * implausible_motion: the speed implied by two consecutive positions (haversine over the device
 * time between them). Steps shorter than minJumpM are GPS noise, however short the time. The
 * newer position always becomes the reference, so a jump that stays clears on the next step.
 */
export const implausibleMotion: KindModule<Rule, MotionState> = {
  reads: (_rule, r) => r.type === 'telemetry',
  perMetric: false,
  status: false,
  ticks: false,
  skipStale: true,

  evaluate(prev, input, rule): Evaluation<MotionState> {
    if (input.type !== 'record' || input.record.type !== 'telemetry') return { state: prev };
    const r = input.record;
    const next = { lastTs: r.ts, lastAt: input.at, lat: r.lat, lon: r.lon };
    if (!prev) return { state: { ...next, firing: false } };
    const dtMs = r.ts - prev.lastTs;
    // the same device time twice says nothing about speed
    if (dtMs <= 0) return { state: prev };
    const d = distanceM(prev, r);
    const speed = d / (dtMs / 1000);
    const holds = d >= rule.minJumpM && speed > rule.maxSpeedMs;
    return conditionStep(rule, input.entity, next, prev.firing, holds, () => ({
      gridId: r.gridId, position: { lat: r.lat, lon: r.lon }, at: r.ts,
      values: {
        speedMs: round(speed, 1), maxSpeedMs: rule.maxSpeedMs, distanceM: round(d, 0), dtMs,
        fromLat: prev.lat, fromLon: prev.lon, toLat: r.lat, toLon: r.lon,
      },
      description: `${r.droneId} moved ${distance(d)} in ${duration(dtMs)} (${num(speed)} m/s; at most ${num(rule.maxSpeedMs)} m/s is plausible): a GPS jump?`,
    }), r.ts);
  },
};
