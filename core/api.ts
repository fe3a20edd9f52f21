import { z } from 'zod';
import { Officer } from './grids.js';
import { DetectionKind, DeviceId, DroneMode } from './telemetry.js';
import { QueryTime } from './time.js';

/** Schemas of the HTTP API (CONTRACT: HTTP API). Routes, OpenAPI and clients share them. */

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

/** Every list answers `{items, next}`; `next` is the cursor for the following page or null. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next: z.string().nullable() });
}

export const Cursor = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

export const DeviceKindSchema = z.enum(['drone', 'sensor']);

export const DeviceRegistration = z.object({
  id: DeviceId,
  kind: DeviceKindSchema,
  gridId: z.string().min(1).max(64).optional(),
  name: z.string().min(1).max(200).optional(),
  lat: z.number().min(-90).max(90).optional().describe('where a fixed sensor stands, WGS 84 (with lon)'),
  lon: z.number().min(-180).max(180).optional(),
}).refine((d) => (d.lat === undefined) === (d.lon === undefined), { message: 'give lat and lon together', path: ['lat'] });
export type DeviceRegistration = z.infer<typeof DeviceRegistration>;

export const DeviceView = z.object({
  id: z.string(),
  kind: DeviceKindSchema,
  gridId: z.string().nullable(),
  name: z.string().nullable(),
  lat: z.number().nullable(),
  lon: z.number().nullable(),
  disabled: z.boolean(),
  createdAt: z.iso.datetime(),
});

export const RegisteredDevice = DeviceView.extend({
  password: z.string().describe('the MQTT password; shown only in this answer'),
  mqtt: z.object({ username: z.string(), topics: z.record(z.string(), z.string()) }),
});

export const DeviceIdParams = z.object({ id: DeviceId });

export const Position = z.object({
  ts: z.iso.datetime(),
  lat: z.number(),
  lon: z.number(),
  alt: z.number(),
  speed: z.number(),
  heading: z.number(),
  battery: z.number(),
  rssi: z.number().describe('link, dBm'),
  mode: DroneMode,
  gridId: z.string(),
});

export const DroneView = z.object({
  id: z.string(),
  name: z.string().nullable(),
  registered: z.boolean(),
  online: z.boolean().nullable().describe('from the status topic and last will; null when never reported'),
  gridId: z.string().nullable().describe('the cell of the last position'),
  assignedGridId: z.string().nullable(),
  lastSeenAt: z.iso.datetime().nullable(),
  last: Position.extend({ seq: z.number().int(), rssi: z.number(), sats: z.number(), patrolId: z.string().optional() }).nullable(),
});

export const TrackQuery = z.object({
  from: QueryTime.optional().describe('default: 1 hour before `to`'),
  to: QueryTime.optional().describe('default: now'),
  limit: z.coerce.number().int().min(2).max(10000).default(1000),
});

export const TrackPointView = Position;

export const SensorView = z.object({
  id: z.string(),
  name: z.string().nullable(),
  registered: z.boolean(),
  online: z.boolean().nullable(),
  gridId: z.string().nullable(),
  lat: z.number().nullable().describe('where the sensor stands, as registered; null when not given'),
  lon: z.number().nullable(),
  lastSeenAt: z.iso.datetime().nullable(),
  readings: z.array(z.object({ metric: z.string(), value: z.number(), unit: z.string().nullable(), ts: z.iso.datetime() })),
});

export const ReadingsQuery = z.object({
  from: QueryTime.optional().describe('default: 24 hours before `to`'),
  to: QueryTime.optional().describe('default: now'),
  every: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 5m, 1h')
    .default('5m')
    .describe('window length'),
  metric: z.string().max(64).optional(),
});

export const ReadingWindowView = z.object({
  ts: z.iso.datetime().describe('window start'),
  metric: z.string(),
  mean: z.number(),
  min: z.number(),
  max: z.number(),
  count: z.number().int(),
});

export const DeadLetterStageSchema = z.enum(['decode', 'validate', 'normalize', 'enrich', 'store']);

export const DeadLettersQuery = Cursor.extend({
  device: z.string().max(64).optional(),
  stage: DeadLetterStageSchema.optional(),
  from: QueryTime.optional(),
  to: QueryTime.optional(),
});

export const DeadLetterView = z.object({
  id: z.number().int(),
  deviceId: z.string(),
  topic: z.string(),
  stage: DeadLetterStageSchema,
  code: z.string(),
  reason: z.string(),
  payload: z.string(),
  truncated: z.boolean(),
  receivedAt: z.iso.datetime(),
});

export const GridsView = z.object({
  type: z.literal('FeatureCollection'),
  name: z.string().optional(),
  features: z.array(
    z.object({
      type: z.literal('Feature'),
      id: z.string(),
      properties: z.looseObject({ id: z.string(), kind: z.enum(['cell', 'no_fly']), name: z.string(), officer: Officer.optional() }),
      geometry: z.object({ type: z.enum(['Polygon', 'MultiPolygon']), coordinates: z.array(z.any()) }),
    }),
  ),
});

export const Health = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })).optional() });

export { DetectionKind };

export const RoleSchema = z.enum(['operator', 'officer', 'admin']);

export const TokenCreate = z
  .object({
    name: z.string().min(1).max(100).describe('who or what uses it, shown in audit trails'),
    role: RoleSchema,
    grids: z.array(z.string().min(1).max(64)).min(1).optional().describe('officers: limit to these cells'),
    expiresAt: QueryTime.optional().describe('ISO 8601 or epoch ms; unset: never'),
  });

export const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  grids: z.array(z.string()).nullable(),
  expiresAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
});

export const IssuedToken = TokenView.extend({ token: z.string().describe('the bearer token; shown only in this answer') });

/** What the dashboard needs to know after sign-in: who the token is, where live data comes from, the map tiles. */
export const InfoView = z.object({
  name: z.literal('GridPatrol'),
  you: z.object({ name: z.string(), role: RoleSchema, grids: z.array(z.string()).nullable().describe('officers limited to these cells; null: all') }),
  mqttWs: z.object({
    port: z.number().int().nullable().describe('MQTT over WebSocket port on this host; null while not listening'),
    path: z.string(),
  }),
  tiles: z.object({ url: z.string(), attribution: z.string().nullable() }).nullable().describe('optional map tiles (GRIDPATROL_TILE_URL); null: the grid cells are the base map'),
});
export type InfoView = z.infer<typeof InfoView>;
