import { z } from 'zod';
import { DeviceTime } from './time.js';

/** Device ids appear in MQTT topics and InfluxDB tags: keep them topic-safe. */
export const DeviceId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-", starting with a letter or digit');
export type DeviceId = z.infer<typeof DeviceId>;

export const DroneMode = z.enum(['idle', 'takeoff', 'patrol', 'goto', 'rth', 'landing', 'landed', 'emergency']);
export type DroneMode = z.infer<typeof DroneMode>;

export const DetectionKind = z.enum(['fire', 'smoke', 'flood', 'crowd', 'intrusion', 'accident', 'dumping', 'other']);
export type DetectionKind = z.infer<typeof DetectionKind>;

const Latitude = z.number().min(-90).max(90).describe('WGS 84 degrees');
const Longitude = z.number().min(-180).max(180).describe('WGS 84 degrees');
const Seq = z.number().int().nonnegative().describe('increasing per device');

/** One drone telemetry object (CONTRACT: Telemetry (drone)). */
export const DroneTelemetry = z.object({
  ts: DeviceTime,
  seq: Seq,
  lat: Latitude,
  lon: Longitude,
  alt: z.number().min(-1000).max(20000).describe('metres above take-off point'),
  speed: z.number().min(0).max(200).describe('ground speed, m/s'),
  heading: z.number().min(0).max(360).describe('degrees'),
  battery: z.number().min(0).max(100).describe('percent'),
  mode: DroneMode,
  rssi: z.number().min(-200).max(0).describe('dBm'),
  sats: z.number().int().min(0).max(100),
  vs: z.number().min(-100).max(100).optional().describe('vertical speed, m/s'),
  voltage: z.number().min(0).max(100).optional().describe('volts'),
  patrolId: z.string().max(128).optional(),
  droneId: DeviceId.optional(),
});
export type DroneTelemetry = z.infer<typeof DroneTelemetry>;

/** One onboard detection event (CONTRACT: Detection event (drone)). */
export const DetectionEvent = z.object({
  ts: DeviceTime,
  kind: DetectionKind,
  confidence: z.number().min(0).max(1),
  lat: Latitude.optional(),
  lon: Longitude.optional(),
  imageUrl: z.url().max(2048).optional(),
  seq: Seq.optional(),
  droneId: DeviceId.optional(),
});
export type DetectionEvent = z.infer<typeof DetectionEvent>;

/** One sensor reading (CONTRACT: Reading (sensor)). */
export const SensorReading = z.object({
  ts: DeviceTime,
  seq: Seq.optional(),
  metric: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z][a-z0-9_]*$/, 'a lowercase name such as smoke, gas, water_level, temperature'),
  value: z.number().refine(Number.isFinite, 'a finite number'),
  unit: z.string().max(16).optional(),
  sensorId: DeviceId.optional(),
});
export type SensorReading = z.infer<typeof SensorReading>;

/** Retained status and last will, for drones and sensors alike. Extra keys are kept. */
export const DeviceStatus = z.looseObject({
  state: z.enum(['online', 'offline']),
  ts: DeviceTime.optional(),
});
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const DroneCommand = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('goto'), lat: Latitude, lon: Longitude, alt: z.number().optional(), reason: z.string().max(256).optional() }),
  z.object({ cmd: z.literal('rth'), reason: z.string().max(256).optional() }),
  z.object({ cmd: z.literal('land'), reason: z.string().max(256).optional() }),
  z.object({ cmd: z.literal('resume'), reason: z.string().max(256).optional() }),
]);
export type DroneCommand = z.infer<typeof DroneCommand>;
