import { join } from 'node:path';
import { createAlertTables } from '../../alerts/schema.js';
import type { ReadingRecord, StoreRecord, TelemetryRecord } from '../../core/records.js';
import type { LoadDevice } from '../../simulators/load.js';
import type { TelemetryStore } from '../../storage/telemetry-store.js';
import { DeviceRegistry } from '../../storage/devices.js';
import { openMetadataDb } from '../../storage/metadata-db.js';

/**
 * Registers `n` drones straight into a data folder's metadata database, before GridPatrol starts
 * on it: one through the registry (a real salted hash), the others with that same hash and so
 * the same password. Registering 10,000 over the API would take 10,000 HTTP requests and
 * measure registration, not what the benchmark is about.
 */
export async function seedDrones(dataDir: string, n: number, prefix: string): Promise<LoadDevice[]> {
  const db = openMetadataDb(join(dataDir, 'gridpatrol.db'));
  try {
    const registry = new DeviceRegistry(db);
    const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`);
    const { password } = await registry.register({ id: ids[0]!, kind: 'drone' });
    const hash = (db.prepare('SELECT password_hash FROM devices WHERE id = ?').get(ids[0]) as { password_hash: string }).password_hash;
    const insert = db.prepare("INSERT INTO devices (id, kind, grid_id, name, disabled, created_at, password_hash) VALUES (?, 'drone', NULL, NULL, 0, ?, ?)");
    const now = Date.now();
    db.transaction(() => {
      for (const id of ids.slice(1)) insert.run(id, now, hash);
    })();
    return ids.map((id) => ({ id, password }));
  } finally {
    db.close();
  }
}

/** The bundled county's cells (assets/sample-county.geojson), for seeded alerts. */
const CELLS = ['A', 'B', 'C', 'D', 'E', 'F'].flatMap((row) => [1, 2, 3, 4, 5, 6].map((col) => `LY-${row}${col}`));
const RULES = [
  ['drone-battery-low', 'threshold', 'drone'], ['drone-left-cell', 'geofence', 'drone'], ['drone-lost-link', 'lost_link', 'drone'],
  ['detect-fire', 'detection', 'drone'], ['sensor-smoke', 'threshold', 'sensor'], ['river-high', 'threshold', 'sensor'],
] as const;

/**
 * `n` alerts straight into the data folder's alert tables (alerts/schema.ts), opened over the
 * `days` before `now`: about 1 % open, 1 % acknowledged, the rest resolved; unresolved ones each
 * with their own entity (one unresolved alert per rule and entity is what the schema allows).
 */
export function seedAlerts(dataDir: string, n: number, now: number, days = 30): void {
  const db = openMetadataDb(join(dataDir, 'gridpatrol.db'));
  try {
    createAlertTables(db);
    const insert = db.prepare(`INSERT INTO alerts (id, fingerprint, rule_id, rule_kind, severity, state, entity_kind, entity_id, grid_id,
      officer_json, description, values_json, lat, lon, opened_at, last_seen_at, count, acknowledged_at, acknowledged_by, resolved_at,
      resolved_by, response_due_at, disposal_due_at, escalation_level, requires_disposal, silenced, previous_alert_id, evidence_json)
      VALUES (@id, @fingerprint, @ruleId, @ruleKind, @severity, @state, @entityKind, @entityId, @gridId, NULL, @description, @values,
      @lat, @lon, @openedAt, @lastSeenAt, 1, @ackAt, @ackBy, @resolvedAt, @resolvedBy, @responseDueAt, @disposalDueAt, 0, 0, 0, NULL, '[]')`);
    const span = days * 86_400_000;
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const [ruleId, ruleKind, entityKind] = RULES[i % RULES.length]!;
        const state = i % 100 === 0 ? 'open' : i % 100 === 1 ? 'acknowledged' : 'resolved';
        const entityId = `${entityKind}-${state === 'resolved' ? i % 500 : `u${i}`}`;
        const openedAt = now - span + Math.floor((i * span) / n);
        const severity = i % 3 === 0 ? 'critical' : 'warning';
        insert.run({
          id: `al-${String(i).padStart(7, '0')}`, fingerprint: `${ruleId}/${entityKind}/${entityId}`, ruleId, ruleKind, severity, state, entityKind, entityId,
          gridId: CELLS[i % CELLS.length], description: `${entityId}: seeded by the benchmark`, values: JSON.stringify({ value: i % 97 }),
          lat: 33.8 + (i % 100) / 1000, lon: 113.9 + (i % 77) / 1000, openedAt, lastSeenAt: openedAt + 60_000,
          ackAt: state === 'open' ? null : openedAt + 120_000, ackBy: state === 'open' ? null : 'officer',
          resolvedAt: state === 'resolved' ? openedAt + 600_000 : null, resolvedBy: state === 'resolved' ? 'officer' : null,
          responseDueAt: openedAt + (severity === 'critical' ? 300_000 : 900_000), disposalDueAt: openedAt + (severity === 'critical' ? 14_400_000 : 86_400_000),
        });
      }
    })();
  } finally {
    db.close();
  }
}

export const TRACK_HZ = 10;

/** A 10 Hz track of `hours` from `start`: a drone circling over the county once an hour. */
export function* trackRecords(droneId: string, start: number, hours: number): Generator<TelemetryRecord> {
  const n = hours * 3600 * TRACK_HZ;
  for (let i = 0; i < n; i++) {
    const angle = (2 * Math.PI * i) / (3600 * TRACK_HZ);
    yield {
      type: 'telemetry', droneId, gridId: 'LY-C3', ts: start + i * (1000 / TRACK_HZ), seq: i,
      lat: 33.84 + 0.01 * Math.sin(angle), lon: 113.92 + 0.012 * Math.cos(angle), alt: 80, speed: 9, heading: 90, battery: 90, mode: 'patrol', rssi: -60, sats: 12,
    };
  }
}

/** A day of readings, one a minute, of one metric. */
export function* dayOfReadings(sensorId: string, start: number): Generator<ReadingRecord> {
  for (let m = 0; m < 1440; m++) yield { type: 'reading', sensorId, gridId: 'LY-C3', ts: start + m * 60_000, seq: m, metric: 'water_level', value: (m % 300) / 100, unit: 'm' };
}

/** Writes records through a store adapter (the writer's own path, without MQTT and the spool) in batches. */
export async function writeThrough(store: TelemetryStore, records: Iterable<StoreRecord>, batchSize = 5000): Promise<number> {
  let batch: StoreRecord[] = [];
  let n = 0;
  const flush = async () => {
    const r = await store.write(batch);
    if (r.status !== 'accepted') throw new Error(`seeding the ${store.kind} store: ${r.status}: ${r.reason}`);
    n += batch.length;
    batch = [];
  };
  for (const r of records) {
    batch.push(r);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length) await flush();
  return n;
}
