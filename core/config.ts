import { z } from 'zod';

/**
 * Every GRIDPATROL_* setting: its environment name, its schema and what it means. The one
 * definition behind validation at start, `--help` and the README's settings table. `secret`:
 * the value is never echoed (a bad one is reported by its length only).
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
  GRIDPATROL_INFLUX_TOKEN: { schema: optionalText, help: 'InfluxDB token (2.x/3.x) or user:password (1.x)', secret: true },
  GRIDPATROL_INFLUX_ORG: { schema: optionalText, help: 'InfluxDB 2.x organisation' },
  GRIDPATROL_INFLUX_API: {
    schema: z.enum(['auto', 'v1', 'v2']).default('auto'),
    help: 'write API: v1 (/write, InfluxDB 1.x), v2 (/api/v2/write, 1.8+, 2.x, 3.x), auto (by /ping version)',
  },
  GRIDPATROL_ADMIN_TOKEN: { schema: z.string().min(16, 'at least 16 characters').optional(), help: 'admin bearer token; unset: generated once, printed, kept in the data folder', secret: true },
  GRIDPATROL_GRIDS_FILE: { schema: optionalText, help: 'grid cells, a GeoJSON FeatureCollection; unset: the bundled sample county' },
  GRIDPATROL_RULES_FILE: { schema: optionalText, help: 'risk rules file; unset: bundled defaults' },
  GRIDPATROL_LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), help: 'log level' },
  GRIDPATROL_MAX_PAYLOAD_BYTES: { schema: positiveInt.default(65536), help: 'largest MQTT payload ingested; larger ones become dead letters' },
  GRIDPATROL_MAX_PACKET_BYTES: { schema: positiveInt.default(1048576), help: 'largest MQTT packet the broker reads; larger ones close the connection' },
  GRIDPATROL_MAX_MSGS_PER_SEC: { schema: positiveInt.default(200), help: 'messages per second one connection may publish; faster ones are held back to this rate, and the connection closed if they would wait over 10 s' },
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
  GRIDPATROL_WEBHOOK_SECRET: { schema: z.string().min(16, 'at least 16 characters').optional(), help: 'HMAC-SHA256 key signing webhook bodies (required with GRIDPATROL_WEBHOOK_URLS)', secret: true },
  GRIDPATROL_WEBHOOK_TIMEOUT_MS: { schema: positiveInt.default(5000), help: 'how long one webhook delivery attempt may take before it counts as failed and is retried (ms)' },
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
  GRIDPATROL_TLS_CERT_FILE: { schema: optionalText, help: 'PEM certificate (chain) file: with GRIDPATROL_TLS_KEY_FILE, MQTT over TLS on GRIDPATROL_MQTTS_PORT, HTTPS on the HTTP port and WSS on the WebSocket port' },
  GRIDPATROL_TLS_KEY_FILE: { schema: optionalText, help: 'PEM private key file of GRIDPATROL_TLS_CERT_FILE' },
  GRIDPATROL_MQTT_PROXY_PROTOCOL: {
    schema: z.enum(['off', 'on']).default('off'),
    help: 'on: every connection to the MQTT and MQTT-over-WebSocket ports starts with a PROXY protocol v1 or v2 header (HAProxy send-proxy/send-proxy-v2) naming the client, whose address then counts for login throttling and logs; a connection without one is closed. Only behind such a proxy: a client could send the header itself',
  },
  GRIDPATROL_MQTTS_PORT: { schema: port.default(8883), help: 'MQTT over TLS port (only with GRIDPATROL_TLS_CERT_FILE and GRIDPATROL_TLS_KEY_FILE)' },
  GRIDPATROL_ROLE: { schema: z.enum(['all', 'broker', 'ingest', 'api']).default('all'), help: 'what this process runs: all (one process), or broker, ingest or api of a deployment split over processes; `tsx main.ts <role>` wins over it' },
  GRIDPATROL_NODE_ID: {
    schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1 to 64 letters, digits, dots, dashes or underscores').optional(),
    help: "this process's name in a split deployment: its MQTT client ids and its spool folder <data>/nodes/<id>/spool; unset: the host name",
  },
  GRIDPATROL_BROKER_INGEST: { schema: z.enum(['none', 'local']).default('none'), help: 'role broker: local ingests what devices publish to this node in process (PUBACK after the spool append); none: a pure broker, ingest workers subscribe' },
  GRIDPATROL_MQTT_URL: { schema: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'expected an mqtt://, mqtts://, ws:// or wss:// URL' }).optional(), help: 'roles ingest and api: the broker to connect to, e.g. mqtt://broker:1883' },
  GRIDPATROL_INGEST_SHARE: {
    schema: z.string().regex(/^[^/+#$]+$/, 'expected a name without /, +, # or $').optional(),
    help: 'role ingest: MQTT 5 shared-subscription group; workers subscribe to $share/<group>/... (Mosquitto 2, EMQX); unset: a plain subscription (one worker per broker)',
  },
  GRIDPATROL_INGEST_CONNECTIONS: { schema: positiveInt.max(64, 'at most 64').default(1), help: 'role ingest with GRIDPATROL_INGEST_SHARE: group members (MQTT connections) this worker opens; each takes one message at a time, so several overlap their spool appends' },
  GRIDPATROL_REDIS_URL: {
    schema: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }).optional(),
    help: 'roles all and broker: keep MQTT sessions, retained messages and subscriptions in this Redis and relay messages through it, so several broker nodes act as one (redis://[:password@]host:6379[/db]); unset: in memory, one node',
  },
  GRIDPATROL_REDIS_HEARTBEAT_MS: {
    schema: positiveInt.default(5000),
    help: "with GRIDPATROL_REDIS_URL: how often a broker node tells the others it is alive (ms); a node silent for 3 beats is dead and another node publishes its devices' last wills",
  },
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
    if (s.GRIDPATROL_TLS_CERT_FILE && !s.GRIDPATROL_TLS_KEY_FILE)
      ctx.addIssue({ code: 'custom', path: ['GRIDPATROL_TLS_KEY_FILE'], message: 'required when GRIDPATROL_TLS_CERT_FILE is set' });
    if (s.GRIDPATROL_TLS_KEY_FILE && !s.GRIDPATROL_TLS_CERT_FILE)
      ctx.addIssue({ code: 'custom', path: ['GRIDPATROL_TLS_CERT_FILE'], message: 'required when GRIDPATROL_TLS_KEY_FILE is set' });
    if ((s.GRIDPATROL_ROLE === 'ingest' || s.GRIDPATROL_ROLE === 'api') && !s.GRIDPATROL_MQTT_URL)
      ctx.addIssue({ code: 'custom', path: ['GRIDPATROL_MQTT_URL'], message: `required for role ${s.GRIDPATROL_ROLE} (the broker it connects to)` });
    if (s.GRIDPATROL_INGEST_CONNECTIONS > 1 && !s.GRIDPATROL_INGEST_SHARE)
      ctx.addIssue({ code: 'custom', path: ['GRIDPATROL_INGEST_CONNECTIONS'], message: 'more than 1 needs GRIDPATROL_INGEST_SHARE (plain subscriptions would each get every message)' });
  });
export type Settings = z.infer<typeof SettingsSchema>;

/** The parsed, frozen configuration every component receives. Units are in the names. */
export interface Config {
  host: string;
  mqttPort: number;
  mqttWsPort: number;
  /** the MQTT and WebSocket listeners read a PROXY protocol header first (behind HAProxy in TCP mode) */
  mqttProxyProtocol: boolean;
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
  webhooks: { targets: string[]; secret?: string; timeoutMs?: number };
  dispatch: { minBatteryPct: number };
  /** the dashboard's optional map tiles; without them the grid cells are the base map */
  dashboard: { tileUrl?: string; tileAttribution?: string };
  /** certificate and key files (read and checked at build); unset: no TLS listener, plain HTTP and WebSocket */
  tls?: { certFile: string; keyFile: string; mqttsPort: number };
  /** which part of a deployment this process runs (README: Scaling past one machine) */
  role: 'all' | 'broker' | 'ingest' | 'api';
  /** the split deployment's settings; nodeId unset: the host name */
  cluster: { nodeId?: string; brokerIngest: 'none' | 'local'; mqttUrl?: string; ingestShare?: string; ingestConnections: number };
  /** the Redis shared by the broker nodes of a cluster; unset: the broker keeps its state in memory */
  redis?: { url: string; heartbeatMs: number };
}

export function toConfig(s: Settings, joinPath: (...p: string[]) => string): Config {
  return {
    host: s.GRIDPATROL_HOST,
    mqttPort: s.GRIDPATROL_MQTT_PORT,
    mqttWsPort: s.GRIDPATROL_MQTT_WS_PORT,
    mqttProxyProtocol: s.GRIDPATROL_MQTT_PROXY_PROTOCOL === 'on',
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
    webhooks: { targets: s.GRIDPATROL_WEBHOOK_URLS ?? [], secret: s.GRIDPATROL_WEBHOOK_SECRET, timeoutMs: s.GRIDPATROL_WEBHOOK_TIMEOUT_MS },
    dispatch: { minBatteryPct: s.GRIDPATROL_DISPATCH_MIN_BATTERY },
    dashboard: { tileUrl: s.GRIDPATROL_TILE_URL, tileAttribution: s.GRIDPATROL_TILE_ATTRIBUTION },
    role: s.GRIDPATROL_ROLE,
    cluster: { nodeId: s.GRIDPATROL_NODE_ID, brokerIngest: s.GRIDPATROL_BROKER_INGEST, mqttUrl: s.GRIDPATROL_MQTT_URL, ingestShare: s.GRIDPATROL_INGEST_SHARE, ingestConnections: s.GRIDPATROL_INGEST_CONNECTIONS },
    ...(s.GRIDPATROL_REDIS_URL ? { redis: { url: s.GRIDPATROL_REDIS_URL, heartbeatMs: s.GRIDPATROL_REDIS_HEARTBEAT_MS } } : {}),
    ...(s.GRIDPATROL_TLS_CERT_FILE && s.GRIDPATROL_TLS_KEY_FILE
      ? { tls: { certFile: s.GRIDPATROL_TLS_CERT_FILE, keyFile: s.GRIDPATROL_TLS_KEY_FILE, mqttsPort: s.GRIDPATROL_MQTTS_PORT } }
      : {}),
  };
}
