import type { GridIndex } from '../../core/grids.js';
import { DeviceId } from '../../core/telemetry.js';
import type { BatterySettings } from '../world/battery.js';
import type { FaultKind } from '../world/faults.js';
import type { SensorMetric } from '../world/incidents.js';
import type { IncidentAction, Where, WorldAction, WorldDrone, WorldFault, WorldSensor, WorldSpec } from '../world/types.js';
import type { FaultSpec, Scenario, TimelineEntry } from './schema.js';
import type { z } from 'zod';

export const DRONE_DEFAULTS = {
  altitudeM: 100, cruiseMs: 12, accelMs2: 2.5, turnRateDegS: 60, climbMs: 3, descentMs: 2, cellMarginM: 40, gpsNoiseM: 1.5,
  telemetryHz: 1, qos: 1 as 0 | 1, holdMs: 180_000, cameraHfovDeg: 70, cameraVfovDeg: 55, start: 'home' as 'home' | 'airborne',
};
/** about 34 minutes of flight at 12 m/s, 28 minutes on the charger from empty */
export const BATTERY_DEFAULTS: BatterySettings = {
  initialPct: 100, hoverPctPerS: 0.035, perMetrePct: 0.0012, windPctPerSPerMs: 0.002, marginPct: 10, chargePctPerS: 0.06, resumePct: 95,
};
export const SENSOR_DEFAULTS = { intervalMs: 30_000, qos: 1 as 0 | 1 };
export const WIND_DEFAULTS = { speedMs: 3, fromDeg: 270, gustMs: 1 };
/** GridPatrol's own defaults (GRIDPATROL_MAX_PAYLOAD_BYTES, _MAX_FUTURE_MS, _MAX_AGE_MS) */
export const SERVER_DEFAULTS = { maxPayloadBytes: 65_536, maxFutureMs: 24 * 3_600_000, maxAgeMs: 7 * 24 * 3_600_000 };

export interface ResolveOptions {
  /** put before every device id, so that a scenario can run again against the same GridPatrol */
  prefix?: string;
  seed?: number;
  durationMs?: number;
  /** replace or add fault sources (from the command line) */
  faults?: Partial<Record<FaultKind, z.infer<typeof FaultSpec>>>;
}

export interface ResolvedScenario {
  spec: WorldSpec;
  description?: string;
  /** the file's `start`, epoch ms */
  startMs?: number;
  /** what to register: every device with its cell */
  devices: Array<{ id: string; kind: 'drone' | 'sensor'; gridId: string; lat?: number; lon?: number }>;
}

export interface PathIssue {
  path: PropertyKey[];
  message: string;
}

/** default track spacing: 85 % of the camera's swath, so neighbouring legs overlap */
export function defaultTrackSpacingM(altitudeM: number, hfovDeg: number): number {
  return Math.round(0.85 * 2 * altitudeM * Math.tan(((hfovDeg / 2) * Math.PI) / 180));
}

/**
 * A validated scenario with every default filled in and every reference checked (cells exist in
 * the grid, device and incident ids are known and unique). Problems come back with their paths,
 * for the caller to put on lines.
 */
export function resolveScenario(s: Scenario, grids: GridIndex, o: ResolveOptions = {}): { ok: true; scenario: ResolvedScenario } | { ok: false; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const prefix = o.prefix ?? '';
  const cellIds = grids.cells.map((c) => c.id);
  const checkCell = (id: string, path: PropertyKey[]) => {
    if (!grids.cell(id)) issues.push({ path, message: `no grid cell "${id}" (cells: ${cellIds.slice(0, 4).join(', ')} … ${cellIds.length} in all)` });
  };
  const expandCells = (cells: 'all' | string[], path: PropertyKey[]) => {
    if (cells === 'all') return cellIds;
    cells.forEach((c, i) => checkCell(c, [...path, i]));
    return cells;
  };
  const ids = new Map<string, PropertyKey[]>();
  const claim = (id: string, path: PropertyKey[]) => {
    const full = prefix + id;
    if (!DeviceId.safeParse(full).success) issues.push({ path, message: `device id "${full}" is not allowed: letters, digits, ".", "_", "-", at most 64` });
    if (ids.has(id)) issues.push({ path, message: `device id "${id}" is used twice` });
    ids.set(id, path);
  };

  const dd = s.defaults?.drone ?? {};
  const drones: WorldDrone[] = [];
  (s.drones ?? []).forEach((d, i) => {
    const cells = d.cells !== undefined ? expandCells(d.cells, ['drones', i, 'cells']) : [d.cell!];
    if (d.cell !== undefined) checkCell(d.cell, ['drones', i, 'cell']);
    const perCell = d.perCell ?? 1;
    for (const cell of cells)
      for (let n = 1; n <= perCell; n++) {
        const id = d.id ?? `${d.idPrefix ?? 'drone-'}${cell.toLowerCase()}${perCell > 1 ? `-${n}` : ''}`;
        claim(id, ['drones', i, d.id ? 'id' : 'cells']);
        const { perCell: _n, ...entry } = d;
        const v = { ...DRONE_DEFAULTS, ...stripUndefined(dd), ...stripUndefined(entry) };
        const altitudeM = v.altitudeM;
        drones.push({
          id: prefix + id, cellId: cell, qos: v.qos, altitudeM, cruiseMs: v.cruiseMs, accelMs2: v.accelMs2, turnRateDegS: v.turnRateDegS,
          climbMs: v.climbMs, descentMs: v.descentMs, cellMarginM: v.cellMarginM, gpsNoiseM: v.gpsNoiseM, telemetryHz: v.telemetryHz,
          trackSpacingM: v.trackSpacingM ?? defaultTrackSpacingM(altitudeM, v.cameraHfovDeg),
          holdMs: (d.hold ?? dd.hold ?? DRONE_DEFAULTS.holdMs) as number,
          camera: { hfovDeg: v.cameraHfovDeg, vfovDeg: v.cameraVfovDeg },
          battery: { ...BATTERY_DEFAULTS, ...stripUndefined(dd.battery ?? {}), ...stripUndefined(d.battery ?? {}) },
          start: v.start,
          ...(d.home && { home: d.home }),
        });
      }
  });

  const sd = s.defaults?.sensor ?? {};
  const sensors: WorldSensor[] = [];
  (s.sensors ?? []).forEach((e, i) => {
    const cells = e.cells !== undefined ? expandCells(e.cells, ['sensors', i, 'cells']) : [e.cell!];
    if (e.cell !== undefined) checkCell(e.cell, ['sensors', i, 'cell']);
    for (const cell of cells)
      for (const metric of e.metrics) {
        const id = e.id ?? `${e.idPrefix ?? 's-'}${cell.toLowerCase()}-${metric}`;
        claim(id, ['sensors', i, e.id ? 'id' : 'metrics']);
        sensors.push({
          id: prefix + id, cellId: cell, metric: metric as SensorMetric,
          intervalMs: (e.interval ?? sd.interval ?? SENSOR_DEFAULTS.intervalMs) as number,
          qos: e.qos ?? sd.qos ?? SENSOR_DEFAULTS.qos, ...(e.position && { position: e.position }),
        });
      }
  });

  const droneIds = new Set(drones.map((d) => d.id.slice(prefix.length)));
  const sensorIds = new Set(sensors.map((x) => x.id.slice(prefix.length)));
  const needDrone = (id: string, path: PropertyKey[]) => {
    if (!droneIds.has(id)) issues.push({ path, message: `no drone "${id}" in this scenario${droneIds.size ? ` (drones: ${[...droneIds].slice(0, 5).join(', ')}${droneIds.size > 5 ? ' …' : ''})` : ''}` });
    return prefix + id;
  };
  const needSensor = (id: string, path: PropertyKey[]) => {
    if (!sensorIds.has(id)) issues.push({ path, message: `no sensor "${id}" in this scenario${sensorIds.size ? ` (sensors: ${[...sensorIds].slice(0, 5).join(', ')}${sensorIds.size > 5 ? ' …' : ''})` : ''}` });
    return prefix + id;
  };

  const needDevice = (id: string, path: PropertyKey[]) => {
    if (!droneIds.has(id) && !sensorIds.has(id)) issues.push({ path, message: `no device "${id}" in this scenario` });
    return prefix + id;
  };

  const incidentIds = new Set<string>();
  const timeline: WorldAction[] = [];
  const entries = (s.timeline ?? []).map((e, i) => ({ e, i })).sort((a, b) => (a.e.at as number) - (b.e.at as number));
  for (const { e, i } of entries) {
    const a = resolveAction(e, ['timeline', i], { needDrone, needSensor, checkCell, incidentIds, issues, all: [...droneIds].map((d) => prefix + d) });
    if (a) timeline.push(a);
    if ((e.at as number) > (s.duration as number) && o.durationMs === undefined)
      issues.push({ path: ['timeline', i, 'at'], message: `at ${fmt(e.at as number)} is after the end of the run (duration ${fmt(s.duration as number)})` });
  }

  const faults: WorldFault[] = [];
  const specs = { ...(s.faults ?? {}), ...(o.faults ?? {}) };
  for (const [kind, f] of Object.entries(specs) as Array<[FaultKind, z.infer<typeof FaultSpec>]>) {
    faults.push({
      kind, fromMs: (f.from as number | undefined) ?? 0,
      ...(f.count !== undefined && { count: f.count }), ...(f.every !== undefined && { everyMs: f.every as number }), ...(f.rate !== undefined && { rate: f.rate }),
      ...(f.devices && { devices: f.devices.map((d, j) => needDevice(d, ['faults', kind, 'devices', j])) }),
      tuning: {
        ...(f.bytes !== undefined && { bytes: f.bytes }), ...(f.skew !== undefined && { skewMs: f.skew as number }),
        ...(f.age !== undefined && { ageMs: f.age as number }), ...(f.connections !== undefined && { connections: f.connections }),
      },
    });
  }

  if (drones.length + sensors.length === 0) issues.push({ path: [], message: 'the scenario has no drones and no sensors' });
  if (issues.length) return { ok: false, issues };
  const server = {
    maxPayloadBytes: s.server?.maxPayloadBytes ?? SERVER_DEFAULTS.maxPayloadBytes,
    maxFutureMs: (s.server?.maxFuture as number | undefined) ?? SERVER_DEFAULTS.maxFutureMs,
    maxAgeMs: (s.server?.maxAge as number | undefined) ?? SERVER_DEFAULTS.maxAgeMs,
  };
  return {
    ok: true,
    scenario: {
      spec: {
        name: s.name, seed: o.seed ?? s.seed ?? 1, durationMs: o.durationMs ?? (s.duration as number), server,
        wind: { ...WIND_DEFAULTS, ...stripUndefined(s.wind ?? {}) }, drones, sensors, timeline, faults,
      },
      ...(s.description && { description: s.description }),
      ...(s.start && { startMs: Date.parse(s.start) }),
      devices: [
        ...drones.map((d) => ({ id: d.id, kind: 'drone' as const, gridId: d.cellId })),
        ...sensors.map((x) => ({ id: x.id, kind: 'sensor' as const, gridId: x.cellId, ...(x.position && { lat: x.position.lat, lon: x.position.lon }) })),
      ],
    },
  };
}

interface RefCheck {
  needDrone: (id: string, path: PropertyKey[]) => string;
  needSensor: (id: string, path: PropertyKey[]) => string;
  checkCell: (id: string, path: PropertyKey[]) => void;
  incidentIds: Set<string>;
  issues: PathIssue[];
  all: string[];
}

function resolveAction(e: TimelineEntry, path: PropertyKey[], r: RefCheck): WorldAction | null {
  const atMs = e.at as number;
  if (e.incident) {
    const inc = e.incident;
    const id = inc.id ?? `${inc.kind}-${r.incidentIds.size + 1}`;
    if (r.incidentIds.has(id)) r.issues.push({ path: [...path, 'incident', 'id'], message: `incident id "${id}" is used twice` });
    r.incidentIds.add(id);
    const w = inc.where;
    const wp = [...path, 'incident', 'where'];
    const offset = w.offsetM ? { offsetM: w.offsetM } : {};
    let where: Where;
    if (w.lat !== undefined && w.lon !== undefined) where = { lat: w.lat, lon: w.lon, ...offset };
    else if (w.cell !== undefined) {
      r.checkCell(w.cell, [...wp, 'cell']);
      where = { cell: w.cell, ...offset };
    } else if (w.nearSensor !== undefined) where = { nearSensor: r.needSensor(w.nearSensor, [...wp, 'nearSensor']), ...offset };
    else where = { nearDrone: r.needDrone(w.nearDrone!, [...wp, 'nearDrone']), aheadM: w.aheadM ?? 400, ...offset };
    const incident: IncidentAction = {
      id, kind: inc.kind, where, durationMs: (inc.duration as number | undefined) ?? null, intensity: inc.intensity ?? 1,
      ...(inc.sizeM !== undefined && { sizeM: inc.sizeM }), ...(inc.radiusM !== undefined && { radiusM: inc.radiusM }),
      ...(inc.rampS !== undefined && { rampS: inc.rampS }), ...(inc.riseMPerH !== undefined && { riseMPerH: inc.riseMPerH }),
    };
    return { atMs, type: 'incident', incident };
  }
  if (e.endIncident !== undefined) {
    if (!r.incidentIds.has(e.endIncident)) r.issues.push({ path: [...path, 'endIncident'], message: `no incident "${e.endIncident}" starts before this entry` });
    return { atMs, type: 'end_incident', id: e.endIncident };
  }
  if (e.lostLink)
    return { atMs, type: 'lost_link', drone: r.needDrone(e.lostLink.drone, [...path, 'lostLink', 'drone']), durationMs: (e.lostLink.duration as number | undefined) ?? null, buffer: e.lostLink.buffer ?? false };
  if (e.driftOut)
    return { atMs, type: 'drift_out', drone: r.needDrone(e.driftOut.drone, [...path, 'driftOut', 'drone']), distanceM: e.driftOut.distanceM ?? 500, holdMs: (e.driftOut.hold as number | undefined) ?? 60_000 };
  if (e.batteryFault)
    return { atMs, type: 'battery_fault', drone: r.needDrone(e.batteryFault.drone, [...path, 'batteryFault', 'drone']), dropPct: e.batteryFault.dropPct ?? 0, drainFactor: e.batteryFault.drainFactor ?? 1 };
  if (e.sensorSilent) return { atMs, type: 'sensor_silent', sensor: r.needSensor(e.sensorSilent.sensor, [...path, 'sensorSilent', 'sensor']), durationMs: (e.sensorSilent.duration as number | undefined) ?? null };
  if (e.sensorStuck) return { atMs, type: 'sensor_stuck', sensor: r.needSensor(e.sensorStuck.sensor, [...path, 'sensorStuck', 'sensor']), durationMs: (e.sensorStuck.duration as number | undefined) ?? null };
  if (e.burst) {
    const list = e.burst.drones ?? 'all';
    const drones = list === 'all' ? r.all : list.map((d, j) => r.needDrone(d, [...path, 'burst', 'drones', j]));
    return { atMs, type: 'burst', drones, telemetryHz: e.burst.telemetryHz, durationMs: e.burst.duration as number };
  }
  if (e.command) return { atMs, type: 'command', drone: r.needDrone(e.command.drone, [...path, 'command', 'drone']), command: e.command.send };
  if (e.inject) return { atMs, type: 'inject', faults: e.inject };
  return null;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function fmt(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}
