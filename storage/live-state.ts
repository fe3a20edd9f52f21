import type { DetectionRecord, ReadingRecord, StoreRecord, TelemetryRecord } from '../core/records.js';
import type { DeviceKind } from '../core/topics.js';

export interface DroneState {
  id: string;
  /** newest telemetry by device time */
  telemetry?: TelemetryRecord;
  lastEvent?: DetectionRecord;
  /** from the device's status topic and last will; null while never reported */
  online: boolean | null;
  statusAt?: number;
  /** server time of the last accepted message */
  lastSeenAt?: number;
}

export interface SensorState {
  id: string;
  /** newest reading per metric, by device time */
  readings: Map<string, ReadingRecord>;
  online: boolean | null;
  statusAt?: number;
  lastSeenAt?: number;
}

/**
 * The last known state of every device, in memory: written by ingest once records are durable,
 * read by the api. Seeded from the store at start so a restart does not forget the fleet.
 */
export class LiveState {
  readonly drones = new Map<string, DroneState>();
  readonly sensors = new Map<string, SensorState>();

  apply(records: readonly StoreRecord[], receivedAt?: number): void {
    for (const r of records) {
      if (r.type === 'alert_transition') continue; // not device state
      if (r.type === 'reading') {
        const s = this.sensor(r.sensorId);
        const prev = s.readings.get(r.metric);
        if (!prev || r.ts >= prev.ts) s.readings.set(r.metric, r);
        if (receivedAt !== undefined) s.lastSeenAt = receivedAt;
        continue;
      }
      const d = this.drone(r.droneId);
      if (r.type === 'telemetry') {
        if (!d.telemetry || r.ts >= d.telemetry.ts) d.telemetry = r;
      } else if (!d.lastEvent || r.ts >= d.lastEvent.ts) d.lastEvent = r;
      if (receivedAt !== undefined) d.lastSeenAt = receivedAt;
    }
  }

  setStatus(kind: DeviceKind, id: string, online: boolean, at: number): void {
    const s = kind === 'drone' ? this.drone(id) : this.sensor(id);
    s.online = online;
    s.statusAt = at;
  }

  droneCell(id: string): string | undefined {
    return this.drones.get(id)?.telemetry?.gridId;
  }

  forget(kind: DeviceKind, id: string): void {
    (kind === 'drone' ? this.drones : this.sensors).delete(id);
  }

  private drone(id: string): DroneState {
    let d = this.drones.get(id);
    if (!d) this.drones.set(id, (d = { id, online: null }));
    return d;
  }

  private sensor(id: string): SensorState {
    let s = this.sensors.get(id);
    if (!s) this.sensors.set(id, (s = { id, readings: new Map(), online: null }));
    return s;
  }
}
