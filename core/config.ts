import { z } from 'zod';

/**
 * Every GRIDPATROL_* setting: its environment name, its schema and what it means. The one
 * definition behind validation at start, `--help` and the README's settings table.
 */
const port = z.coerce.number({ error: 'expected a whole number from 0 to 65535' }).int('expected a whole number from 0 to 65535').min(0).max(65535, 'expected a whole number from 0 to 65535');
const positiveInt = z.coerce.number({ error: 'expected a whole number above 0' }).int('expected a whole number above 0').positive('expected a whole number above 0');
const optionalText = z.string().min(1).optional();

export const SETTINGS = {
  GRIDPATROL_MQTT_PORT: { schema: port.default(1883), help: 'MQTT over TCP port' },
  GRIDPATROL_MQTT_WS_PORT: { schema: port.default(8083), help: 'MQTT over WebSocket port (path /mqtt)' },
  GRIDPATROL_HTTP_PORT: { schema: port.default(8080), help: 'HTTP API, docs and dashboard port' },
  GRIDPATROL_HOST: { schema: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')], { error: 'expected an IPv4 or IPv6 address, or localhost' }).default('127.0.0.1'), help: 'bind address' },
  GRIDPATROL_DATA_DIR: { schema: z.string().min(1).default('./data'), help: 'data folder (embedded store, spool, keys)' },
  GRIDPATROL_INFLUX_URL: { schema: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(), help: 'InfluxDB URL; unset: embedded SQLite store' },
  GRIDPATROL_INFLUX_DB: { schema: z.string().min(1).default('gridpatrol'), help: 'InfluxDB 1.x database or 2.x/3.x bucket' },
  GRIDPATROL_INFLUX_TOKEN: { schema: optionalText, help: 'InfluxDB token (2.x/3.x) or user:password (1.x)' },
  GRIDPATROL_INFLUX_ORG: { schema: optionalText, help: 'InfluxDB 2.x organisation' },
  GRIDPATROL_INFLUX_API: {
    schema: z.enum(['auto', 'v1', 'v2']).default('auto'),
    help: 'write API: v1 (/write, InfluxDB 1.x), v2 (/api/v2/write, 1.8+, 2.x, 3.x), auto (by /ping version)',
  },
  GRIDPATROL_ADMIN_TOKEN: { schema: z.string().min(16, 'at least 16 characters').optional(), help: 'admin bearer token; unset: generated once, printed, kept in the data folder' },
  GRIDPATROL_GRIDS_FILE: { schema: optionalText, help: 'grid cells, a GeoJSON FeatureCollection; unset: the bundled sample county' },
  GRIDPATROL_RULES_FILE: { schema: optionalText, help: 'risk rules file; unset: bundled defaults' },
  GRIDPATROL_LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), help: 'log level' },
  GRIDPATROL_MAX_PAYLOAD_BYTES: { schema: positiveInt.default(65536), help: 'largest MQTT payload ingested; larger ones become dead letters' },
  GRIDPATROL_MAX_PACKET_BYTES: { schema: positiveInt.default(1048576), help: 'largest MQTT packet the broker reads; larger ones close the connection' },
  GRIDPATROL_MAX_MSGS_PER_SEC: { schema: positiveInt.default(200), help: 'messages per second one connection may publish before it is disconnected' },
  GRIDPATROL_MAX_CONNECTIONS: { schema: positiveInt.default(20000), help: 'most MQTT connections at once' },
  GRIDPATROL_MQTT_AUTH_MAX_FAILURES: { schema: positiveInt.default(20), help: 'failed MQTT logins from one address (within the lockout time) before it is locked out; from a quarter of it on, refusals are slowed' },
  GRIDPATROL_MQTT_AUTH_LOCKOUT_MS: { schema: positiveInt.default(300_000), help: 'how long an address is refused every MQTT login after too many failures (ms)' },
  GRIDPATROL_DEAD_LETTERS_MAX_ROWS: { schema: positiveInt.default(100_000), help: 'dead letters kept; older ones are rotated out and counted in gridpatrol_dead_letters_rotated_total' },
  GRIDPATROL_MAX_FUTURE_MS: { schema: positiveInt.default(24 * 3600_000), help: 'device time this far ahead of the server is refused (ms)' },
  GRIDPATROL_MAX_AGE_MS: { schema: positiveInt.default(7 * 24 * 3600_000), help: 'device time older than this is refused (ms)' },
  GRIDPATROL_SPOOL_MAX_BYTES: { schema: positiveInt.default(1024 * 1024 * 1024), help: 'spool disk budget; at the limit publishes are refused (publisher disconnected)' },
  GRIDPATROL_SPOOL_FSYNC: { schema: z.enum(['always', 'never']).default('never'), help: 'fsync each spool append (survives power loss) or rely on the OS (survives process kill)' },
  GRIDPATROL_WEBHOOK_URLS: {
    schema: z
      .string()
      .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
      .pipe(z.array(z.url({ protocol: /^https?$/, error: 'expected comma-separated http:// or https:// URLs' })))
      .optional(),
    help: 'webhook targets for alert transitions, comma-separated',
  },
  GRIDPATROL_WEBHOOK_SECRET: { schema: z.string().min(16, 'at least 16 characters').optional(), help: 'HMAC-SHA256 key signing webhook bodies (required with GRIDPATROL_WEBHOOK_URLS)' },
  GRIDPATROL_DISPATCH_MIN_BATTERY: { schema: z.coerce.number({ error: 'expected a percentage' }).min(0).max(100).default(40), help: 'least battery percent of a drone sent to verify a sensor alarm' },
  GRIDPATROL_BATCH_SIZE: { schema: positiveInt.default(5000), help: 'records per store write' },
  GRIDPATROL_FLUSH_INTERVAL_MS: { schema: positiveInt.default(200), help: 'longest wait before a partial batch is written (ms)' },
  GRIDPATROL_TILE_URL: {
    schema: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'expected an http:// or https:// URL template')
      .refine((u) => ['{z}', '{x}', '{y}'].every((p) => u.includes(p)), 'expected the {z}, {x} and {y} placeholders, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png')
      .optional(),
    help: 'map tile URL template for the dashboard ({z}/{x}/{y}, optional {s}); unset: the grid cells are the base map, nothing is fetched from the internet',
  },
  GRIDPATROL_TILE_ATTRIBUTION: { schema: optionalText, help: "attribution shown with the map tiles (the tile provider's terms usually require one)" },
} as const;

export type SettingName = keyof typeof SETTINGS;

export const SettingsSchema = z
  .object(
    Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, v.schema])) as {
      [K in SettingName]: (typeof SETTINGS)[K]['schema'];
    },
  )
  .superRefine((s, ctx) => {
    if (s.GRIDPATROL_WEBHOOK_URLS?.length && !s.GRIDPATROL_WEBHOOK_SECRET)
      ctx.addIssue({ code: 'custom', path: ['GRIDPATROL_WEBHOOK_SECRET'], message: 'required when GRIDPATROL_WEBHOOK_URLS is set (receivers verify the signature with it)' });
  });
export type Settings = z.infer<typeof SettingsSchema>;

/** The parsed, frozen configuration every component receives. Units are in the names. */
export interface Config {
  host: string;
  mqttPort: number;
  mqttWsPort: number;
  httpPort: number;
  dataDir: string;
  adminToken?: string;
  gridsFile?: string;
  rulesFile?: string;
  logLevel: Settings['GRIDPATROL_LOG_LEVEL'];
  store: { type: 'sqlite'; path: string } | { type: 'influx'; url: string; database: string; token?: string; org?: string; api: 'auto' | 'v1' | 'v2' };
  limits: { maxPayloadBytes: number; maxPacketBytes: number; maxMessagesPerSec: number; maxConnections: number };
  /** MQTT login throttling per remote address */
  mqttAuth: { maxFailures: number; lockoutMs: number };
  deadLetters: { maxRows: number };
  time: { maxFutureMs: number; maxAgeMs: number };
  spool: { maxBytes: number; fsync: boolean };
  writer: { batchSize: number; flushIntervalMs: number };
  webhooks: { targets: string[]; secret?: string };
  dispatch: { minBatteryPct: number };
  /** the dashboard's optional map tiles; without them the grid cells are the base map */
  dashboard: { tileUrl?: string; tileAttribution?: string };
}

export function toConfig(s: Settings, joinPath: (...p: string[]) => string): Config {
  return {
    host: s.GRIDPATROL_HOST,
    mqttPort: s.GRIDPATROL_MQTT_PORT,
    mqttWsPort: s.GRIDPATROL_MQTT_WS_PORT,
    httpPort: s.GRIDPATROL_HTTP_PORT,
    dataDir: s.GRIDPATROL_DATA_DIR,
    adminToken: s.GRIDPATROL_ADMIN_TOKEN,
    gridsFile: s.GRIDPATROL_GRIDS_FILE,
    rulesFile: s.GRIDPATROL_RULES_FILE,
    logLevel: s.GRIDPATROL_LOG_LEVEL,
    store: s.GRIDPATROL_INFLUX_URL
      ? {
          type: 'influx',
          url: s.GRIDPATROL_INFLUX_URL,
          database: s.GRIDPATROL_INFLUX_DB,
          token: s.GRIDPATROL_INFLUX_TOKEN,
          org: s.GRIDPATROL_INFLUX_ORG,
          api: s.GRIDPATROL_INFLUX_API,
        }
      : { type: 'sqlite', path: joinPath(s.GRIDPATROL_DATA_DIR, 'telemetry.db') },
    limits: {
      maxPayloadBytes: s.GRIDPATROL_MAX_PAYLOAD_BYTES,
      maxPacketBytes: s.GRIDPATROL_MAX_PACKET_BYTES,
      maxMessagesPerSec: s.GRIDPATROL_MAX_MSGS_PER_SEC,
      maxConnections: s.GRIDPATROL_MAX_CONNECTIONS,
    },
    mqttAuth: { maxFailures: s.GRIDPATROL_MQTT_AUTH_MAX_FAILURES, lockoutMs: s.GRIDPATROL_MQTT_AUTH_LOCKOUT_MS },
    deadLetters: { maxRows: s.GRIDPATROL_DEAD_LETTERS_MAX_ROWS },
    time: { maxFutureMs: s.GRIDPATROL_MAX_FUTURE_MS, maxAgeMs: s.GRIDPATROL_MAX_AGE_MS },
    spool: { maxBytes: s.GRIDPATROL_SPOOL_MAX_BYTES, fsync: s.GRIDPATROL_SPOOL_FSYNC === 'always' },
    writer: { batchSize: s.GRIDPATROL_BATCH_SIZE, flushIntervalMs: s.GRIDPATROL_FLUSH_INTERVAL_MS },
    webhooks: { targets: s.GRIDPATROL_WEBHOOK_URLS ?? [], secret: s.GRIDPATROL_WEBHOOK_SECRET },
    dispatch: { minBatteryPct: s.GRIDPATROL_DISPATCH_MIN_BATTERY },
    dashboard: { tileUrl: s.GRIDPATROL_TILE_URL, tileAttribution: s.GRIDPATROL_TILE_ATTRIBUTION },
  };
}
