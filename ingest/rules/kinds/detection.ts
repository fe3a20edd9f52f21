import { num } from '../format.js';
import { fire } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleOf } from './types.js';

type Rule = RuleOf<'detection'>;

/**
 * detection: an onboard detection of one of the rule's kinds at or above minConfidence fires,
 * at the event's position (its cell from enrich, or the drone's last cell). Stateless, and it
 * never clears: whether the fire is out is for a person (or the alert lifecycle) to say.
 */
export const detection: KindModule<Rule, BaseState> = {
  reads: (rule, r) => r.type === 'event' && rule.kinds.includes(r.kind),
  perMetric: false,
  status: false,
  ticks: false,
  skipStale: false,

  evaluate(_prev, input, rule): Evaluation<BaseState> {
    if (input.type !== 'record' || input.record.type !== 'event') return { state: undefined };
    const r = input.record;
    if (!rule.kinds.includes(r.kind) || r.confidence < rule.minConfidence) return { state: undefined };
    const values: Record<string, number | string> = { kind: r.kind, confidence: r.confidence, minConfidence: rule.minConfidence };
    if (r.imageUrl) values.imageUrl = r.imageUrl;
    const position = r.lat !== undefined && r.lon !== undefined ? { lat: r.lat, lon: r.lon } : undefined;
    const where = position ? ` at ${position.lat.toFixed(5)}, ${position.lon.toFixed(5)}` : '';
    return {
      state: undefined,
      signal: fire(rule, input.entity, {
        gridId: r.gridId, values, at: r.ts, ...(position ? { position } : {}),
        description: `${r.droneId} detected ${r.kind} (confidence ${num(r.confidence)})${where}`,
      }),
    };
  },
};
