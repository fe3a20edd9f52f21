import type { DroneMode } from '../../../core/telemetry.js';
import { duration } from '../format.js';
import { cellOf, clear, fire } from './signals.js';
import type { BaseState, EntityRef, Evaluation, KindModule, RuleContext, RuleOf } from './types.js';

type Rule = RuleOf<'lost_link'>;

export interface LinkState extends BaseState {
  /** the drone's mode in its newest telemetry */
  mode?: DroneMode;
  lat?: number;
  lon?: number;
}

/** A drone we know nothing of counts as airborne: a last will from it may be a crash. Sensors are always on duty. */
function onDuty(rule: Rule, entity: EntityRef, s: LinkState | undefined): boolean {
  return entity.kind === 'sensor' || s?.mode === undefined || rule.airborneModes.includes(s.mode);
}

function lost(rule: Rule, entity: EntityRef, s: LinkState, ctx: RuleContext, at: number, why: string): Evaluation<LinkState> {
  const position = s.lat !== undefined && s.lon !== undefined ? { lat: s.lat, lon: s.lon } : undefined;
  const values: Record<string, number | string> = { cause: why === 'will' ? 'last_will' : 'no_telemetry', silentForS: Math.round((at - s.lastAt) / 1000) };
  if (s.mode) values.mode = s.mode;
  const where = s.mode ? ` while in ${s.mode}` : '';
  const description = why === 'will'
    ? `${entity.id} lost its connection (MQTT last will)${where}`
    : `${entity.id} sent no telemetry for ${duration(at - Math.max(s.lastAt, ctx.startedAt))}${where}`;
  const state = { ...s, firing: true };
  return { state, signal: fire(rule, entity, { gridId: cellOf(ctx, entity, position), values, description, at, ...(position ? { position } : {}) }) };
}

/**
 * lost_link: an airborne drone (last mode in airborneModes) heard nothing from for `after`
 * (server clock, from a tick), or a device's last will (at once, when onLastWill). Any record
 * or an `online` status clears it. A late record still proves the link, so this kind sees
 * records older than the newest too; only newer ones update the mode. Fires once per loss.
 */
export const lostLink: KindModule<Rule, LinkState> = {
  reads: (_rule, r) => r.type === 'telemetry' || r.type === 'event' || r.type === 'reading',
  perMetric: false,
  status: true,
  ticks: true,
  skipStale: false,

  evaluate(prev, input, rule, ctx): Evaluation<LinkState> {
    const e = input.entity;
    if (input.type === 'tick') {
      if (!prev || prev.firing || e.kind !== 'drone' || !prev.mode || !rule.airborneModes.includes(prev.mode)) return { state: prev };
      if (input.now - Math.max(prev.lastAt, ctx.startedAt) < rule.after) return { state: prev };
      return lost(rule, e, prev, ctx, input.now, 'silence');
    }
    if (input.type === 'status') {
      if (input.online) {
        const state: LinkState = { lastTs: prev?.lastTs ?? 0, ...prev, lastAt: input.at, firing: false };
        return prev?.firing ? { state, signal: clear(rule, e, input.at) } : { state };
      }
      if (!input.isWill || !rule.onLastWill || prev?.firing || !onDuty(rule, e, prev)) return { state: prev };
      return lost(rule, e, prev ?? { lastTs: 0, lastAt: input.at, firing: false }, ctx, input.at, 'will');
    }
    const r = input.record;
    const newer = !prev || r.ts >= prev.lastTs;
    const state: LinkState = newer
      ? { ...prev, lastTs: r.ts, lastAt: input.at, firing: false, ...(r.type === 'telemetry' ? { mode: r.mode, lat: r.lat, lon: r.lon } : {}) }
      : { ...prev, lastAt: input.at, firing: false };
    return prev?.firing ? { state, signal: clear(rule, e, r.ts) } : { state };
  },
};
