import type { DroneMode } from '../../../core/telemetry.js';
import { distance, num, round } from '../format.js';
import { distanceM } from '../../../core/geo.js';
import { conditionStep } from './signals.js';
import type { BaseState, Evaluation, KindModule, RuleOf } from './types.js';

type Rule = RuleOf<'battery_reserve'>;

export interface ReserveState extends BaseState {
  mode: DroneMode;
  homeLat: number;
  homeLon: number;
  /** true: home is a take-off point; false: only the first position seen */
  homeIsTakeoff: boolean;
  /** m/s, exponentially weighted over airborne samples other than take-off and landing */
  speedMs?: number;
}

const GROUNDED: readonly DroneMode[] = ['idle', 'landed'];
/** climbing and descending say nothing about the speed of a flight home */
const VERTICAL: readonly DroneMode[] = ['takeoff', 'landing'];
/** weight of the newest sample in the recent speed: about the last 5 samples count */
const SPEED_ALPHA = 0.3;

/**
 * battery_reserve: needed % = minutes to fly home (distance / max(recent speed, minSpeedMs)) ×
 * drainPctPerMin + marginPct. Home is where the drone's latest take-off began (the first sample
 * of a `takeoff` phase), or the first position seen if it never took off in our sight. Fires
 * while airborne with the battery below that; clears when it is not, or on the ground.
 */
export const batteryReserve: KindModule<Rule, ReserveState> = {
  reads: (_rule, r) => r.type === 'telemetry',
  perMetric: false,
  status: false,
  ticks: false,
  skipStale: true,

  evaluate(prev, input, rule): Evaluation<ReserveState> {
    if (input.type !== 'record' || input.record.type !== 'telemetry') return { state: prev };
    const r = input.record;
    const takeoffStarts = r.mode === 'takeoff' && prev?.mode !== 'takeoff';
    const home = takeoffStarts || !prev
      ? { homeLat: r.lat, homeLon: r.lon, homeIsTakeoff: r.mode === 'takeoff' }
      : { homeLat: prev.homeLat, homeLon: prev.homeLon, homeIsTakeoff: prev.homeIsTakeoff };
    const airborne = !GROUNDED.includes(r.mode);
    const learns = airborne && !VERTICAL.includes(r.mode);
    const speedMs = !learns ? prev?.speedMs : prev?.speedMs === undefined ? r.speed : prev.speedMs * (1 - SPEED_ALPHA) + r.speed * SPEED_ALPHA;
    const next: Omit<ReserveState, 'firing'> = { lastTs: r.ts, lastAt: input.at, mode: r.mode, ...home, ...(speedMs !== undefined ? { speedMs } : {}) };

    const homeM = distanceM({ lat: r.lat, lon: r.lon }, { lat: home.homeLat, lon: home.homeLon });
    const useSpeed = Math.max(speedMs ?? 0, rule.minSpeedMs);
    const neededPct = (homeM / useSpeed / 60) * rule.drainPctPerMin + rule.marginPct;
    const holds = airborne && r.battery < neededPct;
    return conditionStep(rule, input.entity, next, prev?.firing ?? false, holds, () => ({
      gridId: r.gridId, position: { lat: r.lat, lon: r.lon }, at: r.ts,
      values: {
        batteryPct: r.battery, neededPct: round(neededPct, 1), distanceHomeM: round(homeM, 0), speedMs: round(useSpeed, 1),
        marginPct: rule.marginPct, homeLat: home.homeLat, homeLon: home.homeLon, homeIsTakeoff: home.homeIsTakeoff,
      },
      description: `${r.droneId} battery ${num(r.battery)} % is below the ${num(neededPct)} % needed to fly ${distance(homeM)} home at ${num(useSpeed)} m/s (with a ${num(rule.marginPct)} % margin)`,
    }), r.ts);
  },
};
