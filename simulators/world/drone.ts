import type { DroneCommand, DroneMode, DroneTelemetry } from '../../core/telemetry.js';
import { dist, len, type LatLon, type LocalFrame, type Vec } from '../lib/geo.js';
import type { Rng } from '../lib/rng.js';
import type { Airspace } from './airspace.js';
import { Battery, type BatterySettings } from './battery.js';
import type { CameraSettings } from './camera.js';
import { flyToward, type FlightLimits, type Kinematics } from './kinematics.js';

export interface DroneSettings {
  id: string;
  cellId: string;
  /** patrol altitude above the take-off point, m */
  altitudeM: number;
  /** cruise ground speed, m/s (6–15) */
  cruiseMs: number;
  accelMs2: number;
  turnRateDegS: number;
  climbMs: number;
  descentMs: number;
  /** distance between lawnmower legs, m */
  trackSpacingM: number;
  cellMarginM: number;
  /** standard deviation of the reported position's error, m */
  gpsNoiseM: number;
  telemetryHz: number;
  /** how long it holds over a `goto` target (or where it drifted to) before resuming patrol, ms */
  holdMs: number;
  camera: CameraSettings;
  battery: BatterySettings;
  start: 'home' | 'airborne';
  /** plane coordinates of its dock; default: the allowed point nearest the cell's centroid */
  home?: Vec;
}

type Nav = 'patrol' | 'goto' | 'rth' | 'drift' | 'none';
interface Waypoint {
  p: Vec;
  /** set on the waypoints of the patrol plan */
  planIndex?: number;
}

const AIRBORNE: ReadonlySet<DroneMode> = new Set(['takeoff', 'patrol', 'goto', 'rth', 'landing', 'emergency']);
/** landed this close to home: on the dock, charging */
const DOCK_RADIUS_M = 15;
/** how often it re-checks the battery against the flight home, ms */
const RESERVE_CHECK_MS = 1000;
/** how much faster than cruise it can fly through the air (against a headwind), m/s */
const MAX_AIRSPEED_ABOVE_CRUISE_MS = 8;
/** the wind it plans with is its estimate averaged over about a minute (gusts pass) */
const WIND_AVERAGE_TIME_CONSTANT_S = 60;
/** least charge with which a command gets it off the ground, % */
const MIN_COMMANDED_TAKEOFF_PCT = 30;

/**
 * One drone as a grid worker: takes off from its dock, flies a lawnmower pattern over its cell,
 * turns home when the battery reaches what the flight home needs plus a margin, lands, charges,
 * and resumes where it left off. Obeys goto / rth / land / resume. Positions are true plane
 * coordinates; what it reports (telemetry) carries GPS error.
 */
export class DroneSim {
  mode: DroneMode = 'idle';
  readonly k: Kinematics;
  alt = 0;
  vs = 0;
  readonly battery: Battery;
  readonly home: Vec;
  readonly plan: Vec[];
  planIndex = 0;
  /** patrol round, reported as patrolId */
  round = 1;
  seq: number;
  eventSeq = 1;
  /** heading it reports: its ground track while moving, else the last one */
  yaw = 0;
  /** set true by a battery fault, a commanded rth or land: it stays on the ground until `resume` */
  stayLanded = false;
  /** why the last rth began (for tests and the summary) */
  lastRthReason: 'battery' | 'command' | null = null;
  landings: Array<{ t: number; atHome: boolean; battery: number }> = [];

  private nav: Nav = 'none';
  private queue: Waypoint[] = [];
  private holdUntil: number | null = null;
  private holdPoint: Vec;
  private afterTakeoff: { nav: 'patrol' } | { nav: 'goto'; target: Vec } = { nav: 'patrol' };
  private launchAt: number;
  private driftHoldMs: number | null = null;
  private nextReserveCheck = 0;
  private airspeed = 0;
  private windAvg: Vec = { x: 0, y: 0 };
  private detourExtraM: number | null = null;
  /** where the patrol was broken off (to go home, to a target, astray): it picks up from there */
  private breakpoint: Vec | null = null;
  private reserveChecks = 0;
  private gpsBias: Vec = { x: 0, y: 0 };
  private sats: number;
  private readonly limits: FlightLimits;

  constructor(
    readonly s: DroneSettings,
    readonly airspace: Airspace,
    private readonly frame: LocalFrame,
    private readonly rng: Rng,
    startMs: number,
    seqStart: number,
  ) {
    this.limits = { cruiseMs: s.cruiseMs, maxAirspeedMs: s.cruiseMs + MAX_AIRSPEED_ABOVE_CRUISE_MS, accelMs2: s.accelMs2, turnRateDegS: s.turnRateDegS };
    this.battery = new Battery(s.battery);
    this.home = s.home ?? airspace.defaultHome();
    this.plan = airspace.lawnmower(s.trackSpacingM);
    if (this.plan.length === 0) throw new Error(`drone ${s.id}: no room for a patrol in cell ${s.cellId} (margin ${s.cellMarginM} m, track spacing ${s.trackSpacingM} m)`);
    this.seq = seqStart;
    this.sats = rng.int(11, 17);
    this.launchAt = startMs + rng.int(2_000, 30_000);
    this.k = { pos: { ...this.home }, vel: { x: 0, y: 0 }, course: rng.range(0, 360), speedCmd: 0, windEst: { x: 0, y: 0 } };
    this.holdPoint = { ...this.home };
    if (s.start === 'airborne') {
      this.planIndex = rng.int(0, this.plan.length - 1);
      this.k.pos = { ...this.plan[this.planIndex]! };
      this.alt = s.altitudeM;
      this.mode = 'patrol';
      this.resumePatrol();
    }
  }

  get id(): string {
    return this.s.id;
  }

  get airborne(): boolean {
    return AIRBORNE.has(this.mode);
  }

  get atHome(): boolean {
    return dist(this.k.pos, this.home) <= DOCK_RADIUS_M;
  }

  /** what the drone is doing, for tests: its navigation goal */
  get navigation(): Nav {
    return this.nav;
  }

  step(t: number, dtS: number, wind: Vec): void {
    this.gpsStep(dtS);
    const a = Math.min(1, dtS / WIND_AVERAGE_TIME_CONSTANT_S);
    this.windAvg = { x: this.windAvg.x + (this.k.windEst.x - this.windAvg.x) * a, y: this.windAvg.y + (this.k.windEst.y - this.windAvg.y) * a };
    switch (this.mode) {
      case 'idle':
      case 'landed':
        this.onGround(t, dtS);
        break;
      case 'takeoff':
        this.hover(dtS, wind);
        this.vs = this.s.climbMs;
        this.alt = Math.min(this.s.altitudeM, this.alt + this.s.climbMs * dtS);
        if (this.alt >= this.s.altitudeM) this.leaveTakeoff();
        break;
      case 'landing':
      case 'emergency':
        this.hover(dtS, wind);
        this.vs = -this.s.descentMs;
        this.alt = Math.max(0, this.alt - this.s.descentMs * dtS);
        if (this.alt === 0) this.touchDown(t);
        break;
      default:
        this.vs = 0;
        this.cruise(t, dtS, wind);
    }
    if (this.airborne) {
      this.battery.fly(dtS, this.airspeed, len(wind));
      if (this.battery.pct <= 0 && this.mode !== 'emergency') this.emergencyLand();
      else if (t >= this.nextReserveCheck) {
        this.nextReserveCheck = t + RESERVE_CHECK_MS;
        this.checkReserve();
      }
    }
  }

  private onGround(t: number, dtS: number): void {
    this.k.vel = { x: 0, y: 0 };
    this.k.speedCmd = 0;
    this.vs = 0;
    this.airspeed = 0;
    if (this.atHome) this.battery.charge(dtS);
    const ready = this.battery.pct >= this.s.battery.resumePct && this.atHome;
    if (this.mode === 'idle' && t >= this.launchAt && ready) this.takeOff({ nav: 'patrol' });
    else if (this.mode === 'landed' && !this.stayLanded && ready) this.takeOff({ nav: 'patrol' });
  }

  private takeOff(then: DroneSim['afterTakeoff']): void {
    this.mode = 'takeoff';
    this.afterTakeoff = then;
    this.holdPoint = { ...this.k.pos };
  }

  private leaveTakeoff(): void {
    const then = this.afterTakeoff;
    if (then.nav === 'goto') this.goTo(then.target);
    else this.resumePatrol();
  }

  private touchDown(t: number): void {
    this.vs = 0;
    this.landings.push({ t, atHome: this.atHome, battery: this.battery.pct });
    // landed away from the dock (emergency, commanded land) it waits there for a person or a resume
    if (this.mode === 'emergency') this.stayLanded = true;
    this.mode = 'landed';
    this.nav = 'none';
    this.queue = [];
  }

  /** hold position (take-off, landing, holding over a target) */
  private hover(dtS: number, wind: Vec): void {
    this.airspeed = flyToward(this.k, this.holdPoint, null, this.limits, wind, dtS).airspeed;
  }

  private cruise(t: number, dtS: number, wind: Vec): void {
    if (this.holdUntil !== null) {
      this.hover(dtS, wind);
      if (t >= this.holdUntil) {
        this.holdUntil = null;
        this.resumePatrol();
      }
      return;
    }
    const wp = this.queue[0];
    if (!wp) return this.arrive(t, dtS, wind);
    const next = this.queue[1]?.p ?? null;
    const r = flyToward(this.k, wp.p, next, this.limits, wind, dtS);
    this.airspeed = r.airspeed;
    if (len(this.k.vel) > 0.5) this.yaw = this.k.course;
    if (r.distance < Math.max(3, this.k.speedCmd * dtS * 1.5)) {
      this.queue.shift();
      if (wp.planIndex !== undefined) {
        this.planIndex = wp.planIndex + 1;
        this.refillPatrol();
      }
      if (this.queue.length === 0) this.arrive(t, dtS, wind);
    }
  }

  /** the end of a route: what happens depends on why it flew there */
  private arrive(t: number, dtS: number, wind: Vec): void {
    switch (this.nav) {
      case 'rth':
        this.holdPoint = { ...this.home };
        this.mode = 'landing';
        break;
      case 'goto':
      case 'drift':
        this.holdPoint = { ...this.k.pos };
        this.holdUntil = t + (this.nav === 'drift' && this.driftHoldMs !== null ? this.driftHoldMs : this.s.holdMs);
        break;
      case 'patrol':
        this.refillPatrol();
        break;
      default:
        this.holdPoint = { ...this.k.pos };
        this.hover(dtS, wind);
    }
  }

  /** keeps the next two plan waypoints queued; after the last, a new round starts from the first */
  private refillPatrol(): void {
    if (this.nav !== 'patrol') return;
    if (this.planIndex >= this.plan.length) {
      this.planIndex = 0;
      this.round++;
      const last = this.queue[this.queue.length - 1]?.p ?? this.k.pos;
      const approach = this.airspace.route(last, this.plan[0]!, true);
      this.queue.push(...approach.slice(0, -1).map((p) => ({ p })));
    }
    const queuedPlan = this.queue.filter((w) => w.planIndex !== undefined).length;
    const lastPlanned = [...this.queue].reverse().find((w) => w.planIndex !== undefined)?.planIndex;
    let i = lastPlanned === undefined ? this.planIndex : lastPlanned + 1;
    for (let n = queuedPlan; n < 2 && i < this.plan.length; n++, i++) this.queue.push({ p: this.plan[i]!, planIndex: i });
  }

  /** back to the patrol where it left off, by the shortest way around the no-fly zones */
  resumePatrol(): void {
    this.mode = 'patrol';
    this.nav = 'patrol';
    this.holdUntil = null;
    if (this.planIndex >= this.plan.length) this.planIndex = 0;
    const target = this.breakpoint ?? this.plan[this.planIndex]!;
    const inside = this.airspace.allowed(this.k.pos);
    const approach = this.airspace.route(this.k.pos, target, inside);
    // to the breakpoint (which is on the way to the next plan waypoint), or just short of that waypoint
    this.queue = (this.breakpoint ? approach : approach.slice(0, -1)).map((p) => ({ p }));
    this.breakpoint = null;
    this.refillPatrol();
  }

  /** leaving the patrol pattern: remember where, if it was on it */
  private breakOff(): void {
    if (this.nav === 'patrol' && this.holdUntil === null) this.breakpoint = { ...this.k.pos };
  }

  private goTo(target: Vec): void {
    this.breakOff();
    this.mode = 'goto';
    this.nav = 'goto';
    this.holdUntil = null;
    this.queue = this.airspace.route(this.k.pos, target, false).map((p) => ({ p }));
  }

  startRth(reason: 'battery' | 'command'): void {
    this.breakOff();
    this.mode = 'rth';
    this.nav = 'rth';
    this.holdUntil = null;
    this.lastRthReason = reason;
    this.queue = this.airspace.route(this.k.pos, this.home, false).map((p) => ({ p }));
  }

  /** flies straight out of its cell, reporting patrol as if nothing were wrong (a navigation fault) */
  driftOut(beyondM: number, holdMs: number): void {
    if (!this.airborne || this.mode === 'landing' || this.mode === 'emergency') return;
    this.breakOff();
    this.mode = 'patrol';
    this.nav = 'drift';
    this.holdUntil = null;
    this.queue = [{ p: this.airspace.pointOutside(this.k.pos, beyondM) }];
    this.driftHoldMs = holdMs;
  }

  /** a failing pack: loses charge at once and/or drains faster; once down it stays down */
  batteryFault(dropPct: number, drainFactor: number): void {
    this.battery.pct = Math.max(0, this.battery.pct - dropPct);
    this.battery.drainFactor *= drainFactor;
    this.stayLanded = true;
    if (this.airborne) this.nextReserveCheck = 0;
  }

  private emergencyLand(): void {
    this.mode = 'emergency';
    this.nav = 'none';
    this.holdUntil = null;
    this.holdPoint = { ...this.k.pos };
  }

  /** the length of the way home around the no-fly zones (the detour is planned again every fifth check) */
  private distanceHome(): number {
    const straight = dist(this.k.pos, this.home);
    if (this.detourExtraM === null || this.reserveChecks++ % 5 === 0)
      this.detourExtraM = this.airspace.routeLength(this.k.pos, this.airspace.route(this.k.pos, this.home, false)) - straight;
    return straight + this.detourExtraM;
  }

  private checkReserve(): void {
    if (this.mode === 'landing' || this.mode === 'emergency' || this.mode === 'takeoff') return;
    const distance = this.distanceHome();
    const need = this.battery.costHomePct(distance, this.alt, len(this.windAvg), this.limits.maxAirspeedMs, this.s.cruiseMs, this.s.descentMs);
    if (this.battery.pct < need / 1.15) {
      // it cannot make it home: land where it is, before the battery decides for it
      this.emergencyLand();
    } else if (this.mode !== 'rth' && this.battery.pct <= need + this.s.battery.marginPct) this.startRth('battery');
  }

  /** Applies a command from the commands topic; false when the drone cannot follow it now. */
  command(cmd: DroneCommand): boolean {
    if (this.mode === 'emergency') return false;
    const onGround = this.mode === 'idle' || this.mode === 'landed';
    switch (cmd.cmd) {
      case 'goto': {
        const target = this.frame.toLocal({ lat: cmd.lat, lon: cmd.lon });
        if (!onGround) this.goTo(target);
        else if (this.battery.pct >= MIN_COMMANDED_TAKEOFF_PCT) this.takeOff({ nav: 'goto', target });
        else return false;
        return true;
      }
      case 'rth':
        if (onGround) return this.atHome;
        this.stayLanded = true;
        this.startRth('command');
        return true;
      case 'land':
        if (onGround) return true;
        this.stayLanded = true;
        this.mode = 'landing';
        this.nav = 'none';
        this.holdPoint = { ...this.k.pos };
        return true;
      case 'resume':
        this.stayLanded = false;
        if (!onGround) {
          if (this.mode === 'takeoff') this.afterTakeoff = { nav: 'patrol' };
          else this.resumePatrol();
          return true;
        }
        if (this.battery.pct < MIN_COMMANDED_TAKEOFF_PCT) return false;
        this.takeOff({ nav: 'patrol' });
        return true;
    }
  }

  private gpsStep(dtS: number): void {
    // Gauss-Markov bias (multipath, atmosphere): wanders over about a minute
    const a = Math.exp(-dtS / 60);
    const sd = this.s.gpsNoiseM * 0.7 * Math.sqrt(1 - a * a);
    this.gpsBias = { x: this.gpsBias.x * a + this.rng.normal(0, sd), y: this.gpsBias.y * a + this.rng.normal(0, sd) };
  }

  /** where the GPS says it is */
  reportedPosition(): LatLon {
    const n = this.s.gpsNoiseM * 0.7;
    return this.frame.toLatLon({ x: this.k.pos.x + this.gpsBias.x + this.rng.normal(0, n), y: this.k.pos.y + this.gpsBias.y + this.rng.normal(0, n) });
  }

  /** The telemetry object due at `ts` (consumes a seq). */
  telemetry(ts: number): DroneTelemetry {
    const { lat, lon } = this.reportedPosition();
    const altNoise = this.rng.normal(0, 0.3);
    const rssiNoise = this.rng.normal(0, 1.5);
    if (this.rng.chance(0.05)) this.sats = Math.max(8, Math.min(20, this.sats + this.rng.pick([-1, 1])));
    const speed = len(this.k.vel);
    const range = Math.max(10, dist(this.k.pos, this.home));
    const load = this.airborne ? 0.5 + 0.5 * Math.min(1, this.airspeed / this.limits.maxAirspeedMs) : 0;
    return {
      ts,
      seq: this.seq++,
      lat: round(lat, 6),
      lon: round(lon, 6),
      alt: round(this.alt > 0 ? Math.max(0, this.alt + altNoise) : 0, 1),
      speed: round(speed, 1),
      heading: round(this.yaw % 360, 1),
      battery: round(this.battery.pct, 1),
      mode: this.mode,
      rssi: Math.round(Math.max(-110, Math.min(-30, -55 - 8 * Math.log10(range / 10) + rssiNoise))),
      sats: this.sats,
      vs: round(this.vs, 1),
      voltage: round(this.battery.voltage(load), 2),
      patrolId: `${this.s.id}-r${this.round}`,
    };
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
