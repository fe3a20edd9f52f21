import { frame } from '../frame.js';
import type { DroneView, SensorView } from '../types.js';
import type { ReadingMsg, TelemetryMsg } from './device-feed.js';

/** Positions kept per drone for its trail on the map (at 1 Hz: the last half minute). */
export const TRAIL_POINTS = 30;

export interface Drone {
  id: string;
  name: string | null;
  /** newest telemetry by device time */
  t: TelemetryMsg | null;
  online: boolean | null;
  /** the cell of the last position the API reported */
  gridId: string | null;
  /** [lat, lon], oldest first */
  trail: Array<[number, number]>;
}

export interface Sensor {
  id: string;
  name: string | null;
  gridId: string | null;
  lat: number | null;
  lon: number | null;
  online: boolean | null;
  readings: Map<string, { value: number; ts: number; unit: string | null }>;
}


export type FleetListener = (drones: ReadonlySet<string>, sensors: ReadonlySet<string>) => void;

/**
 * The last known state of every drone and sensor in the page: seeded from the API, kept current by
 * the MQTT feed. Changes are collected and handed to listeners once per animation frame.
 */
export class Fleet {
  readonly drones = new Map<string, Drone>();
  readonly sensors = new Map<string, Sensor>();
  private dirtyDrones = new Set<string>();
  private dirtySensors = new Set<string>();
  private readonly listeners: FleetListener[] = [];
  /** telemetry messages received over MQTT (for the status line and the test) */
  received = 0;

  onChange(fn: FleetListener): void {
    this.listeners.push(fn);
  }

  /** Merges an API snapshot: it never moves a drone back to an older position than a live message gave. */
  seed(drones: DroneView[], sensors: SensorView[]): void {
    for (const v of drones) {
      const d = this.drone(v.id);
      d.name = v.name;
      d.online = v.online;
      d.gridId = v.gridId ?? v.assignedGridId;
      const l = v.last;
      if (l) {
        const ts = Date.parse(l.ts);
        if (!d.t || ts > d.t.ts) {
          d.t = { ts, lat: l.lat, lon: l.lon, alt: l.alt, speed: l.speed, heading: l.heading, battery: l.battery, mode: l.mode, rssi: l.rssi };
          if (d.trail.length === 0) d.trail.push([l.lat, l.lon]);
        }
      }
      this.dirtyDrones.add(v.id);
    }
    for (const v of sensors) {
      const s = this.sensor(v.id);
      Object.assign(s, { name: v.name, gridId: v.gridId, lat: v.lat, lon: v.lon, online: v.online });
      for (const r of v.readings) s.readings.set(r.metric, { value: r.value, ts: Date.parse(r.ts), unit: r.unit });
      this.dirtySensors.add(v.id);
    }
    this.changed();
  }

  telemetry(id: string, msgs: TelemetryMsg[]): void {
    const d = this.drone(id);
    this.received += msgs.length;
    for (const m of msgs.length > 1 ? [...msgs].sort((a, b) => a.ts - b.ts) : msgs) {
      if (d.t && m.ts <= d.t.ts) continue;
      d.t = m;
      d.trail.push([m.lat, m.lon]);
      if (d.trail.length > TRAIL_POINTS) d.trail.shift();
    }
    if (d.online === null) d.online = true;
    this.dirtyDrones.add(id);
    this.changed();
  }

  readings(id: string, msgs: ReadingMsg[]): void {
    const s = this.sensor(id);
    for (const m of msgs) {
      const prev = s.readings.get(m.metric);
      if (!prev || m.ts >= prev.ts) s.readings.set(m.metric, { value: m.value, ts: m.ts, unit: m.unit ?? prev?.unit ?? null });
    }
    if (s.online === null) s.online = true;
    this.dirtySensors.add(id);
    this.changed();
  }

  status(kind: 'drone' | 'sensor', id: string, online: boolean): void {
    if (kind === 'drone') {
      this.drone(id).online = online;
      this.dirtyDrones.add(id);
    } else {
      this.sensor(id).online = online;
      this.dirtySensors.add(id);
    }
    this.changed();
  }

  /** Marks every device changed (e.g. the alerts that colour sensors changed). */
  touchAll(): void {
    for (const id of this.drones.keys()) this.dirtyDrones.add(id);
    for (const id of this.sensors.keys()) this.dirtySensors.add(id);
    this.changed();
  }

  private changed(): void {
    frame.schedule('fleet', () => {
      const drones = this.dirtyDrones;
      const sensors = this.dirtySensors;
      this.dirtyDrones = new Set();
      this.dirtySensors = new Set();
      for (const fn of this.listeners) fn(drones, sensors);
    });
  }

  private drone(id: string): Drone {
    let d = this.drones.get(id);
    if (!d) this.drones.set(id, (d = { id, name: null, t: null, online: null, gridId: null, trail: [] }));
    return d;
  }

  private sensor(id: string): Sensor {
    let s = this.sensors.get(id);
    if (!s) this.sensors.set(id, (s = { id, name: null, gridId: null, lat: null, lon: null, online: null, readings: new Map() }));
    return s;
  }
}
