import { add, bearingDeg, dist, fromBearing, len, scale, sub, turnDeg, type Vec } from '../lib/geo.js';

/** The horizontal state of a multirotor: where it is, how it moves over the ground, what it steers. */
export interface Kinematics {
  pos: Vec;
  /** ground velocity, m/s */
  vel: Vec;
  /** the ground track it steers, degrees */
  course: number;
  /** the ground speed it asks for, m/s */
  speedCmd: number;
  /** its estimate of the wind (lags the real one: that lag is the drift) */
  windEst: Vec;
}

export interface FlightLimits {
  cruiseMs: number;
  maxAirspeedMs: number;
  accelMs2: number;
  turnRateDegS: number;
}

/** seconds the wind estimate takes to follow the real wind */
const WIND_ESTIMATE_TIME_CONSTANT_S = 3;
/** heading error above which the drone slows right down to turn nearly on the spot */
const SHARP_TURN_DEG = 60;
const SHARP_TURN_SPEED_MS = 2;

/** how fast it may pass a waypoint: full speed when the path goes on nearly straight, slow for a corner, 0 at the end */
function cornerSpeed(pos: Vec, target: Vec, next: Vec | null, cruiseMs: number): number {
  if (!next) return 0;
  const turn = Math.abs(turnDeg(bearingDeg(sub(target, pos)), bearingDeg(sub(next, target))));
  return turn < 20 ? cruiseMs : turn < 100 ? 4 : 2;
}

/**
 * One step of flight toward `target`: the course turns at most `turnRateDegS`, the speed changes
 * at most `accelMs2` and falls so the drone can make the corner (or stop) at the target; the air
 * velocity is what, with the estimated wind, would give that ground velocity (capped at
 * `maxAirspeedMs`); the real wind then moves it. Returns the distance left and the airspeed flown.
 */
export function flyToward(k: Kinematics, target: Vec, next: Vec | null, limits: FlightLimits, wind: Vec, dtS: number): { distance: number; airspeed: number } {
  const d = dist(k.pos, target);
  const desired = d > 0.01 ? bearingDeg(sub(target, k.pos)) : k.course;
  const vCorner = cornerSpeed(k.pos, target, next, limits.cruiseMs);
  let speed = Math.min(limits.cruiseMs, Math.sqrt(vCorner * vCorner + 2 * limits.accelMs2 * Math.max(0, d - 1)));
  const error = turnDeg(k.course, desired);
  if (Math.abs(error) > SHARP_TURN_DEG) speed = Math.min(speed, SHARP_TURN_SPEED_MS);
  const maxTurn = limits.turnRateDegS * dtS;
  k.course = (k.course + Math.max(-maxTurn, Math.min(maxTurn, error)) + 360) % 360;
  const maxDv = limits.accelMs2 * dtS;
  k.speedCmd = Math.max(0, k.speedCmd + Math.max(-maxDv, Math.min(maxDv, speed - k.speedCmd)));
  // never overshoot the target within one step
  const commanded = Math.min(k.speedCmd, d / dtS);
  const vCmd = scale(fromBearing(k.course), commanded);
  let vAir = sub(vCmd, k.windEst);
  const air = len(vAir);
  if (air > limits.maxAirspeedMs) vAir = scale(vAir, limits.maxAirspeedMs / air);
  k.vel = add(vAir, wind);
  k.pos = add(k.pos, scale(k.vel, dtS));
  const a = Math.min(1, dtS / WIND_ESTIMATE_TIME_CONSTANT_S);
  k.windEst = add(k.windEst, scale(sub(wind, k.windEst), a));
  return { distance: dist(k.pos, target), airspeed: len(vAir) };
}
