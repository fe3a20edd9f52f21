import { z } from 'zod';
import { DetectionKind, DeviceId, DroneCommand } from '../../core/telemetry.js';
import { parseDurationMs } from '../../core/time.js';
import { FaultKind } from '../world/faults.js';

/**
 * The scenario file (YAML): fleet, sensors, seed, duration, wind, faults and a timeline. Names
 * are camelCase with units in them, as in the rules file; durations are written `30s`, `5m`.
 * Validated here; defaults and cross-references (cells, device ids) in resolve.ts.
 */

/**
 * A duration as in the rules file (`30s`, `5m`: core's Duration), or several added up, as a
 * timeline reads best: `2m30s`, `1h15m`. Parsed to milliseconds.
 */
export const Duration = z
  .string()
  .regex(/^(\d+(ms|s|m|h|d))+$/, 'a duration such as 30s, 5m, 2m30s, 4h')
  .transform((s) => (s.match(/\d+(ms|s|m|h|d)/g) ?? []).reduce((sum, part) => sum + parseDurationMs(part)!, 0));

const Qos = z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1' });
const LatLon = z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });
const OffsetM = z.tuple([z.number(), z.number()]).describe('metres east, north');
const Cells = z.union([z.literal('all'), z.array(z.string().min(1)).min(1)], { error: 'expected all, or a list of cell ids' });

export const SensorMetric = z.enum(['smoke', 'gas', 'water_level', 'temperature', 'humidity', 'pm25', 'noise']);

export const BatterySettings = z.strictObject({
  initialPct: z.number().min(0).max(100).optional(),
  hoverPctPerS: z.number().positive().max(5).optional(),
  perMetrePct: z.number().min(0).max(1).optional(),
  windPctPerSPerMs: z.number().min(0).max(1).optional(),
  marginPct: z.number().min(0).max(50).optional(),
  chargePctPerS: z.number().positive().max(100).optional(),
  resumePct: z.number().min(1).max(100).optional(),
});

/** Drone settings, each optional: `defaults.drone` and each drone entry may set any of them. */
export const DroneSettings = {
  altitudeM: z.number().min(10).max(500).optional(),
  cruiseMs: z.number().min(6, 'a patrol cruises at 6 to 15 m/s').max(15, 'a patrol cruises at 6 to 15 m/s').optional(),
  accelMs2: z.number().min(0.5).max(10).optional(),
  turnRateDegS: z.number().min(10).max(360).optional(),
  climbMs: z.number().min(0.5).max(10).optional(),
  descentMs: z.number().min(0.5).max(10).optional(),
  trackSpacingM: z.number().min(20).max(2000).optional().describe('default: 85 % of the camera swath at altitude'),
  cellMarginM: z.number().min(0).max(1000).optional(),
  gpsNoiseM: z.number().min(0).max(50).optional(),
  telemetryHz: z.number().positive().max(50).optional(),
  qos: Qos.optional(),
  hold: Duration.optional().describe('how long it holds over a goto target before resuming patrol'),
  cameraHfovDeg: z.number().min(5).max(170).optional(),
  cameraVfovDeg: z.number().min(5).max(170).optional(),
  start: z.enum(['home', 'airborne']).optional(),
  battery: BatterySettings.optional(),
};

export const DroneEntry = z
  .strictObject({
    id: DeviceId.optional(),
    cell: z.string().min(1).optional(),
    cells: Cells.optional().describe('a group: perCell drones in each cell, named idPrefix + cell id in lower case (+ -n)'),
    perCell: z.number().int().min(1).max(1000).optional(),
    idPrefix: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).optional(),
    home: LatLon.optional(),
    ...DroneSettings,
  })
  .superRefine((d, ctx) => {
    if (d.cells !== undefined && (d.id !== undefined || d.cell !== undefined || d.home !== undefined))
      ctx.addIssue({ code: 'custom', path: ['cells'], message: 'give either cells (a group) or id and cell (one drone), not both' });
    if (d.cells === undefined && d.perCell !== undefined) ctx.addIssue({ code: 'custom', path: ['perCell'], message: 'perCell goes with cells' });
    if (d.cells === undefined && (d.id === undefined || d.cell === undefined))
      ctx.addIssue({ code: 'custom', path: d.id === undefined ? ['id'] : ['cell'], message: 'a drone needs an id and a cell (or cells: for a group)' });
  });

export const SensorEntry = z
  .strictObject({
    id: DeviceId.optional().describe('only for one cell and one metric'),
    cell: z.string().min(1).optional(),
    cells: Cells.optional(),
    metrics: z.array(SensorMetric).min(1),
    idPrefix: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).optional(),
    interval: Duration.optional(),
    qos: Qos.optional(),
    position: LatLon.optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.cell === undefined) === (s.cells === undefined)) ctx.addIssue({ code: 'custom', path: ['cell'], message: 'give cell (one cell) or cells (several)' });
    if ((s.id !== undefined || s.position !== undefined) && (s.cells !== undefined || s.metrics.length !== 1))
      ctx.addIssue({ code: 'custom', path: [s.id !== undefined ? 'id' : 'position'], message: 'id and position name one sensor: one cell and one metric' });
  });

const Where = z
  .strictObject({
    lat: z.number().min(-90).max(90).optional(),
    lon: z.number().min(-180).max(180).optional(),
    cell: z.string().optional(),
    nearSensor: z.string().optional(),
    nearDrone: z.string().optional(),
    aheadM: z.number().min(0).max(20_000).optional().describe('with nearDrone: this far ahead on its track'),
    offsetM: OffsetM.optional(),
  })
  .superRefine((w, ctx) => {
    const given = [w.lat !== undefined || w.lon !== undefined, w.cell !== undefined, w.nearSensor !== undefined, w.nearDrone !== undefined].filter(Boolean).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of lat+lon, cell, nearSensor, nearDrone' });
    if ((w.lat === undefined) !== (w.lon === undefined)) ctx.addIssue({ code: 'custom', path: [w.lat === undefined ? 'lat' : 'lon'], message: 'lat and lon go together' });
    if (w.aheadM !== undefined && w.nearDrone === undefined) ctx.addIssue({ code: 'custom', path: ['aheadM'], message: 'aheadM goes with nearDrone' });
  });

export const IncidentEntry = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
  kind: DetectionKind,
  where: Where,
  duration: Duration.optional().describe('unset: until an endIncident or the end of the run'),
  sizeM: z.number().positive().max(10_000).optional().describe('what a camera sees of it: radius, m'),
  radiusM: z.number().positive().max(50_000).optional().describe('how far it reaches sensors, m'),
  rampS: z.number().min(0).max(86_400).optional(),
  riseMPerH: z.number().positive().max(20).optional().describe('floods: how fast the water rises at the centre'),
  intensity: z.number().min(0).max(1).optional(),
});

const FaultCounts = z.partialRecord(FaultKind, z.number().int().min(1).max(10_000));

const ACTIONS = ['incident', 'endIncident', 'lostLink', 'driftOut', 'batteryFault', 'sensorSilent', 'sensorStuck', 'burst', 'command', 'inject'] as const;

export const TimelineEntry = z
  .strictObject({
    at: Duration,
    incident: IncidentEntry.optional(),
    endIncident: z.string().optional(),
    lostLink: z.strictObject({ drone: z.string(), duration: Duration.optional(), buffer: z.boolean().optional().describe('send what it recorded meanwhile when the link is back') }).optional(),
    driftOut: z.strictObject({ drone: z.string(), distanceM: z.number().positive().max(20_000).optional(), hold: Duration.optional() }).optional(),
    batteryFault: z.strictObject({ drone: z.string(), dropPct: z.number().min(0).max(100).optional(), drainFactor: z.number().min(1).max(20).optional() }).optional(),
    sensorSilent: z.strictObject({ sensor: z.string(), duration: Duration.optional() }).optional(),
    sensorStuck: z.strictObject({ sensor: z.string(), duration: Duration.optional() }).optional(),
    burst: z.strictObject({ drones: z.union([z.literal('all'), z.array(z.string()).min(1)], { error: 'expected all, or a list of drone ids' }).optional(), telemetryHz: z.number().positive().max(50), duration: Duration }).optional(),
    command: z.strictObject({ drone: z.string(), send: DroneCommand }).optional(),
    inject: FaultCounts.optional(),
  })
  .superRefine((e, ctx) => {
    const given = ACTIONS.filter((a) => e[a] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `a timeline entry does one thing: give exactly one of ${ACTIONS.join(', ')} (got ${given.length ? given.join(', ') : 'none'})` });
  });

export const FaultSpec = z
  .strictObject({
    count: z.number().int().min(0).max(100_000).optional().describe('this many, spread evenly over the run'),
    every: Duration.optional(),
    rate: z.number().min(0).max(1).optional().describe('probability after each valid message'),
    from: Duration.optional().describe('not before this time into the run'),
    devices: z.array(z.string()).min(1).optional(),
    bytes: z.number().int().positive().max(16 * 1024 * 1024).optional().describe('oversize: payload size'),
    skew: Duration.optional().describe('clock_skew: how far ahead'),
    age: Duration.optional().describe('late: how old'),
    connections: z.number().int().min(1).max(1000).optional().describe('reconnect_storm: connections per storm'),
  })
  .superRefine((f, ctx) => {
    const given = [f.count, f.every, f.rate].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of count, every, rate' });
  });

export const Scenario = z.strictObject({
  name: z.string().min(1).max(100),
  description: z.string().max(2000).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  duration: Duration,
  start: z.iso.datetime({ offset: true }).optional().describe('simulated start; unset: now'),
  grids: z.string().optional().describe('grid file, relative to this file; unset: the bundled sample county'),
  server: z
    .strictObject({ maxPayloadBytes: z.number().int().positive().optional(), maxFuture: Duration.optional(), maxAge: Duration.optional() })
    .optional()
    .describe("GridPatrol's limits the faults are made to break (default: its defaults)"),
  wind: z.strictObject({ speedMs: z.number().min(0).max(30).optional(), fromDeg: z.number().min(0).max(360).optional(), gustMs: z.number().min(0).max(15).optional() }).optional(),
  defaults: z.strictObject({ drone: z.strictObject(DroneSettings).optional(), sensor: z.strictObject({ interval: Duration.optional(), qos: Qos.optional() }).optional() }).optional(),
  drones: z.array(DroneEntry).optional(),
  sensors: z.array(SensorEntry).optional(),
  faults: z.partialRecord(FaultKind, FaultSpec).optional(),
  timeline: z.array(TimelineEntry).optional(),
});
export type Scenario = z.infer<typeof Scenario>;
export type DroneEntry = z.infer<typeof DroneEntry>;
export type TimelineEntry = z.infer<typeof TimelineEntry>;
