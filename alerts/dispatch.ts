import type { Alert, Evidence } from '../core/alerts.js';
import { distanceM, type LatLon } from '../core/geo.js';
import type { GridIndex } from '../core/grids.js';
import type { StoreRecord } from '../core/records.js';
import type { DroneCommand } from '../core/telemetry.js';
import type { Logger } from '../lib/logger.js';
import type { DeviceRegistry } from '../storage/devices.js';
import type { LiveState } from '../storage/live-state.js';

/** Sensor metrics whose critical alarm a drone's camera can confirm (smoke/fire, flood). */
const VERIFIABLE_METRICS = new Set(['smoke', 'gas', 'temperature', 'pm25', 'water_level']);
/** Within this distance of the target the drone has arrived. */
const ARRIVAL_M = 60;
/** A detection this close to the target counts as the alarm's confirmation. */
const CONFIRM_M = 400;
/** A dispatch that has not been confirmed by then is given up (the drone is free again). */
const DISPATCH_TIMEOUT_MS = 30 * 60_000;
const UNAVAILABLE_MODES = new Set(['rth', 'landing', 'emergency']);

export interface DispatchDeps {
  addEvidence(alertId: string, evidence: Evidence): void;
  live: LiveState;
  devices: DeviceRegistry;
  grids: GridIndex;
  sendCommand(droneId: string, cmd: DroneCommand): void;
  minBatteryPct: number;
  now: () => number;
  log: Logger;
}

interface Mission {
  alertId: string;
  droneId: string;
  target: LatLon;
  startedAt: number;
  arrived: boolean;
}

/**
 * Verification dispatch: a critical sensor alarm of smoke, fire or flood sends the nearest
 * available drone (online, battery at least minBatteryPct, not on another mission) a `goto` to
 * the sensor; the dispatch, the arrival and any detection there become the alert's evidence.
 */
export class Dispatcher {
  private readonly missions = new Map<string, Mission>(); // by drone id

  constructor(private readonly d: DispatchDeps) {}

  /** Called for every alert transition. */
  onAlert(alert: Alert, transitionKind: string): void {
    if (transitionKind === 'resolve' || transitionKind === 'auto_resolve') {
      for (const [drone, m] of this.missions) if (m.alertId === alert.id) this.missions.delete(drone);
      return;
    }
    if (transitionKind !== 'open' || alert.entityKind !== 'sensor' || alert.severity !== 'critical' || alert.silenced) return;
    const metric = String(alert.values.metric ?? '');
    if (metric && !VERIFIABLE_METRICS.has(metric)) return;
    const target = this.sensorPosition(alert);
    if (!target) return this.evidence(alert.id, 'note', `no position known for sensor ${alert.entityId}; no drone sent`);
    const droneId = this.nearestAvailable(target);
    if (!droneId) return this.evidence(alert.id, 'note', 'no drone available to verify (online, battery, not on another mission)');
    this.missions.set(droneId, { alertId: alert.id, droneId, target, startedAt: this.d.now(), arrived: false });
    this.d.sendCommand(droneId, { cmd: 'goto', lat: target.lat, lon: target.lon, reason: `verify alert ${alert.id}: ${alert.description}`.slice(0, 256) });
    const dist = Math.round(distanceM(this.d.live.drones.get(droneId)!.telemetry!, target));
    this.evidence(alert.id, 'dispatch', `${droneId} sent to verify, ${dist} m away`, { droneId, lat: target.lat, lon: target.lon, distanceM: dist });
    this.d.log.info({ alertId: alert.id, droneId, distanceM: dist }, 'drone dispatched to verify a sensor alarm');
  }

  /** Called with every batch of accepted records: arrivals and detections of drones on a mission. */
  observe(records: readonly StoreRecord[]): void {
    if (this.missions.size === 0) return;
    for (const r of records) {
      if (r.type !== 'telemetry' && r.type !== 'event') continue;
      const m = this.missions.get(r.droneId);
      if (!m) continue;
      if (this.d.now() - m.startedAt > DISPATCH_TIMEOUT_MS) {
        this.missions.delete(r.droneId);
        this.evidence(m.alertId, 'note', `${r.droneId} did not confirm within ${DISPATCH_TIMEOUT_MS / 60_000} min; mission ended`);
        continue;
      }
      if (r.type === 'telemetry' && !m.arrived && distanceM(r, m.target) <= ARRIVAL_M) {
        m.arrived = true;
        this.evidence(m.alertId, 'arrival', `${r.droneId} arrived at the sensor`, { droneId: r.droneId, lat: r.lat, lon: r.lon });
      } else if (r.type === 'event') {
        const where = r.lat !== undefined && r.lon !== undefined ? { lat: r.lat, lon: r.lon } : this.d.live.drones.get(r.droneId)?.telemetry;
        if (where && distanceM(where, m.target) <= CONFIRM_M) {
          this.evidence(m.alertId, 'detection', `${r.droneId} saw ${r.kind} (confidence ${r.confidence})`, { droneId: r.droneId, kind: r.kind, confidence: r.confidence, ...(r.imageUrl && { imageUrl: r.imageUrl }) });
          this.missions.delete(r.droneId);
        }
      }
    }
  }

  activeMissions(): Mission[] {
    return [...this.missions.values()];
  }

  private sensorPosition(alert: Alert): LatLon | null {
    const dev = this.d.devices.get(alert.entityId);
    if (dev?.lat !== undefined && dev.lon !== undefined) return { lat: dev.lat, lon: dev.lon };
    if (alert.position) return alert.position;
    const cell = this.d.grids.cell(alert.gridId);
    if (!cell) return null;
    const g = cell.feature.geometry;
    const ring = (g.type === 'Polygon' ? g.coordinates[0] : g.coordinates[0]![0])!;
    const pts = ring.slice(0, -1);
    return { lon: pts.reduce((s, p) => s + p[0]!, 0) / pts.length, lat: pts.reduce((s, p) => s + p[1]!, 0) / pts.length };
  }

  private nearestAvailable(target: LatLon): string | null {
    let best: { id: string; dist: number } | null = null;
    for (const s of this.d.live.drones.values()) {
      const t = s.telemetry;
      if (!t || s.online === false || this.missions.has(s.id)) continue;
      if (t.battery < this.d.minBatteryPct || UNAVAILABLE_MODES.has(t.mode)) continue;
      const dist = distanceM(t, target);
      if (!best || dist < best.dist) best = { id: s.id, dist };
    }
    return best?.id ?? null;
  }

  private evidence(alertId: string, kind: Evidence['kind'], summary: string, data?: Record<string, unknown>): void {
    this.d.addEvidence(alertId, { at: new Date(this.d.now()).toISOString(), kind, summary, ...(data && { data }) });
  }
}
