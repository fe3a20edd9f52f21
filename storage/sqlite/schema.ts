/**
 * Tables mirror the InfluxDB measurements of the contract. The primary key is the point's
 * identity in InfluxDB (device, its distinguishing tag, time), so INSERT OR REPLACE overwrites
 * exactly as InfluxDB overwrites a point with the same series and time. WITHOUT ROWID clusters
 * rows by key: a device's time range is one contiguous B-tree range.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS drone_telemetry (
  drone_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  grid_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  alt REAL NOT NULL,
  speed REAL NOT NULL,
  heading REAL NOT NULL,
  battery REAL NOT NULL,
  rssi REAL NOT NULL,
  sats REAL NOT NULL,
  vs REAL,
  voltage REAL,
  mode TEXT NOT NULL,
  patrol_id TEXT,
  PRIMARY KEY (drone_id, ts)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS drone_event (
  drone_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  ts INTEGER NOT NULL,
  grid_id TEXT NOT NULL,
  confidence REAL NOT NULL,
  lat REAL,
  lon REAL,
  image_url TEXT,
  PRIMARY KEY (drone_id, kind, ts)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sensor_reading (
  sensor_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  ts INTEGER NOT NULL,
  grid_id TEXT NOT NULL,
  value REAL NOT NULL,
  seq INTEGER,
  unit TEXT,
  PRIMARY KEY (sensor_id, metric, ts)
) WITHOUT ROWID;

-- key = the point's identity in InfluxDB (tags and time); the alert service gives every
-- transition its own millisecond, so no two transitions share a key (core/records.ts)
CREATE TABLE IF NOT EXISTS alert_transition (
  grid_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  rule TEXT NOT NULL,
  ts INTEGER NOT NULL,
  alert_id TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  state TEXT NOT NULL,
  actor TEXT NOT NULL,
  note TEXT,
  PRIMARY KEY (grid_id, severity, rule, ts)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS drone_event_by_time ON drone_event (drone_id, ts);
CREATE INDEX IF NOT EXISTS alert_transition_by_alert ON alert_transition (alert_id, ts);
`;

export const INSERT_TELEMETRY = `INSERT OR REPLACE INTO drone_telemetry
  (drone_id, ts, grid_id, seq, lat, lon, alt, speed, heading, battery, rssi, sats, vs, voltage, mode, patrol_id)
  VALUES (@droneId, @ts, @gridId, @seq, @lat, @lon, @alt, @speed, @heading, @battery, @rssi, @sats, @vs, @voltage, @mode, @patrolId)`;

export const INSERT_EVENT = `INSERT OR REPLACE INTO drone_event
  (drone_id, kind, ts, grid_id, confidence, lat, lon, image_url)
  VALUES (@droneId, @kind, @ts, @gridId, @confidence, @lat, @lon, @imageUrl)`;

export const INSERT_READING = `INSERT OR REPLACE INTO sensor_reading
  (sensor_id, metric, ts, grid_id, value, seq, unit)
  VALUES (@sensorId, @metric, @ts, @gridId, @value, @seq, @unit)`;

export const INSERT_ALERT_TRANSITION = `INSERT OR REPLACE INTO alert_transition
  (grid_id, severity, rule, ts, alert_id, entity_id, state, actor, note)
  VALUES (@gridId, @severity, @rule, @ts, @alertId, @entityId, @state, @actor, @note)`;

/**
 * Newest row per drone by a loose index scan: the recursive CTE seeks from one drone_id to the
 * next on the primary key, then MAX(ts) is one more seek, so the cost grows with the number of
 * drones, not of rows (a GROUP BY would read the whole table).
 */
export const LATEST_TELEMETRY = `
WITH RECURSIVE ids(id) AS (
  SELECT MIN(drone_id) FROM drone_telemetry
  UNION ALL
  SELECT (SELECT drone_id FROM drone_telemetry WHERE drone_id > ids.id ORDER BY drone_id LIMIT 1)
  FROM ids WHERE ids.id IS NOT NULL
)
SELECT t.* FROM ids CROSS JOIN drone_telemetry t -- CROSS JOIN: SQLite keeps this join order
  ON t.drone_id = ids.id AND t.ts = (SELECT MAX(ts) FROM drone_telemetry WHERE drone_id = ids.id)
ORDER BY t.drone_id`;

/**
 * As LATEST_TELEMETRY over (sensor_id, metric) pairs: the step goes to the next metric of the
 * same sensor, else to the first metric of the next sensor; every subquery is one key seek.
 */
export const LATEST_READINGS = `
WITH RECURSIVE k(s, m) AS (
  SELECT * FROM (SELECT sensor_id, metric FROM sensor_reading ORDER BY sensor_id, metric LIMIT 1)
  UNION ALL
  SELECT
    COALESCE(
      (SELECT sensor_id FROM sensor_reading WHERE sensor_id = k.s AND metric > k.m LIMIT 1),
      (SELECT sensor_id FROM sensor_reading WHERE sensor_id > k.s ORDER BY sensor_id LIMIT 1)),
    COALESCE(
      (SELECT metric FROM sensor_reading WHERE sensor_id = k.s AND metric > k.m ORDER BY metric LIMIT 1),
      (SELECT metric FROM sensor_reading WHERE sensor_id =
        (SELECT sensor_id FROM sensor_reading WHERE sensor_id > k.s ORDER BY sensor_id LIMIT 1)
        ORDER BY metric LIMIT 1))
  FROM k WHERE k.s IS NOT NULL
)
SELECT r.* FROM k CROSS JOIN sensor_reading r
  ON r.sensor_id = k.s AND r.metric = k.m
  AND r.ts = (SELECT MAX(ts) FROM sensor_reading WHERE sensor_id = k.s AND metric = k.m)
ORDER BY r.sensor_id, r.metric`;

const TRACK_COLUMNS = 'ts, lat, lon, alt, speed, heading, battery, rssi, mode, grid_id';

export const TRACK_RAW = `SELECT ${TRACK_COLUMNS} FROM drone_telemetry
  WHERE drone_id = @droneId AND ts BETWEEN @from AND @to ORDER BY ts LIMIT @limit`;

/**
 * Downsampled track: the range is cut into `limit` equal buckets and the last point of each
 * non-empty bucket is kept, each a real, whole row. The store asks once per bucket (see
 * SqliteStore.track): one seek into the (drone_id, ts) key each, where a GROUP BY over the
 * range would read and sort every point in it.
 */
export const TRACK_LAST_IN = `SELECT ${TRACK_COLUMNS} FROM drone_telemetry
  WHERE drone_id = @droneId AND ts >= @lo AND ts < @hi ORDER BY ts DESC LIMIT 1`;

/** Window start = floor(ts / every) * every, as InfluxDB's GROUP BY time() aligns to the epoch. */
const WINDOWS = (metricFilter: string) => `SELECT ts - (ts % @everyMs) AS window_start, metric,
    AVG(value) AS mean, MIN(value) AS min, MAX(value) AS max, COUNT(*) AS count
  FROM sensor_reading
  WHERE sensor_id = @sensorId AND ${metricFilter} AND ts BETWEEN @from AND @to
  GROUP BY metric, window_start
  ORDER BY window_start, metric`;

/**
 * All metrics of a sensor: the metrics are listed first (loose index scan), so that each one's
 * time range is a key range seek instead of a scan over the sensor's whole history.
 */
export const READINGS_ALL = `WITH RECURSIVE m(name) AS (
  SELECT MIN(metric) FROM sensor_reading WHERE sensor_id = @sensorId
  UNION ALL
  SELECT (SELECT metric FROM sensor_reading WHERE sensor_id = @sensorId AND metric > m.name ORDER BY metric LIMIT 1)
  FROM m WHERE m.name IS NOT NULL
)
${WINDOWS('metric IN (SELECT name FROM m)')}`;
export const READINGS_ONE = WINDOWS('metric = @metric');

export const EVENTS = `SELECT * FROM drone_event
  WHERE drone_id = @droneId AND ts BETWEEN @from AND @to ORDER BY ts DESC, kind LIMIT @limit`;
