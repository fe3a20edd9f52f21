import type { GridIndex } from '../../core/grids.js';
import type { DroneCommand, DroneTelemetry, SensorReading } from '../../core/telemetry.js';
import { topics } from '../../core/topics.js';
import { add, bbox, fromBearing, len, LocalFrame, scale, type LatLon, type Vec } from '../lib/geo.js';
import { Rng } from '../lib/rng.js';
import { Airspace } from './airspace.js';
import { detectionConfidence, footprint } from './camera.js';
import { DroneSim, round } from './drone.js';
import { FaultInjector, type DeviceSlot } from './fault-injector.js';
import { INCIDENT_DEFAULTS, Incident } from './incidents.js';
import { METRICS, SensorSim } from './sensor.js';
import type { Emission, IncidentAction, Where, WorldAction, WorldSpec } from './types.js';
import { Wind } from './wind.js';

export interface WorldOptions {
  spec: WorldSpec;
  grids: GridIndex;
  /** epoch ms at which simulated time starts */
  startMs: number;
  /** physics step, ms (default 100) */
  stepMs?: number;
  /** first seq of a device (default 1): a re-run of known devices continues their streams */
  seqStart?: (deviceId: string) => number;
}

/** how often a drone's detector looks, and how often it reports the same incident again, ms */
const DETECT_EVERY_MS = 2000;
const REPORT_AGAIN_MS = 10_000;
/** a lost link's backlog goes up in batches of at most this many objects */
const BACKLOG_BATCH = 100;

interface DroneSlot extends DeviceSlot {
  kind: 'drone';
  sim: DroneSim;
  baseHz: number;
  burstHz: number | null;
  burstUntil: number;
  nextTelemetryAt: number;
  lastTs: number;
  linkUpAt: number | null;
  backlog: DroneTelemetry[] | null;
  nextDetectAt: number;
  lastReported: Map<string, number>;
  camRng: Rng;
}

interface SensorSlot extends DeviceSlot {
  kind: 'sensor';
  sim: SensorSim;
  nextAt: number;
}

/**
 * The simulated county: drones, sensors, incidents and wind, stepped by a simulated clock. Pure:
 * no timers, no I/O; `step()` returns what the devices publish during that step. Stepping it as
 * fast as it goes flies hours of patrol in milliseconds; the runner paces it to the wall clock.
 */
export class World {
  readonly frame: LocalFrame;
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  now: number;
  readonly drones = new Map<string, DroneSlot>();
  readonly sensors = new Map<string, SensorSlot>();
  readonly incidents: Incident[] = [];
  readonly wind: Wind;
  readonly stats = { commands: { accepted: 0, refused: 0 } };
  readonly faults: FaultInjector;
  private readonly timeline: WorldAction[];
  private nextAction = 0;
  private readonly commands: Array<{ drone: string; command: DroneCommand }> = [];
  private readonly incidentRng: Rng;

  constructor(readonly o: WorldOptions) {
    const { spec, grids } = o;
    this.startMs = o.startMs;
    this.now = o.startMs;
    this.endMs = o.startMs + spec.durationMs;
    this.stepMs = o.stepMs ?? 100;
    this.frame = countyFrame(grids);
    const noFly = grids.noFly.map((f) => this.frame.ring(f));
    this.wind = new Wind(spec.wind, Rng.forEntity(spec.seed, 'wind'));
    this.incidentRng = Rng.forEntity(spec.seed, 'incidents');
    this.timeline = [...spec.timeline].sort((a, b) => a.atMs - b.atMs);
    const seqStart = o.seqStart ?? (() => 1);

    // drones of one cell with one margin share an airspace (and its plans)
    const airspaces = new Map<string, Airspace>();
    for (const d of spec.drones) {
      const cell = grids.cell(d.cellId);
      if (!cell) throw new Error(`drone ${d.id}: no grid cell "${d.cellId}"`);
      const key = `${d.cellId}/${d.cellMarginM}`;
      const airspace = airspaces.get(key) ?? new Airspace(this.frame.ring(cell.feature), noFly, d.cellMarginM);
      airspaces.set(key, airspace);
      const rng = Rng.forEntity(spec.seed, `drone/${d.id}`);
      const sim = new DroneSim({ ...d, home: d.home ? this.frame.toLocal(d.home) : undefined }, airspace, this.frame, rng, this.startMs, seqStart(d.id));
      this.drones.set(d.id, {
        kind: 'drone', id: d.id, qos: d.qos, link: 'up', lastValid: null, holdNext: false, held: null, sim,
        baseHz: d.telemetryHz, burstHz: null, burstUntil: 0,
        nextTelemetryAt: this.startMs + rng.range(0, 1000 / d.telemetryHz), lastTs: 0,
        linkUpAt: null, backlog: null, nextDetectAt: this.startMs + rng.int(0, DETECT_EVERY_MS), lastReported: new Map(),
        camRng: Rng.forEntity(spec.seed, `camera/${d.id}`),
      });
    }
    const positions = sensorPositions(spec, grids);
    for (const s of spec.sensors) {
      const rng = Rng.forEntity(spec.seed, `sensor/${s.id}`);
      const position = this.frame.toLocal(positions.get(s.id)!);
      const sim = new SensorSim({ id: s.id, metric: s.metric, position, intervalMs: s.intervalMs }, rng, seqStart(s.id));
      this.sensors.set(s.id, { kind: 'sensor', id: s.id, qos: s.qos, link: 'up', lastValid: null, holdNext: false, held: null, sim, nextAt: this.startMs + rng.range(0, s.intervalMs) });
    }
    this.faults = new FaultInjector({
      spec, startMs: this.startMs, endMs: this.endMs, rng: Rng.forEntity(spec.seed, 'faults'),
      devices: () => [...this.drones.values(), ...this.sensors.values()],
      payloadOf: (slot, t) => (slot.kind === 'drone' ? this.drones.get(slot.id)!.sim.telemetry(this.tsFor(this.drones.get(slot.id)!, t)) : this.sensorPayload(slot.id, t)),
    });
  }

  get done(): boolean {
    return this.now >= this.endMs;
  }

  /** simulated ms since the start */
  get elapsedMs(): number {
    return this.now - this.startMs;
  }

  /** The retained `online` status of every device: what each publishes on connecting. */
  start(): Emission[] {
    const out: Emission[] = [];
    for (const slot of [...this.drones.values(), ...this.sensors.values()]) out.push(this.status(slot.kind, slot.id, 'online', this.now));
    return out;
  }

  /** A drone command from its commands topic (already checked against DroneCommand), applied at the next step. */
  command(drone: string, command: DroneCommand): boolean {
    if (!this.drones.has(drone)) return false;
    this.commands.push({ drone, command });
    return true;
  }

  /** Advances one step; returns what was published during it. */
  step(): Emission[] {
    const t = this.now + this.stepMs;
    const dtS = this.stepMs / 1000;
    const out: Emission[] = [];
    while (this.nextAction < this.timeline.length && this.startMs + this.timeline[this.nextAction]!.atMs <= t) this.apply(this.timeline[this.nextAction++]!, t, out);
    for (const slot of this.drones.values())
      if (slot.link === 'down' && slot.linkUpAt !== null && slot.linkUpAt <= t) this.linkUp(slot, t, out);
    for (const c of this.commands.splice(0)) {
      if (this.drones.get(c.drone)!.sim.command(c.command)) this.stats.commands.accepted++;
      else this.stats.commands.refused++;
    }
    this.wind.step(dtS);
    const wind = this.wind.velocity;
    for (const slot of this.drones.values()) {
      slot.sim.step(t, dtS, wind);
      this.droneTelemetry(slot, t, out);
      if (t >= slot.nextDetectAt) {
        slot.nextDetectAt += DETECT_EVERY_MS;
        this.detect(slot, t, out);
      }
    }
    for (const slot of this.sensors.values()) {
      slot.sim.step(t, dtS, this.incidents);
      while (slot.nextAt <= t) {
        const due = Math.round(slot.nextAt);
        slot.nextAt += slot.sim.s.intervalMs;
        const r = slot.sim.read(due, this.incidents, wind);
        if (r) this.faults.valid(slot, this.publish(slot, 'readings', JSON.stringify(r), 1, true), t, out);
      }
    }
    this.faults.scheduled(t, out);
    this.now = t;
    return out;
  }

  /** The end of a run: out-of-order messages still held go out, then every connected device says it goes offline. */
  finish(): Emission[] {
    const out: Emission[] = [];
    for (const slot of [...this.drones.values(), ...this.sensors.values()]) {
      if (slot.held) out.push(slot.held);
      slot.held = null;
      if (slot.link === 'up') out.push(this.status(slot.kind, slot.id, 'offline', this.now, 'simulation ended'));
    }
    return out;
  }

  private status(kind: 'drone' | 'sensor', id: string, state: 'online' | 'offline', t: number, reason?: string): Emission {
    const payload = JSON.stringify({ state, ts: t, ...(reason && { reason }) });
    return { type: 'publish', t, device: id, kind, channel: 'status', topic: topics.device(kind, id, 'status'), payload, qos: 1, retain: true, items: 1, valid: true };
  }

  private publish(slot: DroneSlot | SensorSlot, channel: 'telemetry' | 'events' | 'readings', payload: string, items: number, valid: boolean): Extract<Emission, { type: 'publish' }> {
    const qos = channel === 'events' ? 1 : slot.qos;
    return { type: 'publish', t: this.now + this.stepMs, device: slot.id, kind: slot.kind, channel, topic: topics.device(slot.kind, slot.id, channel), payload, qos, retain: false, items, valid };
  }

  /** device times of one drone's telemetry: whole ms, strictly increasing (stores key a point by device and time) */
  private tsFor(slot: DroneSlot, t: number): number {
    slot.lastTs = Math.max(Math.round(t), slot.lastTs + 1);
    return slot.lastTs;
  }

  private sensorPayload(id: string, t: number): SensorReading {
    const s = this.sensors.get(id)!.sim;
    return { ts: Math.round(t), seq: s.seq++, metric: s.s.metric, value: round(s.baseline, 3), unit: METRICS[s.s.metric].unit };
  }

  private droneTelemetry(slot: DroneSlot, t: number, out: Emission[]): void {
    if (slot.burstHz !== null && t >= slot.burstUntil) slot.burstHz = null;
    while (slot.nextTelemetryAt <= t) {
      const hz = slot.burstHz ?? slot.baseHz;
      const due = slot.nextTelemetryAt;
      slot.nextTelemetryAt += 1000 / hz;
      const tel = slot.sim.telemetry(this.tsFor(slot, due));
      if (slot.link === 'down') {
        if (slot.backlog) slot.backlog.push(tel);
        continue;
      }
      this.faults.valid(slot, this.publish(slot, 'telemetry', JSON.stringify(tel), 1, true), t, out);
    }
  }

  /** what the camera sees now: one event per visible incident, at most every REPORT_AGAIN_MS each */
  private detect(slot: DroneSlot, t: number, out: Emission[]): void {
    const d = slot.sim;
    const fp = footprint(d.k.pos, d.alt, d.yaw, d.s.camera);
    let k = 0;
    for (const inc of this.incidents) {
      if (!inc.visibleAt(t)) continue;
      const noise = slot.camRng.normal(0, 0.02);
      const conf = detectionConfidence(fp, inc.spec.position, inc.spec.sizeM, d.alt, inc.spec.kind, noise);
      if (conf === null) continue;
      const last = slot.lastReported.get(inc.id);
      if (last !== undefined && t - last < REPORT_AGAIN_MS) continue;
      slot.lastReported.set(inc.id, t);
      // the detector places the incident from the drone's GPS fix and the pixel it is in
      const err = 3 + d.s.gpsNoiseM;
      const where = this.frame.toLatLon(add(inc.spec.position, { x: slot.camRng.normal(0, err), y: slot.camRng.normal(0, err) }));
      if (slot.link === 'down') continue;
      const ts = Math.round(t) + k++;
      const event = { ts, seq: d.eventSeq++, kind: inc.spec.kind, confidence: conf, lat: round(where.lat, 6), lon: round(where.lon, 6), imageUrl: `https://snapshots.gridpatrol.example/${d.id}/${ts}.jpg` };
      out.push(this.publish(slot, 'events', JSON.stringify(event), 1, true));
    }
  }

  private linkUp(slot: DroneSlot, t: number, out: Emission[]): void {
    slot.link = 'up';
    slot.linkUpAt = null;
    out.push({ type: 'link_up', t, device: slot.id, kind: 'drone' }, this.status('drone', slot.id, 'online', t));
    const backlog = slot.backlog ?? [];
    slot.backlog = null;
    for (let i = 0; i < backlog.length; i += BACKLOG_BATCH) {
      const batch = backlog.slice(i, i + BACKLOG_BATCH);
      out.push(this.publish(slot, 'telemetry', JSON.stringify(batch), batch.length, true));
    }
  }

  private apply(a: WorldAction, t: number, out: Emission[]): void {
    switch (a.type) {
      case 'incident':
        this.incidents.push(new Incident(this.incidentSpec(a.incident, t)));
        break;
      case 'end_incident':
        for (const inc of this.incidents) if (inc.id === a.id && (inc.spec.endMs === null || inc.spec.endMs > t)) inc.spec.endMs = t;
        break;
      case 'lost_link': {
        const slot = this.drones.get(a.drone)!;
        if (slot.link === 'down') break;
        if (slot.held) out.push(slot.held);
        slot.held = null;
        slot.link = 'down';
        slot.linkUpAt = a.durationMs === null ? null : t + a.durationMs;
        slot.backlog = a.buffer ? [] : null;
        out.push({ type: 'link_down', t, device: slot.id, kind: 'drone' });
        break;
      }
      case 'drift_out':
        this.drones.get(a.drone)!.sim.driftOut(a.distanceM, a.holdMs);
        break;
      case 'battery_fault':
        this.drones.get(a.drone)!.sim.batteryFault(a.dropPct, a.drainFactor);
        break;
      case 'sensor_silent':
        this.sensors.get(a.sensor)!.sim.silentUntil = a.durationMs === null ? Infinity : t + a.durationMs;
        break;
      case 'sensor_stuck':
        this.sensors.get(a.sensor)!.sim.stuckUntil = a.durationMs === null ? Infinity : t + a.durationMs;
        break;
      case 'burst':
        for (const id of a.drones) {
          const slot = this.drones.get(id)!;
          slot.burstHz = a.telemetryHz;
          slot.burstUntil = t + a.durationMs;
          slot.nextTelemetryAt = Math.min(slot.nextTelemetryAt, t + 1000 / a.telemetryHz);
        }
        break;
      case 'command':
        this.command(a.drone, a.command);
        break;
      case 'inject':
        for (const [kind, n] of Object.entries(a.faults)) for (let i = 0; i < (n ?? 0); i++) this.faults.inject(kind as keyof typeof a.faults, t, out);
        break;
    }
  }

  private incidentSpec(i: IncidentAction, t: number) {
    const d = INCIDENT_DEFAULTS[i.kind];
    return {
      id: i.id, kind: i.kind, position: this.place(i.where), startMs: t, endMs: i.durationMs === null ? null : t + i.durationMs,
      sizeM: i.sizeM ?? d.sizeM, radiusM: i.radiusM ?? d.radiusM, rampS: i.rampS ?? d.rampS, intensity: i.intensity, riseMPerH: i.riseMPerH ?? 0.6,
    };
  }

  /** where an incident is, resolved when it starts (near a drone: ahead of it on its track) */
  private place(w: Where): Vec {
    const offset: Vec = w.offsetM ? { x: w.offsetM[0], y: w.offsetM[1] } : { x: 0, y: 0 };
    if ('lat' in w) return add(this.frame.toLocal(w), offset);
    if ('nearSensor' in w) return add(this.sensors.get(w.nearSensor)!.sim.s.position, w.offsetM ? offset : { x: 150, y: 100 });
    if ('nearDrone' in w) {
      const d = this.drones.get(w.nearDrone)!.sim;
      const dir = len(d.k.vel) > 1 ? fromBearing(d.k.course) : fromBearing(d.yaw);
      return add(add(d.k.pos, scale(dir, w.aheadM)), offset);
    }
    const cell = this.o.grids.cell(w.cell)!;
    const airspace = new Airspace(this.frame.ring(cell.feature), [], 50);
    return w.offsetM ? add(airspace.defaultHome(), offset) : randomPointIn(airspace, this.incidentRng);
  }
}

/** the plane of a county: centred on its cells' bounding box */
export function countyFrame(grids: GridIndex): LocalFrame {
  const probe = new LocalFrame({ lat: 0, lon: 0 });
  const b = bbox(grids.cells.flatMap((c) => probe.ring(c.feature)));
  return new LocalFrame(probe.toLatLon({ x: (b.minX + b.maxX) / 2, y: (b.minY + b.maxY) / 2 }));
}

/**
 * Where each sensor stands: as the scenario says, else a point of its cell at least 100 m in
 * from the edges, drawn from the sensor's own stream. The runner registers them there.
 */
export function sensorPositions(spec: WorldSpec, grids: GridIndex): Map<string, LatLon> {
  const frame = countyFrame(grids);
  const out = new Map<string, LatLon>();
  for (const s of spec.sensors) {
    const cell = grids.cell(s.cellId);
    if (!cell) throw new Error(`sensor ${s.id}: no grid cell "${s.cellId}"`);
    const p = s.position ?? frame.toLatLon(randomPointIn(new Airspace(frame.ring(cell.feature), [], 100), Rng.forEntity(spec.seed, `sensor-position/${s.id}`)));
    out.set(s.id, { lat: round(p.lat, 6), lon: round(p.lon, 6) });
  }
  return out;
}

/** a random allowed point of an airspace (its cell, away from the edges) */
function randomPointIn(a: Airspace, rng: Rng): Vec {
  const b = bbox(a.cell);
  for (let i = 0; i < 10_000; i++) {
    const p = { x: rng.range(b.minX, b.maxX), y: rng.range(b.minY, b.maxY) };
    if (a.allowed(p)) return p;
  }
  return a.defaultHome();
}
